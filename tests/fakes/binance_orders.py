"""Binance spot order endpoints for the emulator: place, query, cancel, open orders, my trades.

Registered on a `BinanceEmulator` through its route registry (signed routes: API key and
HMAC are checked by the emulator). Orders match against the book set with
`set_order_book`, walking levels; a GTC limit remainder rests and fills when
`trade_at(symbol, price)` crosses it. Balances live in `emulator.balances` as
`asset -> (free, locked)` strings, as the account endpoint serves them. Errors use
Binance's codes and messages: a client id reused while its order is open (Binance accepts
it again once that order is done) and insufficient balance are -2010,
filter failures -1013, unknown orders -2013 (query) and -2011 (cancel).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tests.fakes.binance_server import ApiError, BinanceEmulator, Request

ZERO = Decimal(0)
COMMISSION = Decimal("0.001")  # 10 bps, charged in the quote asset
DUPLICATE = ApiError(400, -2010, "Duplicate order sent.")
NO_BALANCE = ApiError(400, -2010, "Account has insufficient balance for requested action.")


_OPEN = ("NEW", "PARTIALLY_FILLED")


def _text(value: Decimal) -> str:
    return f"{value:.8f}"


@dataclass
class EmulatedOrder:
    """One order as the emulated exchange holds it."""

    order_id: int
    client_order_id: str
    symbol: str
    side: str
    type: str
    time_in_force: str
    quantity: Decimal
    price: Decimal | None
    time: int
    status: str = "NEW"
    executed: Decimal = ZERO
    quote: Decimal = ZERO
    fills: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self, full: bool = False) -> dict[str, Any]:
        body = {
            "symbol": self.symbol, "orderId": self.order_id, "orderListId": -1,
            "clientOrderId": self.client_order_id, "price": _text(self.price or ZERO),
            "origQty": _text(self.quantity), "executedQty": _text(self.executed),
            "cummulativeQuoteQty": _text(self.quote), "status": self.status,
            "timeInForce": self.time_in_force, "type": self.type, "side": self.side,
            "workingTime": self.time, "selfTradePreventionMode": "EXPIRE_MAKER",
        }  # fmt: skip
        if full:
            body["transactTime"] = self.time
            body["fills"] = [
                {"price": f["price"], "qty": f["qty"], "commission": f["commission"],
                 "commissionAsset": f["commissionAsset"], "tradeId": f["id"]}
                for f in self.fills
            ]  # fmt: skip
        else:
            body.update(stopPrice="0.00000000", icebergQty="0.00000000", time=self.time,
                        updateTime=self.time, isWorking=True, origQuoteOrderQty="0.00000000")  # fmt: skip
        return body


class BinanceOrders:
    """The order book side of the emulator; `install()` registers the endpoints."""

    def __init__(self, emulator: BinanceEmulator) -> None:
        self.em = emulator
        self.orders: dict[int, EmulatedOrder] = {}
        self.by_client_id: dict[str, int] = {}
        self.trades: list[dict[str, Any]] = []
        self._reserved: dict[int, tuple[str, Decimal]] = {}
        self._order_ids = itertools.count(1000)
        self._trade_ids = itertools.count(50_000)

    def install(self) -> BinanceOrders:
        route = self.em.route
        route("POST", "/api/v3/order", self._create, signed=True)
        route("GET", "/api/v3/order", self._query, signed=True)
        route("DELETE", "/api/v3/order", self._cancel, signed=True)
        route("GET", "/api/v3/openOrders", self._open_orders, signed=True)
        route("GET", "/api/v3/myTrades", self._my_trades, signed=True)
        return self

    # -- balances ----------------------------------------------------------------------

    def _balance(self, asset: str) -> tuple[Decimal, Decimal]:
        free, locked = self.em.balances.get(asset, ("0", "0"))
        return Decimal(free), Decimal(locked)

    def _move(self, asset: str, free: Decimal = ZERO, locked: Decimal = ZERO) -> None:
        f, lk = self._balance(asset)
        self.em.balances[asset] = (_text(f + free), _text(lk + locked))

    # -- endpoints ---------------------------------------------------------------------

    def _create(self, request: Request) -> dict[str, Any]:
        symbol = self.em._known_symbol(request)
        spec = self.em.symbols[symbol]
        side, order_type = request.require("side"), request.require("type")
        quantity = Decimal(request.require("quantity"))
        client_id = request.param("newClientOrderId") or f"emu-{next(self._order_ids)}"
        previous = self.orders.get(self.by_client_id.get(client_id, -1))
        if previous is not None and previous.status in _OPEN:
            raise DUPLICATE
        price = Decimal(request.param("price")) if request.param("price") else None
        tif = request.param("timeInForce") or ("GTC" if order_type == "LIMIT" else "")
        if order_type in ("LIMIT", "LIMIT_MAKER") and price is None:
            raise ApiError(
                400,
                -1102,
                "Mandatory parameter 'price' was not sent, was empty/null, or malformed.",
            )
        if order_type not in ("LIMIT", "MARKET", "LIMIT_MAKER"):
            raise ApiError(400, -1116, "Invalid orderType.")
        step, tick = Decimal(spec.step_size), Decimal(spec.tick_size)
        if quantity < Decimal(spec.min_qty) or quantity % step:
            raise ApiError(400, -1013, "Filter failure: LOT_SIZE")
        if price is not None and price % tick:
            raise ApiError(400, -1013, "Filter failure: PRICE_FILTER")
        _, bids, asks = self.em._books.get(symbol, (0, [], []))
        levels = [(Decimal(p), Decimal(q)) for p, q in (asks if side == "BUY" else bids)]
        reference = price or (levels[0][0] if levels else ZERO)
        if quantity * reference < Decimal(spec.min_notional):
            raise ApiError(400, -1013, "Filter failure: NOTIONAL")
        order = EmulatedOrder(
            next(self._order_ids),
            client_id,
            symbol,
            side,
            order_type,
            tif,
            quantity,
            price,
            int(time.time() * 1000),
        )
        self._reserve(order, spec.base, spec.quote, levels)
        self.orders[order.order_id] = order
        self.by_client_id[client_id] = order.order_id
        crossing = [
            (p, q)
            for p, q in levels
            if price is None or (p <= price if side == "BUY" else p >= price)
        ]
        if order_type == "LIMIT_MAKER" and crossing:
            self._release(order, spec.base, spec.quote)
            order.status = "EXPIRED"
            return order.to_json(full=True)
        for level_price, level_qty in crossing:
            left = order.quantity - order.executed
            if left <= 0:
                break
            self._execute(
                order, min(left, level_qty), level_price, spec.base, spec.quote, maker=False
            )
        if order.executed < order.quantity and (order_type == "MARKET" or tif in ("IOC", "FOK")):
            self._release(order, spec.base, spec.quote)
            order.status = "EXPIRED"
        return order.to_json(full=True)

    def _reserve(self, order: EmulatedOrder, base: str, quote: str, levels: list) -> None:
        """Lock what the order may spend: base for a sell; for a buy its limit (or book) cost plus fee."""
        if order.side == "SELL":
            asset, amount = base, order.quantity
        elif order.price is not None:
            asset, amount = quote, order.quantity * order.price * (1 + COMMISSION)
        else:
            left, cost = order.quantity, ZERO
            for level_price, level_qty in levels:
                take = min(left, level_qty)
                cost, left = cost + take * level_price, left - take
            asset, amount = quote, (cost * (1 + COMMISSION)).quantize(Decimal("1e-8"))
        if self._balance(asset)[0] < amount:
            raise NO_BALANCE
        self._move(asset, free=-amount, locked=amount)
        self._reserved[order.order_id] = (asset, amount)

    def _release(self, order: EmulatedOrder, base: str, quote: str) -> None:
        asset, amount = self._reserved.pop(order.order_id, (base, ZERO))
        self._move(asset, free=amount, locked=-amount)

    def _execute(
        self, order: EmulatedOrder, qty: Decimal, price: Decimal, base: str, quote: str, maker: bool
    ) -> None:
        cost = qty * price
        fee = (cost * COMMISSION).quantize(Decimal("1e-8"))
        asset, reserved = self._reserved[order.order_id]
        used = qty if order.side == "SELL" else cost + fee
        self._reserved[order.order_id] = (asset, reserved - used)
        self._move(asset, locked=-used)
        if order.side == "SELL":
            self._move(quote, free=cost - fee)
        else:
            self._move(base, free=qty)
        order.executed += qty
        order.quote += cost
        order.status = "FILLED" if order.executed >= order.quantity else "PARTIALLY_FILLED"
        trade = {
            "symbol": order.symbol, "id": next(self._trade_ids), "orderId": order.order_id,
            "orderListId": -1, "price": _text(price), "qty": _text(qty), "quoteQty": _text(cost),
            "commission": _text(fee), "commissionAsset": quote, "time": int(time.time() * 1000),
            "isBuyer": order.side == "BUY", "isMaker": maker, "isBestMatch": True,
        }  # fmt: skip
        order.fills.append(trade)
        self.trades.append(trade)
        if order.status == "FILLED":
            self._release(order, base, quote)

    def _find(self, request: Request, code: int, msg: str) -> EmulatedOrder:
        symbol = self.em._known_symbol(request)
        order_id = request.int_param("orderId")
        client_id = request.param("origClientOrderId")
        if order_id is None and client_id is None:
            raise ApiError(
                400,
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )
        order = self.orders.get(
            order_id if order_id is not None else self.by_client_id.get(client_id, -1)
        )
        if order is None or order.symbol != symbol:
            raise ApiError(400, code, msg)
        return order

    def _query(self, request: Request) -> dict[str, Any]:
        return self._find(request, -2013, "Order does not exist.").to_json()

    def _cancel(self, request: Request) -> dict[str, Any]:
        order = self._find(request, -2011, "Unknown order sent.")
        if order.status not in ("NEW", "PARTIALLY_FILLED"):
            raise ApiError(400, -2011, "Unknown order sent.")
        spec = self.em.symbols[order.symbol]
        self._release(order, spec.base, spec.quote)
        order.status = "CANCELED"
        return order.to_json()

    def _open_orders(self, request: Request) -> list[dict[str, Any]]:
        symbol = request.param("symbol")
        return [
            o.to_json() for o in self.orders.values()
            if o.status in ("NEW", "PARTIALLY_FILLED") and (symbol is None or o.symbol == symbol)
        ]  # fmt: skip

    def _my_trades(self, request: Request) -> list[dict[str, Any]]:
        symbol = self.em._known_symbol(request)
        order_id = request.int_param("orderId")
        from_id = request.int_param("fromId")
        start = request.int_param("startTime")
        limit = request.int_param("limit", 500)
        rows = [
            t for t in self.trades
            if t["symbol"] == symbol and (order_id is None or t["orderId"] == order_id)
            and (from_id is None or t["id"] >= from_id) and (start is None or t["time"] >= start)
        ]  # fmt: skip
        return rows[:limit]

    # -- the market moves --------------------------------------------------------------

    def trade_at(self, symbol: str, price: str) -> int:
        """A market trade at `price`: resting limits it crosses fill completely (as maker); returns how many."""
        level = Decimal(price)
        spec = self.em.symbols[symbol]
        crossed = [
            o for o in self.orders.values()
            if o.symbol == symbol and o.status in ("NEW", "PARTIALLY_FILLED") and o.price is not None
            and (level <= o.price if o.side == "BUY" else level >= o.price)
        ]  # fmt: skip
        with self.em.lock:
            for order in crossed:
                self._execute(
                    order,
                    order.quantity - order.executed,
                    order.price,
                    spec.base,
                    spec.quote,
                    maker=True,
                )
        return len(crossed)


def install_order_endpoints(emulator: BinanceEmulator) -> BinanceOrders:
    """Add the order endpoints to a (started or not) emulator; returns their state."""
    return BinanceOrders(emulator).install()
