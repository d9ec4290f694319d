"""Order messages: the in-process bus, the updates it carries, and venue answers turned into events.

The bus publishes synchronously to handlers subscribed by message type.

The order manager publishes one `OrderUpdate` per venue response: the order's snapshot
after the change and the events that produced it (e.g. accept + fill of a market order
that filled at once), so a subscriber such as the persistence writer can record them in
one transaction. Handlers run in subscription order on the publisher's thread; an error
in a handler propagates to the publisher, so a failed database write stops trading
instead of being lost silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from zvt_pipelines.model.money import to_decimal
from zvt_pipelines.model.orders import Fill, Liquidity, OrderStatus, OrderType, Side, TimeInForce
from zvt_pipelines.oms.order import (
    Order,
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
)

Handler = Callable[[Any], None]
ZERO = Decimal(0)
_STOP_PARAM = {OrderType.STOP_LOSS: "stopLossPrice", OrderType.TAKE_PROFIT: "takeProfitPrice"}


@dataclass(frozen=True, slots=True)
class OrderSnapshot:
    """An immutable copy of an order's state, safe to hand to subscribers."""

    client_order_id: str
    venue: str
    symbol: str
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    amount: Decimal
    price: Decimal | None
    stop_price: Decimal | None
    status: OrderStatus
    venue_order_id: str | None
    filled: Decimal
    average_price: Decimal | None
    fee: Decimal
    fee_currency: str | None
    strategy: str | None
    linked_client_order_id: str | None
    parent_client_order_id: str | None
    params: dict[str, str]
    reason: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, order: Order) -> OrderSnapshot:
        params: dict[str, str] = {}
        if order.trailing_amount is not None:
            params["trailing_amount"] = str(order.trailing_amount)
        if order.trailing_percent is not None:
            params["trailing_percent"] = str(order.trailing_percent)
        return cls(
            order.client_order_id,
            order.venue,
            order.symbol,
            order.side,
            order.order_type,
            order.time_in_force,
            order.amount,
            order.price,
            order.stop_price,
            order.status,
            order.venue_order_id,
            order.filled,
            order.average_price,
            order.fee,
            order.fee_currency,
            order.strategy,
            order.linked_client_order_id,
            order.parent_client_order_id,
            params,
            order.reason,
            order.created_at,
            order.updated_at or order.created_at,
        )


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """The events applied to one order in one step, and the order as it stands after them."""

    order: OrderSnapshot
    events: tuple[OrderEvent, ...]
    previous_status: OrderStatus

    @property
    def fills(self) -> tuple[Fill, ...]:
        """The fills among the events, in order."""
        return tuple(e.fill for e in self.events if getattr(e, "fill", None) is not None)


@dataclass(frozen=True, slots=True)
class OrderDenied:
    """Pre-trade validation or the risk check refused an intent before any order existed."""

    client_order_id: str
    symbol: str
    reason: str
    ts: datetime


class EventBus:
    """Synchronous publish/subscribe keyed by message type (a base class catches subclasses)."""

    def __init__(self) -> None:
        self._handlers: dict[type, list[Handler]] = {}
        self._routes: dict[type, list[Handler]] = {}

    def subscribe(self, message_type: type, handler: Handler) -> None:
        """Call `handler(message)` for every published message that is a `message_type`."""
        self._handlers.setdefault(message_type, []).append(handler)
        self._routes.clear()

    def unsubscribe(self, message_type: type, handler: Handler) -> None:
        """Stop calling `handler` for `message_type` (no error if it was not subscribed)."""
        handlers = self._handlers.get(message_type, [])
        if handler in handlers:
            handlers.remove(handler)
        self._routes.clear()

    def wants(self, message_type: type) -> bool:
        """True when some handler would receive a `message_type` (lets publishers skip building it)."""
        return bool(self._route(message_type))

    def _route(self, message_type: type) -> list[Handler]:
        route = self._routes.get(message_type)
        if route is None:
            route = [h for klass in message_type.__mro__ for h in self._handlers.get(klass, ())]
            self._routes[message_type] = route
        return route

    def publish(self, message: object) -> None:
        """Deliver `message` to every matching handler, now, on this thread."""
        route = self._route(type(message))
        for handler in route:
            handler(message)


# -- venue answers (ccxt dicts) to order events, and orders to ccxt requests ------------------


def from_ms(ms: Any, default: datetime) -> datetime:
    """A ccxt millisecond timestamp as an aware UTC datetime (`default` when absent)."""
    return datetime.fromtimestamp(int(ms) / 1000, UTC) if ms is not None else default


