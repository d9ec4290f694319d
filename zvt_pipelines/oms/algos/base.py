"""What every execution algorithm shares: parent state, child bookkeeping, the sink and risk check.

A parent order (TWAP, VWAP, iceberg) never talks to a venue. It emits child orders through an
`OrderSink` (the order manager satisfies it), is driven by `on_tick(now, market_state)`, and
learns of executions through `on_fill` and of children that ended unfilled through
`on_child_closed`. Amount still live at a venue (or awaiting a cancel confirmation) counts as
committed, so a parent never has more out than its total. After a restart `resume` takes a
parent up from its children as recorded (and reconciled), so none is sent twice.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from zvt_pipelines.errors import IllegalAlgoTransition, InvalidOrder
from zvt_pipelines.model.orders import Fill, OrderType, Side, TimeInForce
from zvt_pipelines.oms.sizing import floor_to_step

ZERO = Decimal(0)
MAX_PARENT_ID = 28  # child ids are `<parent>-<n>`, and Binance accepts at most 36 characters


class AlgoState(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    CANCELED = "CANCELED"


class AlgoEvent(StrEnum):
    START = "start"
    COMPLETE = "complete"
    CANCEL = "cancel"


TRANSITIONS: dict[tuple[AlgoState, AlgoEvent], AlgoState] = {
    (AlgoState.PENDING, AlgoEvent.START): AlgoState.RUNNING,
    (AlgoState.PENDING, AlgoEvent.CANCEL): AlgoState.CANCELED,
    (AlgoState.RUNNING, AlgoEvent.COMPLETE): AlgoState.COMPLETED,
    (AlgoState.RUNNING, AlgoEvent.CANCEL): AlgoState.CANCELED,
}


class OrderSink(Protocol):
    """Where child orders go: the order manager (or a test's in-memory list)."""

    def submit(
        self,
        symbol: str,
        side: Side,
        amount: Decimal,
        price: Decimal | None = None,
        *,
        venue: str,
        order_type: OrderType,
        time_in_force: TimeInForce,
        client_order_id: str,
        parent_id: str,
    ) -> str: ...

    def cancel(self, client_order_id: str) -> None: ...


@dataclass(frozen=True)
class ChildOrderRequest:
    """A child order about to be sent, as the risk check sees it."""

    parent_id: str
    client_order_id: str
    venue: str
    symbol: str
    side: Side
    amount: Decimal
    price: Decimal | None
    order_type: OrderType
    time_in_force: TimeInForce
    at: datetime


RiskCheck = Callable[[ChildOrderRequest, Mapping[str, Any] | None], str | None]
"""Called before each child with the request and the tick's market state; a reason string denies it."""


@dataclass(frozen=True)
class Denial:
    """A child the risk check refused; the amount stays with the parent for a later tick."""

    at: datetime
    amount: Decimal
    reason: str


@dataclass
class ChildOrder:
    """A child sent by the parent; `live` until filled or reported closed by the venue."""

    client_order_id: str
    amount: Decimal
    submitted_at: datetime
    filled: Decimal = ZERO
    live: bool = True
    cancel_requested: bool = False

    @property
    def open_amount(self) -> Decimal:
        return self.amount - self.filled if self.live else ZERO


def split_by_weights(total: Decimal, weights: list[Decimal], step: Decimal) -> list[Decimal]:
    """Split `total` into slices proportional to `weights`, each a multiple of `step`.

    Cumulative targets are rounded down to the step and the last target is `total` itself, so the
    slices add up to `total` exactly and the last slice absorbs the rounding (no dust left over).
    """
    weight_sum = sum(weights, ZERO)
    if not weights or weight_sum <= 0 or any(w < 0 for w in weights):
        raise InvalidOrder(f"slice weights {weights}: need at least one, none negative, sum > 0")
    slices, done, running = [], ZERO, ZERO
    for index, weight in enumerate(weights):
        running += weight
        target = (
            total
            if index == len(weights) - 1
            else floor_to_step(total * running / weight_sum, step)
        )
        slices.append(target - done)
        done = target
    return slices


class ExecutionAlgo(ABC):
    """Base of the parent orders: state machine, child tracking, risk check and cancel."""

    def __init__(
        self,
        parent_id: str,
        symbol: str,
        side: Side,
        amount: Decimal,
        *,
        venue: str,
        sink: OrderSink,
        amount_step: Decimal,
        order_type: OrderType = OrderType.MARKET,
        limit_price: Decimal | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        risk_check: RiskCheck | None = None,
    ) -> None:
        if not parent_id or len(parent_id) > MAX_PARENT_ID:
            raise InvalidOrder(f"parent id {parent_id!r}: 1 to {MAX_PARENT_ID} characters")
        if amount <= 0 or amount_step <= 0 or amount % amount_step != 0:
            raise InvalidOrder(
                f"parent {parent_id}: amount {amount} must be a positive multiple of step {amount_step}"
            )
        if order_type is OrderType.LIMIT and limit_price is None:
            raise InvalidOrder(f"parent {parent_id}: a limit algo needs a limit price")
        self.parent_id = parent_id
        self.symbol = symbol
        self.side = Side(side)
        self.amount = amount
        self.venue = venue
        self.sink = sink
        self.amount_step = amount_step
        self.order_type = order_type
        self.limit_price = limit_price
        self.time_in_force = time_in_force
        self.risk_check = risk_check
        self.state = AlgoState.PENDING
        self.children: dict[str, ChildOrder] = {}
        self.denials: list[Denial] = []
        self.filled = ZERO
        self._executions: set[str] = set()
        self._sequence = 0  # number of the last child id handed out (denied ones included)

    def _apply(self, event: AlgoEvent) -> None:
        """Move the state machine; raise IllegalAlgoTransition naming the state and event."""
        target = TRANSITIONS.get((self.state, event))
        if target is None:
            raise IllegalAlgoTransition(
                f"parent {self.parent_id}: event {event.value} is illegal in state {self.state.value}"
            )
        self.state = target

    @property
    def live_children(self) -> list[ChildOrder]:
        return [c for c in self.children.values() if c.live]

    @property
    def committed(self) -> Decimal:
        """Filled plus still open at the venue: what the parent can no longer send again."""
        return self.filled + sum((c.open_amount for c in self.children.values()), ZERO)

    @property
    def remaining(self) -> Decimal:
        """Total minus committed: what the parent may still send."""
        return self.amount - self.committed

    def _send(
        self, now: datetime, amount: Decimal, market_state: Mapping[str, Any] | None
    ) -> str | None:
        """Risk-check and submit one child; return its id, or None when the risk check denied it."""
        self._sequence += 1
        request = ChildOrderRequest(
            parent_id=self.parent_id,
            client_order_id=f"{self.parent_id}-{self._sequence}",
            venue=self.venue,
            symbol=self.symbol,
            side=self.side,
            amount=amount,
            price=self.limit_price,
            order_type=self.order_type,
            time_in_force=self.time_in_force,
            at=now,
        )
        if self.risk_check is not None:
            reason = self.risk_check(request, market_state)
            if reason is not None:
                self.denials.append(Denial(now, amount, reason))
                return None
        child_id = self.sink.submit(
            self.symbol,
            self.side,
            amount,
            self.limit_price,
            venue=self.venue,
            order_type=self.order_type,
            time_in_force=self.time_in_force,
            client_order_id=request.client_order_id,
            parent_id=self.parent_id,
        )
        self.children[child_id] = ChildOrder(child_id, amount, now)
        return child_id

    @abstractmethod
    def on_tick(self, now: datetime, market_state: Mapping[str, Any] | None = None) -> list[str]:
        """Advance the algorithm to `now`; return the ids of the children it submitted."""

    def on_fill(self, fill: Fill) -> list[str]:
        """Record a child's fill (a late fill after cancel counts too); return children it sent."""
        child = self.children.get(fill.client_order_id)
        if child is None:
            raise InvalidOrder(
                f"parent {self.parent_id}: fill for unknown child {fill.client_order_id}"
            )
        if fill.execution_id in self._executions:
            raise InvalidOrder(
                f"parent {self.parent_id}: fill {fill.execution_id} already recorded"
            )
        if child.filled + fill.amount > child.amount:
            raise InvalidOrder(
                f"child {child.client_order_id}: fill {fill.amount} exceeds its open {child.amount - child.filled}"
            )
        self._executions.add(fill.execution_id)
        child.filled += fill.amount
        self.filled += fill.amount
        if child.filled == child.amount:
            child.live = False
        if self.filled == self.amount and self.state is AlgoState.RUNNING:
            self._apply(AlgoEvent.COMPLETE)
            return []
        return self._after_fill(fill.timestamp, child)

    def _after_fill(self, now: datetime, child: ChildOrder) -> list[str]:
        """Hook for algorithms that react to fills (the iceberg replenishes)."""
        return []

    def resume(self, children: list[ChildOrder], fill_ids: set[str] | None = None) -> None:
        """Take up a PENDING parent after a restart from its children as recorded (after
        reconciliation): their fills count, open ones stay committed, and new child ids
        continue after the highest one, because a venue may accept a filled order's client
        id again (Binance does), so reusing one could double a slice. `fill_ids` are the
        execution ids already booked, so a late report of one is not counted twice."""
        if self.state is not AlgoState.PENDING or self.children:
            raise IllegalAlgoTransition(
                f"parent {self.parent_id}: resume needs a fresh PENDING parent, not {self.state.value}"
            )
        prefix = f"{self.parent_id}-"
        for child in children:
            number = child.client_order_id.removeprefix(prefix)
            if not child.client_order_id.startswith(prefix) or not number.isdigit():
                raise InvalidOrder(
                    f"parent {self.parent_id}: {child.client_order_id!r} is not one of its children"
                )
            self.children[child.client_order_id] = child
            self.filled += child.filled
            self._sequence = max(self._sequence, int(number))
        if self.filled > self.amount:
            raise InvalidOrder(
                f"parent {self.parent_id}: children filled {self.filled}, above its {self.amount}"
            )
        self._executions |= fill_ids or set()

    def on_child_closed(self, client_order_id: str) -> None:
        """A child ended without filling completely (canceled, expired, rejected): free its rest."""
        child = self.children.get(client_order_id)
        if child is None:
            raise InvalidOrder(f"parent {self.parent_id}: unknown child {client_order_id}")
        child.live = False

    def _cancel_live(self) -> None:
        for child in self.live_children:
            if not child.cancel_requested:
                child.cancel_requested = True
                self.sink.cancel(child.client_order_id)

    def cancel(self) -> None:
        """Stop the parent: cancel every live child and move to CANCELED."""
        self._apply(AlgoEvent.CANCEL)
        self._cancel_live()

    def _start_if_due(self, now: datetime, start: datetime) -> bool:
        """Start a PENDING parent once `now` reaches `start`; True while it is RUNNING."""
        if self.state is AlgoState.PENDING and now >= start:
            self._apply(AlgoEvent.START)
        return self.state is AlgoState.RUNNING
