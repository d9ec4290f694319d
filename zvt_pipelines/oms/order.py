"""The client-side order: intent, fills and a status changed only through `order.apply(event)`.

Transitions follow one explicit `(status, event kind) -> status` table, as NautilusTrader
does, so an impossible sequence (a fill after a cancel, an ack after a reject) fails loudly
with both names instead of corrupting state.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from zvt_pipelines.errors import DuplicateFill, IllegalTransition, InvalidOrder, Overfill
from zvt_pipelines.model.orders import Fill, OrderStatus, OrderType, Side, TimeInForce

ZERO = Decimal(0)
S = OrderStatus


class EventKind(StrEnum):
    """What happened to an order; the column of the transition table."""

    SUBMIT = "submit"
    ACCEPT = "accept"
    REJECT = "reject"
    PARTIAL_FILL = "partial_fill"
    FILL = "fill"
    CANCEL_REQUEST = "cancel_request"
    CANCEL = "cancel"
    EXPIRE = "expire"
    SETTLE = "settle"
    QUARANTINE = "quarantine"


# The whole state machine. A fill may arrive before the ack (venue acks late), and while a
# cancel is pending (the cancel lost the race); a NEW order may be canceled (emulated
# orders wait in NEW until their trigger) and expired (reconciliation of a never-sent order).
# A stored order that fails a consistency check is quarantined from any status that is not
# terminal (oms/quarantine.py); an operator then closes it: cancel, or accept its fills (settle).
TRANSITIONS: dict[tuple[OrderStatus, EventKind], OrderStatus] = {
    (S.NEW, EventKind.SUBMIT): S.SUBMITTED,
    (S.NEW, EventKind.REJECT): S.REJECTED,
    (S.NEW, EventKind.CANCEL): S.CANCELED,
    (S.SUBMITTED, EventKind.ACCEPT): S.OPEN,
    (S.SUBMITTED, EventKind.REJECT): S.REJECTED,
    (S.SUBMITTED, EventKind.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.SUBMITTED, EventKind.FILL): S.FILLED,
    (S.SUBMITTED, EventKind.CANCEL): S.CANCELED,
    (S.SUBMITTED, EventKind.EXPIRE): S.EXPIRED,
    (S.OPEN, EventKind.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.OPEN, EventKind.FILL): S.FILLED,
    (S.OPEN, EventKind.CANCEL_REQUEST): S.CANCEL_PENDING,
    (S.OPEN, EventKind.CANCEL): S.CANCELED,
    (S.OPEN, EventKind.EXPIRE): S.EXPIRED,
    (S.PARTIALLY_FILLED, EventKind.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, EventKind.FILL): S.FILLED,
    (S.PARTIALLY_FILLED, EventKind.CANCEL_REQUEST): S.CANCEL_PENDING,
    (S.PARTIALLY_FILLED, EventKind.CANCEL): S.CANCELED,
    (S.PARTIALLY_FILLED, EventKind.EXPIRE): S.EXPIRED,
    (S.CANCEL_PENDING, EventKind.PARTIAL_FILL): S.CANCEL_PENDING,
    (S.CANCEL_PENDING, EventKind.FILL): S.FILLED,
    (S.CANCEL_PENDING, EventKind.CANCEL): S.CANCELED,
    (S.CANCEL_PENDING, EventKind.EXPIRE): S.EXPIRED,
    (S.FILLED, EventKind.SETTLE): S.SETTLED,
    **{
        (status, EventKind.QUARANTINE): S.QUARANTINED
        for status in (
            S.NEW,
            S.SUBMITTED,
            S.OPEN,
            S.PARTIALLY_FILLED,
            S.CANCEL_PENDING,
            S.FILLED,
        )
    },
    (S.QUARANTINED, EventKind.CANCEL): S.CANCELED,
    (S.QUARANTINED, EventKind.SETTLE): S.SETTLED,
}

TERMINAL = frozenset({S.SETTLED, S.CANCELED, S.REJECTED, S.EXPIRED})
# FILLED is final for trading purposes (nothing more can fill) though SETTLED may follow.
DONE = TERMINAL | {S.FILLED}


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """Base of every order event; `ts` is when the venue (or the OMS) says it happened."""

    client_order_id: str
    ts: datetime


@dataclass(frozen=True, slots=True)
class OrderSubmitted(OrderEvent):
    """The OMS sent the order to `venue` (or handed it to the emulator)."""


@dataclass(frozen=True, slots=True)
class OrderAccepted(OrderEvent):
    """The venue acknowledged the order and gave it `venue_order_id`."""

    venue_order_id: str = ""


@dataclass(frozen=True, slots=True)
class OrderRejected(OrderEvent):
    """Pre-trade validation, risk or the venue refused the order."""

    reason: str = ""


@dataclass(frozen=True, slots=True)
class OrderFilled(OrderEvent):
    """One execution; whether it is partial or final follows from the order's amount."""

    fill: Fill | None = None


