"""Emergency stop: halt a strategy, cancel every open order on every venue, optionally flatten.

Each step is audited (entity = the strategy): the status change, each cancel (or why it
could not be cancelled), each flattening order, and a closing summary.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import pandas as pd

from zvt_pipelines.errors import OrderNotFound, VenueError
from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.model.orders import Side
from zvt_pipelines.oms.events import EventBus
from zvt_pipelines.oms.manager import OrderManager
from zvt_pipelines.oms.order import OrderCanceled
from zvt_pipelines.oms.persistence import OrderRecorder, load_active_orders
from zvt_pipelines.storage.database import Database
from zvt_pipelines.trading.accounts import strategy_fills
from zvt_pipelines.trading.lifecycle import Status, get_status, record_audit, set_status
from zvt_pipelines.trading.rebalance import client_order_id

ZERO = Decimal(0)


@dataclass
class StopReport:
    """What the stop did."""

    strategy: str
    canceled: list[str] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)
    flattened: list[dict[str, Any]] = field(default_factory=list)


def emergency_stop(
    db: Database,
    name: str,
    venues: dict[str, Any],
    clock: Any,
    *,
    flatten: bool = False,
    actor: str = "operator",
) -> StopReport:
    """Stop `name` now; `venues` maps venue id to the venue objects to cancel and trade on."""
    report = StopReport(name)
    if get_status(db, name) is not Status.STOPPED:
        set_status(db, name, Status.STOPPED, actor, reason="emergency stop")
    record_audit(db, actor, "emergency_stop_started", name, None, {"flatten": flatten})
    bus = EventBus()
    recorder = OrderRecorder(db, actor=actor).attach(bus)
    manager = OrderManager(venues, bus, clock=clock)
    try:
        for order in load_active_orders(db):
            if order.strategy != name or order.is_done:
                continue
            manager.orders[order.client_order_id] = order
            try:
                manager.cancel(order.client_order_id, "emergency stop")
                report.canceled.append(order.client_order_id)
                record_audit(
                    db,
                    actor,
                    "emergency_cancel",
                    name,
                    {"order": order.client_order_id, "venue": order.venue},
                    {"status": order.status.value},
                )
            except (OrderNotFound, VenueError) as exc:
                manager.apply_events(
                    order, [OrderCanceled(order.client_order_id, clock(), f"emergency stop: {exc}")]
                )
                report.not_found.append(order.client_order_id)
                record_audit(
                    db,
                    actor,
                    "emergency_cancel_unknown",
                    name,
                    {"order": order.client_order_id},
                    {"status": order.status.value, "reason": str(exc)},
                )
        if flatten:
            _flatten(db, name, manager, clock, actor, report)
    finally:
        recorder.close()
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
        },
    )
    return report


def _flatten(
    db: Database, name: str, manager: OrderManager, clock: Any, actor: str, report: StopReport
) -> None:
    """Market orders that bring every position of the strategy back to zero."""
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
        order = manager.new_order(
            venue, symbol, side, "market", abs(quantity), strategy=name, client_order_id=order_id
        )
        manager.submit(order)
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