def dec(value: Any) -> Decimal:
    """A ccxt number as a Decimal through its shortest text (floats stay what they printed as)."""
    return to_decimal(value)


def ccxt_request(
    order: Order, as_triggered: bool = False, oco_with: str | None = None
) -> tuple[str, Decimal | None, dict[str, Any]]:
    """The `(type, price, params)` of ccxt's `create_order` for an order (stops in params).

    `as_triggered` sends an emulated stop as the plain market/limit order it becomes;
    `oco_with` is the venue id of the other leg, for a venue that matches OCO pairs itself.
    """
    params: dict[str, Any] = {"clientOrderId": order.client_order_id}
    order_type = "limit" if order.price is not None else "market"
    if order.time_in_force is TimeInForce.POST_ONLY:
        params["postOnly"] = True
    elif order.time_in_force is not TimeInForce.GTC:
        params["timeInForce"] = order.time_in_force.value
    if not as_triggered:
        if order.order_type in _STOP_PARAM:
            params[_STOP_PARAM[order.order_type]] = order.stop_price
        elif order.order_type is OrderType.TRAILING_STOP:
            if order.trailing_amount is not None:
                params["trailingAmount"] = order.trailing_amount
            else:
                params["trailingPercent"] = order.trailing_percent
        if oco_with is not None:
            params["ocoWith"] = oco_with
    return order_type, order.price, params


def answer_events(
    order: Order, answer: dict[str, Any], fills: list[Fill], now: datetime, reason: str = ""
) -> list[OrderEvent]:
    """The events a ccxt order dict means for `order`: ack, new fills, then cancel/expiry/reject.

    A venue may report `canceled`/`expired` together with fills that completed the order;
    then the order is FILLED and no terminal event follows. `rejected` of an order the
    venue had already accepted is read as a cancel.
    """
    cid, status = order.client_order_id, answer.get("status")
    events: list[OrderEvent] = []
    if order.status is OrderStatus.SUBMITTED and status != "rejected":
        ts = from_ms(answer.get("timestamp"), now)
        events.append(OrderAccepted(cid, ts, str(answer.get("id") or "")))
    events.extend(OrderFilled(cid, fill.timestamp, fill) for fill in fills)
    why = reason or str((answer.get("info") or {}).get("reason") or status or "")
    if order.is_done or order.filled + sum((f.amount for f in fills), ZERO) >= order.amount:
        return events  # FILLED, or already closed here (e.g. the OMS canceled an OCO partner)
    if status == "rejected" and order.status is OrderStatus.SUBMITTED:
        events.append(OrderRejected(cid, now, why))
    elif status in ("canceled", "rejected"):
        events.append(OrderCanceled(cid, now, why))
    elif status == "expired":
        events.append(OrderExpired(cid, now, why))
    return events


def fill_from_trade(order: Order, trade: dict[str, Any], quote: str, now: datetime) -> Fill:
    """A ccxt trade dict of `order` as a Fill (fee in the quote currency unless it says otherwise)."""
    fee = trade.get("fee") or {}
    return Fill(
        execution_id=str(trade["id"]),
        client_order_id=order.client_order_id,
        venue=order.venue,
        symbol=order.symbol,
        side=Side(trade.get("side") or order.side),
        amount=dec(trade["amount"]),
        price=dec(trade["price"]),
        fee=dec(fee.get("cost") or 0),
        fee_currency=fee.get("currency") or quote,
        liquidity=Liquidity(trade.get("takerOrMaker") or "taker"),
        timestamp=from_ms(trade.get("timestamp"), now),
    )


def fill_from_totals(
    order: Order, answer: dict[str, Any], amount: Decimal, quote: str, now: datetime
) -> Fill:
    """A fill for `amount` inferred from the order's cumulative totals, for venues that list no trades.

    Its id `<venue order id>:<cumulative filled>` is stable, so asking again never books it twice.
    """
    filled, cost = dec(answer["filled"]), dec(answer.get("cost") or 0)
    price = (cost - order.cost) / amount if cost else dec(answer.get("average") or answer["price"])
    return Fill(
        execution_id=f"{answer.get('id')}:{filled}",
        client_order_id=order.client_order_id,
        venue=order.venue,
        symbol=order.symbol,
        side=order.side,
        amount=amount,
        price=price,
        fee=ZERO,
        fee_currency=quote,
        liquidity=Liquidity.TAKER,
        timestamp=from_ms(answer.get("lastTradeTimestamp"), now),
    )