@dataclass(frozen=True, slots=True)
class OrderCancelRequested(OrderEvent):
    """The OMS asked the venue to cancel."""


@dataclass(frozen=True, slots=True)
class OrderCanceled(OrderEvent):
    """The venue (or the OMS, for an unsent order) canceled the order."""

    reason: str = ""


@dataclass(frozen=True, slots=True)
class OrderExpired(OrderEvent):
    """Time in force ran out (IOC/FOK remainder, or reconciliation found it gone)."""

    reason: str = ""


@dataclass(frozen=True, slots=True)
class OrderSettled(OrderEvent):
    """The fills of a FILLED order are booked in the ledger."""


@dataclass(frozen=True, slots=True)
class OrderQuarantined(OrderEvent):
    """The stored order failed a consistency check; it waits for an operator."""

    reason: str = ""


_KIND_OF: dict[type[OrderEvent], EventKind] = {
    OrderSubmitted: EventKind.SUBMIT,
    OrderAccepted: EventKind.ACCEPT,
    OrderRejected: EventKind.REJECT,
    OrderCancelRequested: EventKind.CANCEL_REQUEST,
    OrderCanceled: EventKind.CANCEL,
    OrderExpired: EventKind.EXPIRE,
    OrderSettled: EventKind.SETTLE,
    OrderQuarantined: EventKind.QUARANTINE,
}


def new_client_order_id(strategy: str = "manual") -> str:
    """A fresh id `zvt-<strategy>-<random hex>` of at most 36 characters (Binance's limit).

    The strategy tag is cut to 10 characters so at least 21 hex digits (84 random bits) remain.
    """
    tag = "".join(ch for ch in strategy if ch.isalnum() or ch in "_.")[:10] or "manual"
    return f"zvt-{tag}-{uuid.uuid4().hex}"[:36]


def intent_client_order_id(strategy: str, *intent: object) -> str:
    """A deterministic id from the intent (e.g. strategy, bar time, symbol, side, amount).

    The same intent always yields the same id, so a signal replayed after a crash maps to
    the order already sent instead of a second one. Binance accepts at most 36 characters.
    """
    digest = hashlib.sha256("|".join(map(str, (strategy, *intent))).encode()).hexdigest()
    tag = "".join(ch for ch in strategy if ch.isalnum())[:10] or "manual"
    return f"zvt-{tag}-{digest[: 31 - len(tag)]}"


