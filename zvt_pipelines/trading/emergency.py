"""Emergency stop: halt a strategy, cancel every open order on every venue, optionally flatten.

The stop does everything it can and says what it could not: the strategy is STOPPED first
(a rebalance that takes the strategy lock afterwards sends nothing), then each of the
strategy's own open orders is canceled one by one, a failure on one never keeping the
others from being canceled; quarantined orders are canceled at their venue too (they stay
quarantined for an operator); each position is flattened independently. Every step is
audited (entity = the strategy), and `StopReport.complete` tells whether anything failed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import pandas as pd

from zvt_pipelines.errors import InvalidOrder, OrderNotFound, VenueError, ZvtError
from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.model.orders import Side
from zvt_pipelines.oms.manager import OrderManager
from zvt_pipelines.oms.messages import EventBus
from zvt_pipelines.oms.order import OrderCanceled
from zvt_pipelines.oms.persistence import OrderRecorder, load_active_orders
from zvt_pipelines.oms.quarantine import list_quarantined
from zvt_pipelines.portfolio.accounts import strategy_fills
from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.locks import StrategyLocked, strategy_lock
from zvt_pipelines.trading.lifecycle import Status, get_status, record_audit, set_status
from zvt_pipelines.trading.rebalance import client_order_id

ZERO = Decimal(0)
LOCK_WAIT_SECONDS = 30.0


@dataclass
class StopReport:
    """What the stop did, and what it could not do (`failed`: one entry per step, with why)."""

    strategy: str
    canceled: list[str] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)
    flattened: list[dict[str, Any]] = field(default_factory=list)
    quarantined: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """True when every cancel and flattening step succeeded."""
        return not self.failed


def emergency_stop(
    db: Database,
    name: str,
    venues: dict[str, Any],
    clock: Any,
    *,
    flatten: bool = False,
    actor: str = "operator",
    lock_wait: float = LOCK_WAIT_SECONDS,
) -> StopReport:
    """Stop `name` now; `venues` maps venue id to the venue objects to cancel and trade on.

    Waits up to `lock_wait` seconds for a rebalance in flight to finish (so its orders are
    canceled too); after that it stops anyway and reports the lock as a failed step.
    """
    report = StopReport(name)
    if get_status(db, name) is not Status.STOPPED:
        set_status(db, name, Status.STOPPED, actor, reason="emergency stop")
    record_audit(db, actor, "emergency_stop_started", name, None, {"flatten": flatten})
    try:
        with strategy_lock(db, name, timeout=lock_wait):
            _stop(db, name, venues, clock, flatten, actor, report)
    except StrategyLocked as exc:
        report.failed.append({"step": "lock", "reason": f"{exc}; stopped without it"})
        _stop(db, name, venues, clock, flatten, actor, report)
    record_audit(
        db,
        actor,
        "emergency_stop_finished",
        name,
        None,
        {
            "canceled": len(report.canceled),
            "unknown": len(report.not_found),
            "flattened": len(report.flattened),
            "quarantined": len(report.quarantined),
            "failed": report.failed,
        },
    )
    return report


def _stop(
    db: Database,
    name: str,
    venues: dict[str, Any],
    clock: Any,
    flatten: bool,
    actor: str,
    report: StopReport,
) -> None:
    bus = EventBus()
    recorder = OrderRecorder(db, actor=actor).attach(bus)
    manager = OrderManager(venues, bus, clock=clock)
    try:
        for order in load_active_orders(db, strategy=name):
            if not order.is_done:
                _cancel(db, name, manager, order, clock, actor, report)
        for row in list_quarantined(db, strategy=name):
            _cancel_quarantined(db, name, venues, row, actor, report)
        if flatten:
            _flatten(db, name, manager, clock, actor, report)
    finally:
        recorder.close()


def _cancel(
    db: Database,
    name: str,
    manager: OrderManager,
    order: Any,
    clock: Any,
    actor: str,
    report: StopReport,
) -> None:
    """Cancel one order; an order the venue no longer knows is closed locally."""
    cid = order.client_order_id
    if order.venue not in manager.venues:  # it may still rest there: not ours to close
        _failed(db, name, actor, report, "cancel", cid, f"venue {order.venue!r} not available")
        return
    manager.orders[cid] = order
    try:
        manager.cancel(cid, "emergency stop")
        report.canceled.append(cid)
        record_audit(
            db,
            actor,
            "emergency_cancel",
            name,
            {"order": cid, "venue": order.venue},
            {"status": order.status.value},
        )
    except (OrderNotFound, InvalidOrder) as exc:
        try:
            manager.apply_events(order, [OrderCanceled(cid, clock(), f"emergency stop: {exc}")])
        except ZvtError as inner:
            _failed(db, name, actor, report, "cancel", cid, str(inner))
            return
        report.not_found.append(cid)
        record_audit(
            db,
            actor,
            "emergency_cancel_unknown",
            name,
            {"order": cid},
            {"status": order.status.value, "reason": str(exc)},
        )
    except ZvtError as exc:
        _failed(db, name, actor, report, "cancel", cid, str(exc))


def _cancel_quarantined(
    db: Database, name: str, venues: dict[str, Any], row: Any, actor: str, report: StopReport
) -> None:
    """Ask the venue to cancel a quarantined order (it may still rest there); the row stays
    quarantined for `zvt quarantine resolve`."""
    cid, venue = row.client_order_id, venues.get(row.venue)
    if venue is None:
        _failed(db, name, actor, report, "cancel", cid, f"venue {row.venue!r} not available")
        return
    try:
        venue.cancel_order(row.venue_order_id or cid, row.symbol)
        outcome = "canceled at the venue"
    except (OrderNotFound, InvalidOrder) as exc:
        outcome = f"not open at the venue: {exc}"
    except VenueError as exc:
        _failed(db, name, actor, report, "cancel", cid, str(exc))
        return
    report.quarantined.append({"order": cid, "outcome": outcome})
    record_audit(
        db, actor, "emergency_cancel_quarantined", name, {"order": cid}, {"outcome": outcome}
    )


def _failed(
    db: Database, name: str, actor: str, report: StopReport, step: str, what: str, reason: str
) -> None:
    report.failed.append({"step": step, "what": what, "reason": reason})
    record_audit(db, actor, f"emergency_{step}_failed", name, {"what": what}, {"reason": reason})


def _flatten(
    db: Database, name: str, manager: OrderManager, clock: Any, actor: str, report: StopReport
) -> None:
    """Market orders that bring every position of the strategy back to zero, each on its own."""
    held: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for fill in strategy_fills(db, name):
        held[(fill.venue, fill.symbol)] += fill.side.sign * fill.amount
    at: datetime = clock()
    for (venue, symbol), quantity in sorted(held.items()):
        if quantity == 0:
            continue
        side = Side.SELL if quantity > 0 else Side.BUY
        instrument = InstrumentId.parse(f"{venue}:{symbol}")
        order_id = client_order_id(f"stop{name}", pd.Timestamp(at), instrument, side, abs(quantity))
        try:
            order = manager.new_order(
                venue,
                symbol,
                side,
                "market",
                abs(quantity),
                strategy=name,
                client_order_id=order_id,
            )
            manager.submit(order)
        except (ZvtError, KeyError) as exc:
            _failed(db, name, actor, report, "flatten", f"{venue}:{symbol}", str(exc))
            continue
        step = {
            "venue": venue,
            "symbol": symbol,
            "side": side.value,
            "amount": str(abs(quantity)),
            "status": order.status.value,
            "filled": str(order.filled),
        }
        report.flattened.append(step)
        record_audit(db, actor, "emergency_flatten", name, {"position": str(quantity)}, step)
        if order.filled < abs(quantity):
            reason = f"{order.status.value}: {order.reason or 'not fully filled'}"
            _failed(db, name, actor, report, "flatten", f"{venue}:{symbol}", reason)
