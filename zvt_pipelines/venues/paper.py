"""`PaperVenue`: a market-data venue plus the matching engine and Decimal balances, in ccxt shapes.

Market data (markets, order books, candles) comes from the wrapped venue (e.g. the
`SimulatedVenue` or a live `CcxtVenue` for paper trading); orders never leave the
process. Balances are exact Decimals: `total` per currency, `used` is what open orders
reserve, `free = total - used`. Fees are charged in the quote currency. A second
`create_order` with a `clientOrderId` already seen returns the existing order unchanged,
so a retried submission never doubles an order. `fault_hook` (None in production) is
called at the order path's steps (`venues.base.FAULT_STEPS`) for the fault-injection tests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from zvt_pipelines.errors import InsufficientFunds, InvalidOrder, OrderNotFound, UnknownSymbol
from zvt_pipelines.model.money import to_decimal
from zvt_pipelines.model.orders import Fill, OrderType, Side, TimeInForce
from zvt_pipelines.venues.base import FaultHook
from zvt_pipelines.venues.matching import BookOrder, MatchingEngine

ZERO = Decimal(0)
_CONDITIONAL_PARAMS = (
    ("stopLossPrice", OrderType.STOP_LOSS),
    ("takeProfitPrice", OrderType.TAKE_PROFIT),
    ("stopPrice", OrderType.STOP_LOSS),
    ("triggerPrice", OrderType.STOP_LOSS),
    ("trailingAmount", OrderType.TRAILING_STOP),
    ("trailingPercent", OrderType.TRAILING_STOP),
)


def checked_decimal(value: Any, name: str) -> Decimal:
    """A ccxt number (float, int, str or Decimal) as an exact Decimal, via its shortest text."""
    try:
        result = to_decimal(value)
    except ArithmeticError:
        raise InvalidOrder(f"{name} {value!r}: not a number") from None
    if not result.is_finite():
        raise InvalidOrder(f"{name} {value!r}: must be finite")
    return result


def _ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


class PaperVenue:
    """Orders matched locally against the wrapped venue's market data; ccxt method names and shapes."""

    native_oco = True  # `params["ocoWith"]` links a new order to an open one

    def __init__(
        self,
        market_data: Any,
        balances: Mapping[str, Decimal],
        *,
        venue_id: str | None = None,
        maker_bps: Decimal = Decimal(10),
        taker_bps: Decimal = Decimal(10),
        latency: timedelta = timedelta(0),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        leverage: Decimal = Decimal(1),
        fault_hook: FaultHook | None = None,
    ) -> None:
        self.market_data = market_data
        self.fault_hook = fault_hook
        self.id = venue_id or getattr(market_data, "id", "paper")
        self.clock = clock
        self.total: dict[str, Decimal] = {
            k: checked_decimal(v, f"balance {k}") for k, v in balances.items()
        }
        self.leverage = checked_decimal(leverage, "leverage")
        if self.leverage <= 0:
            raise InvalidOrder(f"leverage {leverage!r}: must be positive")
        self.engine = MatchingEngine(self.id, maker_bps, taker_bps, latency, clock, self._quote_of)
        self.engine.on_fill = self._book_fill
        self._markets: dict[str, dict[str, Any]] | None = None
        self._by_client_id: dict[str, str] = {}

    # -- market data, delegated ------------------------------------------------------------

    def load_markets(self, reload: bool = False) -> dict[str, dict[str, Any]]:
        """The wrapped venue's markets, with `maker`/`taker` set to this venue's fee fractions."""
        if self._markets is None or reload:
            fees = {
                "maker": self.engine.maker_bps / 10_000,
                "taker": self.engine.taker_bps / 10_000,
            }
            self._markets = {
                s: {**m, **fees} for s, m in self.market_data.load_markets(reload).items()
            }
        return self._markets

    def market(self, symbol: str) -> dict[str, Any]:
        """The ccxt market dict of `symbol`; UnknownSymbol if the venue does not list it."""
        market = self.load_markets().get(symbol)
        if market is None:
            raise UnknownSymbol(f"{self.id}: no market {symbol!r}")
        return market

    def fetch_order_book(self, symbol: str, limit: int | None = None) -> dict[str, Any]:
        return self.market_data.fetch_order_book(symbol, limit)

    def fetch_ohlcv(
        self, symbol: str, timeframe: str = "1m", since: int | None = None, limit: int | None = None
    ):
        return self.market_data.fetch_ohlcv(symbol, timeframe, since, limit)

    def fetch_trades(self, symbol: str, since: int | None = None, limit: int | None = None):
        return self.market_data.fetch_trades(symbol, since, limit)

    def fetch_funding_rate_history(
        self, symbol: str, since: int | None = None, limit: int | None = None
    ):
        return self.market_data.fetch_funding_rate_history(symbol, since, limit)

    def _quote_of(self, symbol: str) -> str:
        market = (self._markets or {}).get(symbol)
        return market["quote"] if market else symbol.split("/")[1].split(":")[0]

    # -- orders ------------------------------------------------------------------------------

    def create_order(
        self,
        symbol: str,
        type: str,  # noqa: A002 - ccxt's parameter name
        side: str,
        amount: float | Decimal,
        price: float | Decimal | None = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Place an order (ccxt semantics); stops, trailing stops and OCO links come in `params`."""
        params = dict(params or {})
        client_id = params.get("clientOrderId") or f"paper-{self.engine.sequence + 1}"
        self._fault("before_send")
        existing = self._by_client_id.get(client_id)
        if existing is not None:
            return self._order_dict(self.engine.orders[existing])
        order = self._book_order(symbol, type, side, amount, price, params, client_id)
        partner = None
        if params.get("ocoWith") is not None:
            partner = self._lookup(params["ocoWith"])
            if not partner.is_open:
                raise InvalidOrder(f"OCO partner {partner.id} is {partner.status.value}, not open")
        self._check_funds(order, partner)
        if partner is not None:
            order.linked_id, partner.linked_id = partner.id, order.id
        self._by_client_id[client_id] = order.id
        takes_now = order.order_type in (OrderType.MARKET, OrderType.LIMIT)
        self.engine.submit(order, self.fetch_order_book(symbol) if takes_now else None)
        answer = self._order_dict(order)
        self._fault("after_send")
        return answer

    def _fault(self, step: str) -> None:
        if self.fault_hook is not None:
            self.fault_hook(step)

    def _book_order(self, symbol, type_, side, amount, price, params, client_id) -> BookOrder:  # noqa: ANN001
        market = self.market(symbol)
        try:
            side_ = Side(side)
        except ValueError:
            raise InvalidOrder(f"side {side!r}: expected 'buy' or 'sell'") from None
        if type_ not in ("market", "limit"):
            raise InvalidOrder(
                f"order type {type_!r}: expected 'market' or 'limit' (stops go in params)"
            )
        amount_ = checked_decimal(amount, "amount")
        if amount_ <= 0:
            raise InvalidOrder(f"amount {amount_}: must be positive")
        step = checked_decimal(market["precision"]["amount"], "amount step")
        if amount_ % step:
            raise InvalidOrder(f"amount {amount_}: not a multiple of the step {step} of {symbol}")
        min_amount = (market.get("limits", {}).get("amount") or {}).get("min")
        if min_amount is not None and amount_ < checked_decimal(min_amount, "min amount"):
            raise InvalidOrder(f"amount {amount_}: below the minimum {min_amount} of {symbol}")
        price_ = None if price is None else checked_decimal(price, "price")
        if type_ == "limit" and (price_ is None or price_ <= 0):
            raise InvalidOrder(f"limit order on {symbol}: price {price!r} must be positive")
        key = next((k for k, _ in _CONDITIONAL_PARAMS if params.get(k) is not None), None)
        value = checked_decimal(params[key], key) if key else None
        plain = OrderType.LIMIT if type_ == "limit" else OrderType.MARKET
        order_type = dict(_CONDITIONAL_PARAMS)[key] if key else plain
        trailing = order_type is OrderType.TRAILING_STOP
        tif = TimeInForce(params.get("timeInForce", "GTC"))
        if params.get("postOnly"):
            tif = TimeInForce.POST_ONLY
        if tif is TimeInForce.POST_ONLY and order_type is not OrderType.LIMIT:
            raise InvalidOrder(f"post-only needs a limit order, got {order_type.value}")
        return BookOrder(
            id=self.engine.next_id(),
            client_order_id=client_id,
            symbol=symbol,
            side=side_,
            order_type=order_type,
            amount=amount_,
            timestamp=self.clock(),
            price=price_,
            stop_price=None if trailing else value,
            time_in_force=tif,
            trailing_amount=value if key == "trailingAmount" else None,
            trailing_percent=value if key == "trailingPercent" else None,
        )

    def cancel_order(self, id: str, symbol: str | None = None) -> dict[str, Any]:  # noqa: A002
        """Cancel by venue id or client order id; OrderNotFound / InvalidOrder as ccxt would raise."""
        order = self._lookup(id)
        return self._order_dict(self.engine.cancel(order.id))

    def fetch_order(self, id: str, symbol: str | None = None) -> dict[str, Any]:  # noqa: A002
        """One order by venue id or client order id."""
        answer = self._order_dict(self._lookup(id))
        if answer["filled"]:
            self._fault("fill_seen")
        return answer

    def fetch_open_orders(
        self, symbol: str | None = None, since: int | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        return [self._order_dict(o) for o in self.engine.open_orders(symbol)]

    def fetch_my_trades(
        self, symbol: str | None = None, since: int | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Every fill, oldest first, as ccxt trades (optionally one symbol, from `since` ms)."""
        trades = [
            self._trade_dict(order, fill)
            for order in self.engine.orders.values()
            if symbol is None or order.symbol == symbol
            for fill in order.fills
        ]
        trades.sort(key=lambda t: (t["timestamp"], int(t["id"].rsplit("-", 1)[1])))
        if since is not None:
            trades = [t for t in trades if t["timestamp"] >= since]
        return trades[:limit] if limit else trades

    def restore_order(
        self,
        venue_order_id: str,
        client_order_id: str,
        symbol: str,
        side: Side,
        amount: Decimal,
        price: Decimal,
        filled: Decimal,
        placed_at: datetime,
    ) -> None:
        """Put back a resting GTC limit order of an earlier session (a paper venue is rebuilt
        for every run): same ids, the amount already filled kept, not matched on arrival."""
        order = BookOrder(
            id=venue_order_id,
            client_order_id=client_order_id,
            symbol=symbol,
            side=Side(side),
            order_type=OrderType.LIMIT,
            amount=amount,
            timestamp=placed_at,
            price=price,
            filled=filled,
            cost=filled * price,
        )
        self.engine.orders[order.id] = order
        self.engine.open[order.id] = order
        self._by_client_id[client_order_id] = order.id

    def _lookup(self, id_or_client_id: str) -> BookOrder:
        order_id = self._by_client_id.get(id_or_client_id, id_or_client_id)
        order = self.engine.orders.get(order_id)
        if order is None:
            raise OrderNotFound(f"{self.id}: unknown order {id_or_client_id}")
        return order

    # -- the price stream --------------------------------------------------------------------

    def on_price(self, symbol: str, price: Decimal, ts: datetime | None = None) -> list[Fill]:
        """Feed a trade price; resting limits and stops it reaches fill."""
        return self.engine.on_price(symbol, Decimal(price), ts or self.clock())

    def on_bar(
        self,
        symbol: str,
        open_: Decimal,
        high: Decimal,
        low: Decimal,
        close: Decimal,
        ts: datetime | None = None,
    ) -> list[Fill]:
        """Feed a candle (walked open -> nearer extreme -> farther extreme -> close)."""
        return self.engine.on_bar(symbol, open_, high, low, close, ts or self.clock())

    # -- balances ----------------------------------------------------------------------------

    def reserved(self) -> dict[str, Decimal]:
        """What open orders hold back, per currency (an OCO pair reserves once)."""
        used: dict[str, Decimal] = {}
        seen: set[str] = set()
        for order in self.engine.open_orders():
            if order.linked_id in seen:
                continue
            seen.add(order.id)
            currency, amount = self._reservation(order)
            used[currency] = used.get(currency, ZERO) + amount
        return used

    def _reservation(self, order: BookOrder) -> tuple[str, Decimal]:
        market = self.market(order.symbol)
        if order.side is Side.SELL:
            return market["base"], order.remaining
        price = order.price or order.stop_price or self.engine.last_price.get(order.symbol, ZERO)
        if order.order_type is OrderType.TRAILING_STOP:
            price = order.trigger_level() or price
        bps = max(self.engine.maker_bps, self.engine.taker_bps)
        return market["quote"], order.remaining * price * (1 + bps / 10_000)

    def mark_price(self, symbol: str) -> Decimal:
        """The mid of the venue's book (what margin is measured at)."""
        book = self.fetch_order_book(symbol)
        if not book["bids"] or not book["asks"]:
            return ZERO
        return (
            checked_decimal(book["bids"][0][0], "bid") + checked_decimal(book["asks"][0][0], "ask")
        ) / 2

    def _check_margin(self, order: BookOrder, market: dict[str, Any]) -> None:
        """Linear perpetuals: an order that grows a position (long or short) needs initial
        margin (notional / leverage) plus the taker fee from the free margin: equity (quote
        balance + positions at the mark) less the margin the open positions hold."""
        position = self.total.get(market["base"], ZERO)
        if not (order.side.sign * position >= 0 or order.amount > abs(position)):
            return  # it only reduces the position
        margin = 1 / self.leverage
        open_positions = [
            (self.total[m["base"]], self.mark_price(symbol))
            for symbol, m in self.load_markets().items()
            if m.get("contract")
            and m["quote"] == market["quote"]
            and self.total.get(m["base"], ZERO)
        ]
        # equity counts a short's sale proceeds against what buying it back costs at the mark
        equity = self.total.get(market["quote"], ZERO) + sum(
            (q * p for q, p in open_positions), ZERO
        )
        free = equity - sum((abs(q) * p * margin for q, p in open_positions), ZERO)
        price = order.price or self.mark_price(order.symbol)
        need = order.amount * price * (margin + self.engine.taker_bps / 10_000)
        if need > free:
            raise InsufficientFunds(
                f"{self.id}: {order.side.value} {order.amount} {order.symbol} needs margin "
                f"{need} {market['quote']}, {free} free"
            )

    def _check_funds(self, order: BookOrder, partner: BookOrder | None) -> None:
        """InsufficientFunds unless free balance covers the order (an OCO pair needs the larger
        leg); a perpetual needs margin instead (`_check_margin`)."""
        market = self.market(order.symbol)
        if market.get("contract"):
            self._check_margin(order, market)
            return
        if order.order_type is OrderType.MARKET and order.side is Side.BUY:
            currency, need = market["quote"], self._market_buy_cost(order)
        else:
            currency, need = self._reservation(order)
        free = self.total.get(currency, ZERO) - self.reserved().get(currency, ZERO)
        if partner is not None:
            partner_currency, partner_need = self._reservation(partner)
            if partner_currency == currency:
                free += partner_need
        if need > free:
            raise InsufficientFunds(
                f"{self.id}: {order.side.value} {order.amount} {order.symbol} needs {need} {currency}, "
                f"{free} free"
            )

    def _market_buy_cost(self, order: BookOrder) -> Decimal:
        left, cost = order.amount, ZERO
        for price, quantity, *_ in self.fetch_order_book(order.symbol)["asks"]:
            take = min(left, checked_decimal(quantity, "book amount"))
            cost += take * checked_decimal(price, "book price")
            left -= take
            if left <= 0:
                break
        return cost * (1 + self.engine.taker_bps / 10_000)

    def _book_fill(self, order: BookOrder, fill: Fill) -> None:
        market = self.market(order.symbol)
        base, quote = market["base"], market["quote"]
        sign = fill.side.sign
        self.total[base] = self.total.get(base, ZERO) + sign * fill.amount
        self.total[quote] = self.total.get(quote, ZERO) - sign * fill.notional - fill.fee

    def fetch_balance(self) -> dict[str, Any]:
        """ccxt's balance shape: per currency and under `free`/`used`/`total`, as Decimals."""
        used = self.reserved()
        result: dict[str, Any] = {"free": {}, "used": {}, "total": {}, "info": {}}
        for currency, total in sorted(self.total.items()):
            entry = {
                "free": total - used.get(currency, ZERO),
                "used": used.get(currency, ZERO),
                "total": total,
            }
            result[currency] = entry
            for key, value in entry.items():
                result[key][currency] = value
        return result

    # -- ccxt shapes -------------------------------------------------------------------------

    def _order_dict(self, order: BookOrder) -> dict[str, Any]:
        last = order.fills[-1].timestamp if order.fills else None
        return {
            "id": order.id,
            "clientOrderId": order.client_order_id,
            "timestamp": _ms(order.timestamp),
            "datetime": order.timestamp.isoformat(),
            "lastTradeTimestamp": _ms(last) if last else None,
            "symbol": order.symbol,
            "type": "limit" if order.price is not None else "market",
            "timeInForce": order.time_in_force.value,
            "postOnly": order.time_in_force is TimeInForce.POST_ONLY,
            "side": order.side.value,
            "price": order.price,
            "stopPrice": order.stop_price,
            "triggerPrice": order.trigger_level() if order.trigger_pending else order.stop_price,
            "amount": order.amount,
            "filled": order.filled,
            "remaining": order.remaining,
            "cost": order.cost,
            "average": order.cost / order.filled if order.filled else None,
            "status": order.status.value,
            "fee": {"cost": order.fee, "currency": self._quote_of(order.symbol)},
            "trades": [self._trade_dict(order, f) for f in order.fills],
            "info": {
                "orderType": order.order_type.value,
                "reason": order.reason,
                "linkedId": order.linked_id,
            },
        }

    def _trade_dict(self, order: BookOrder, fill: Fill) -> dict[str, Any]:
        return {
            "id": fill.execution_id,
            "order": order.id,
            "clientOrderId": order.client_order_id,
            "timestamp": _ms(fill.timestamp),
            "datetime": fill.timestamp.isoformat(),
            "symbol": fill.symbol,
            "side": fill.side.value,
            "type": "limit" if order.price is not None else "market",
            "takerOrMaker": fill.liquidity.value,
            "price": fill.price,
            "amount": fill.amount,
            "cost": fill.notional,
            "fee": {"cost": fill.fee, "currency": fill.fee_currency},
            "info": {"clientOrderId": order.client_order_id},
        }


def spot_market(
    symbol: str, price_tick: str = "0.01", amount_step: str = "0.00001", min_cost: str = "5"
) -> dict[str, Any]:
    """A ccxt-shaped spot market dict (TICK_SIZE precision mode, as ccxt 4 gives for Binance)."""
    base, quote = symbol.split("/")
    step = Decimal(amount_step)
    return {
        "id": base + quote,
        "symbol": symbol,
        "base": base,
        "quote": quote,
        "type": "spot",
        "spot": True,
        "active": True,
        "precision": {"amount": step, "price": Decimal(price_tick)},
        "limits": {
            "amount": {"min": step, "max": None},
            "price": {"min": None, "max": None},
            "cost": {"min": Decimal(min_cost), "max": None},
        },
    }


class FixedMarketData:
    """Market data that changes only when told: markets and order books set by the caller.

    The market-data half of a `PaperVenue` in tests, demos and benchmarks, where a moving
    simulator would make hand-worked numbers impossible.
    """

    def __init__(self, venue_id: str, markets: dict[str, dict[str, Any]]) -> None:
        self.id = venue_id
        self.markets = markets
        self.books: dict[str, dict[str, Any]] = {
            s: {"symbol": s, "bids": [], "asks": []} for s in markets
        }

    def load_markets(self, reload: bool = False) -> dict[str, dict[str, Any]]:
        return self.markets

    def set_book(
        self, symbol: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]]
    ) -> None:
        """Replace the book of `symbol`: `[(price, amount), ...]`, best first, as decimal text."""
        self.books[symbol] = {
            "symbol": symbol,
            "bids": [[Decimal(p), Decimal(q)] for p, q in bids],
            "asks": [[Decimal(p), Decimal(q)] for p, q in asks],
        }

    def fetch_order_book(self, symbol: str, limit: int | None = None) -> dict[str, Any]:
        if symbol not in self.books:
            raise UnknownSymbol(f"{self.id}: no market {symbol!r}")
        book = self.books[symbol]
        return {"symbol": symbol, "bids": book["bids"][:limit], "asks": book["asks"][:limit]}
