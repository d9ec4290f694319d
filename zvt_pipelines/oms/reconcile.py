"""Restart safety: bring the database's open orders in line with what the venues say.

On start the manager loads every order the database does not consider terminal, asks
its venue for it (by venue id, or by client order id when the crash came before the
ack), and applies what it missed: the ack, fills (from the order's trades or the
account's trade list, each recorded once thanks to its execution id) and cancels or
expiries. An order the venue does not know is flagged: REJECTED if it was never
acknowledged (the request did not arrive), EXPIRED/CANCELED otherwise, with an audit
row saying reconciliation did it. FILLED orders are not asked about: nothing more can fill.
`trading/reconciliation.py` runs this per strategy and venue before every rebalance.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zvt_pipelines.model.orders import OrderStatus
from zvt_pipelines.oms.manager import OrderManager
from zvt_pipelines.oms.order import Order, OrderCanceled, OrderEvent, OrderExpired, OrderRejected
from zvt_pipelines.oms.persistence import audit, load_active_orders
from zvt_pipelines.storage.database import Database

UNKNOWN_REASON = "reconciliation: the venue does not know this order"


@dataclass
class ReconcileReport:
    """What reconciliation found: orders checked, fills booked, status changes, unknown orders."""

    checked: int = 0
    fills_recorded: int = 0
    changed: dict[str, tuple[str, str]] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)


def reconcile(
    manager: OrderManager,
    db: Database,
    venue: str | None = None,
    *,
    strategy: str | None = None,
    unknown_reason: str = UNKNOWN_REASON,
) -> ReconcileReport:
    """Load the non-terminal orders of `db` (of one venue and strategy, when given) into
    `manager` and settle each against its venue.

    Emulated orders still waiting for their trigger (NEW) are loaded but not asked about:
    the venue has never seen them. An order the venue does not know is closed with
    `unknown_reason`. Running it twice changes nothing the second time.
    """
    report = ReconcileReport()
    for order in load_active_orders(db, venue, strategy=strategy):
        tracked = manager.orders.setdefault(order.client_order_id, order)
        if tracked.status in (OrderStatus.NEW, OrderStatus.FILLED):
            continue
        if tracked.venue not in manager.venues:
            continue
        report.checked += 1
        before_status, before_fills = tracked.status, len(tracked.fills)
        answer = manager.find_on_venue(tracked)
        if answer is None:
            _flag_unknown(manager, db, tracked, unknown_reason)
            report.unknown.append(tracked.client_order_id)
        else:
            manager.apply_answer(tracked, answer)
        report.fills_recorded += len(tracked.fills) - before_fills
        if tracked.status is not before_status:
            report.changed[tracked.client_order_id] = (before_status.value, tracked.status.value)
    return report


def _flag_unknown(manager: OrderManager, db: Database, order: Order, reason: str) -> None:
    """Close an order the venue has no record of, and say so in the audit log."""
    now, cid = manager.clock(), order.client_order_id
    event: OrderEvent
    if order.status is OrderStatus.SUBMITTED:
        event = OrderRejected(cid, now, reason)
    elif order.status is OrderStatus.CANCEL_PENDING:
        event = OrderCanceled(cid, now, reason)
    else:
        event = OrderExpired(cid, now, reason)
    old = {"status": order.status.value, "filled": str(order.filled)}
    manager.apply_events(order, [event])
    audit(db, "reconcile_unknown", cid, old, {"status": order.status.value, "reason": reason})