@dataclass
class Order:
    """One order as the OMS tracks it. Mutate only through `apply`.

    `stop_price` is the trigger of STOP_LOSS / TAKE_PROFIT (with `price` set it becomes a
    stop-limit); a TRAILING_STOP trails by `trailing_amount` (price units) or
    `trailing_percent`. An OCO pair is two orders naming each other in `linked_client_order_id`.
    """

    client_order_id: str
    venue: str
    symbol: str
    side: Side
    order_type: OrderType
    amount: Decimal
    created_at: datetime
    price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    trailing_amount: Decimal | None = None
    trailing_percent: Decimal | None = None
    strategy: str | None = None
    linked_client_order_id: str | None = None
    parent_client_order_id: str | None = None
    status: OrderStatus = OrderStatus.NEW
    venue_order_id: str | None = None
    filled: Decimal = ZERO
    cost: Decimal = ZERO
    fee: Decimal = ZERO
    fee_currency: str | None = None
    reason: str | None = None
    updated_at: datetime | None = None
    fills: list[Fill] = field(default_factory=list)
    history: list[tuple[OrderStatus, EventKind, OrderStatus]] = field(default_factory=list)
    _execution_ids: set[str] = field(default_factory=set, repr=False)

    def __post_init__(self) -> None:
        self.side, self.order_type = Side(self.side), OrderType(self.order_type)
        self.time_in_force = TimeInForce(self.time_in_force)
        if not isinstance(self.amount, Decimal) or self.amount <= 0:
            raise InvalidOrder(
                f"order {self.client_order_id} amount {self.amount!r}: must be a positive Decimal"
            )
        if self.order_type is OrderType.LIMIT and self.price is None:
            raise InvalidOrder(f"order {self.client_order_id}: a limit order needs a price")
        if self.price is not None and self.price <= 0:
            raise InvalidOrder(f"order {self.client_order_id} price {self.price}: must be positive")
        needs_stop = (OrderType.STOP_LOSS, OrderType.TAKE_PROFIT)
        if self.order_type in needs_stop and (self.stop_price is None or self.stop_price <= 0):
            raise InvalidOrder(
                f"order {self.client_order_id}: {self.order_type.value} needs a positive stop_price"
            )
        if self.order_type is OrderType.TRAILING_STOP and (
            (self.trailing_amount is None) == (self.trailing_percent is None)
        ):
            raise InvalidOrder(
                f"order {self.client_order_id}: a trailing stop needs exactly one of "
                "trailing_amount or trailing_percent"
            )
        if self.created_at.tzinfo is None:
            raise InvalidOrder(
                f"order {self.client_order_id} created_at must be timezone-aware UTC"
            )
        if len(self.client_order_id) > 64:
            raise InvalidOrder(
                f"client order id {self.client_order_id!r}: longer than 64 characters"
            )
        self.updated_at = self.updated_at or self.created_at

    @property
    def remaining(self) -> Decimal:
        """Amount still to fill."""
        return self.amount - self.filled

    @property
    def average_price(self) -> Decimal | None:
        """Volume-weighted fill price, or None before the first fill."""
        return self.cost / self.filled if self.filled else None

    @property
    def is_done(self) -> bool:
        """True when nothing more can fill (FILLED or a terminal status)."""
        return self.status in DONE

    def kind_of(self, event: OrderEvent) -> EventKind:
        """The table column an event falls in (a fill is partial unless it completes the order)."""
        if isinstance(event, OrderFilled):
            if event.fill is None:
                raise InvalidOrder(f"order {self.client_order_id}: OrderFilled without a fill")
            return (
                EventKind.FILL
                if self.filled + event.fill.amount >= self.amount
                else EventKind.PARTIAL_FILL
            )
        return _KIND_OF[type(event)]

    def can_apply(self, event: OrderEvent) -> bool:
        """True when `event` is legal in the current status (fill checks excluded)."""
        return (self.status, self.kind_of(event)) in TRANSITIONS

    def apply(self, event: OrderEvent) -> OrderStatus:
        """Apply one event: look the transition up, check fills, update state; returns the new status."""
        if event.client_order_id != self.client_order_id:
            raise InvalidOrder(
                f"event for {event.client_order_id} applied to order {self.client_order_id}"
            )
        kind = self.kind_of(event)
        target = TRANSITIONS.get((self.status, kind))
        if target is None:
            raise IllegalTransition(self.client_order_id, self.status.value, kind.value)
        if isinstance(event, OrderFilled):
            self._add_fill(event.fill)
        elif isinstance(event, OrderAccepted):
            self.venue_order_id = event.venue_order_id or self.venue_order_id
        elif isinstance(event, OrderRejected | OrderCanceled | OrderExpired | OrderQuarantined):
            self.reason = event.reason or self.reason
        self.history.append((self.status, kind, target))
        self.status = target
        self.updated_at = event.ts
        return target

    def _add_fill(self, fill: Fill) -> None:
        if fill.execution_id in self._execution_ids:
            raise DuplicateFill(
                f"order {self.client_order_id}: execution {fill.execution_id} already recorded"
            )
        if fill.client_order_id != self.client_order_id or fill.symbol != self.symbol:
            raise InvalidOrder(
                f"fill {fill.execution_id} belongs to {fill.client_order_id} {fill.symbol}"
            )
        if fill.side is not self.side:
            raise InvalidOrder(
                f"fill {fill.execution_id} side {fill.side} differs from order side {self.side}"
            )
        if self.filled + fill.amount > self.amount:
            raise Overfill(
                f"order {self.client_order_id}: fill {fill.execution_id} of {fill.amount} would take "
                f"filled {self.filled} above amount {self.amount}"
            )
        self._execution_ids.add(fill.execution_id)
        self.fills.append(fill)
        self.filled += fill.amount
        self.cost += fill.notional
        self.fee += fill.fee
        self.fee_currency = fill.fee_currency

    def restore_fills(self, fills: list[Fill]) -> None:
        """Re-attach fills loaded from storage (status untouched: it was stored alongside)."""
        for fill in fills:
            self._add_fill(fill)

    def has_execution(self, execution_id: str) -> bool:
        """True when the fill with this venue execution id is already recorded."""
        return execution_id in self._execution_ids


def oco_pair(first: Order, second: Order) -> tuple[Order, Order]:
    """Link two orders one-cancels-the-other; they must share venue, symbol, side and amount."""
    if (first.venue, first.symbol, first.side, first.amount) != (
        second.venue,
        second.symbol,
        second.side,
        second.amount,
    ):
        raise InvalidOrder(
            f"OCO legs {first.client_order_id} and {second.client_order_id} must share "
            "venue, symbol, side and amount"
        )
    first.linked_client_order_id = second.client_order_id
    second.linked_client_order_id = first.client_order_id
    return first, second
