"""Bring one strategy's orders and fills in line with its venues before it trades.

Every rebalance (`trading/commands.py`, the `strategy_signals` asset) and `zvt reconcile`
run this first, under the strategy's lock so that it never races a run that is sending:

1. Orders the database does not consider done are settled against their venue
   (`oms/reconcile.py`): missed acks, fills (each recorded once by execution id), cancels.
   On a ccxt venue the order is found by venue id, or by client order id when the crash
   came before the ack; one the venue does not know is closed (REJECTED if never acked).
   A paper venue lives only as long as its process: the strategy's resting limit orders
   are put back (`resting_orders.py`), so an order its book does not know was lost with
   the process that sent it, before anything of it was recorded, and is closed the same way.
2. FILLED orders are marked SETTLED: their fills are in `crypto_executions`, which is the
   strategy's ledger (its account and positions are rebuilt from it).
3. On ccxt venues, what the venue has and the database lacks is listed (not changed, it
   needs a human): open orders with a zvt client id that no row knows, and trades since
   the strategy's last recorded fill that belong to its orders but are not recorded. The
   venue's balances are reported beside the ones the strategy's fills add up to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from zvt_pipelines.model.money import to_decimal
from zvt_pipelines.model.orders import OrderStatus
from zvt_pipelines.oms.manager import OrderManager
from zvt_pipelines.oms.messages import EventBus
from zvt_pipelines.oms.persistence import OrderRecorder, load_active_orders
from zvt_pipelines.oms.reconcile import UNKNOWN_REASON, reconcile
from zvt_pipelines.portfolio.accounts import account_balances, strategy_fills
from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.locks import strategy_lock
from zvt_pipelines.storage.models import CryptoExecution, CryptoOrder
from zvt_pipelines.strategies.config import StrategyConfig
from zvt_pipelines.venues.paper import PaperVenue

LOST_WITH_PROCESS = (
    "reconciliation: the paper venue that took this order ended with its process "
    "before the outcome was recorded; nothing of it was executed"
)
TRADE_SLACK = timedelta(minutes=1)  # venue and database clocks need not agree to the ms
ZVT_CLIENT_ID = "zvt-"  # the prefix of the client ids a rebalance derives


@dataclass
class ReconciliationReport:
    """What reconciling a strategy found and repaired.

    Repaired: `fills_recorded`, `changed` (client id -> (old, new status)), `unknown`
    (orders the venue had no record of, closed), `settled`. Reported only: `orphans`,
    `unbooked_trades`, `balances` (venue -> currency -> {"venue", "booked", "difference"}).
    """

    strategy: str
    checked: int = 0
    fills_recorded: int = 0
    changed: dict[str, tuple[str, str]] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    settled: list[str] = field(default_factory=list)
    orphans: list[dict[str, Any]] = field(default_factory=list)
    unbooked_trades: list[dict[str, Any]] = field(default_factory=list)
    balances: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)

    @property
    def repaired(self) -> int:
        """How many fixes reconciliation wrote (fills, status changes, settlements)."""
        return self.fills_recorded + len(self.changed) + len(self.settled)

    @property
    def needs_attention(self) -> int:
        """How many findings it could not fix on its own."""
        return len(self.orphans) + len(self.unbooked_trades)

    def summary(self) -> str:
        """One line: what was checked, repaired and left for a human."""
        changes = ", ".join(f"{cid} {old}->{new}" for cid, (old, new) in self.changed.items())
        return (
            f"{self.strategy}: {self.checked} open orders checked, {self.fills_recorded} fills "
            f"recorded, {len(self.changed)} status changes{f' ({changes})' if changes else ''}, "
            f"{len(self.settled)} settled, {len(self.orphans)} orphan orders, "
            f"{len(self.unbooked_trades)} unbooked trades"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: every field plus the `repaired` and `needs_attention` counts."""
        data = asdict(self)
        data["changed"] = {cid: list(pair) for cid, pair in self.changed.items()}
        return {**data, "repaired": self.repaired, "needs_attention": self.needs_attention}


def reconcile_strategy(
    db: Database, entry: StrategyConfig, venues: dict[str, Any], clock: Callable[[], datetime]
) -> ReconciliationReport:
    """Reconcile strategy `entry` on `venues` (venue id -> venue) under its lock; see the
    module docstring. Running it twice repairs nothing the second time."""
    with strategy_lock(db, entry.name):
        return _reconcile_locked(db, entry, venues, clock)


def _reconcile_locked(
    db: Database, entry: StrategyConfig, venues: dict[str, Any], clock: Callable[[], datetime]
) -> ReconciliationReport:
    report = ReconciliationReport(entry.name)
    bus = EventBus()
    recorder = OrderRecorder(db, actor=f"reconcile:{entry.name}").attach(bus)
    manager = OrderManager(venues, bus, clock=clock)
    try:
        for venue_id, venue in sorted(venues.items()):
            paper = isinstance(venue, PaperVenue)
            found = reconcile(
                manager,
                db,
                venue_id,
                strategy=entry.name,
                unknown_reason=LOST_WITH_PROCESS if paper else UNKNOWN_REASON,
            )
            report.checked += found.checked
            report.fills_recorded += found.fills_recorded
            report.changed.update(found.changed)
            report.unknown += found.unknown
        for order in load_active_orders(db, strategy=entry.name):
            if order.status is OrderStatus.FILLED and order.venue in venues:
                manager.orders[order.client_order_id] = order
                manager.settle(order.client_order_id)
                report.settled.append(order.client_order_id)
    finally:
        recorder.close()
    for venue_id, venue in sorted(venues.items()):
        if not isinstance(venue, PaperVenue):
            _compare_with_venue(db, entry, venue_id, venue, report)
    return report


def _compare_with_venue(
    db: Database, entry: StrategyConfig, venue_id: str, venue: Any, report: ReconciliationReport
) -> None:
    """List the venue's open orders and trades the database lacks; put balances side by side."""
    symbols = sorted({i.symbol for i in entry.instrument_ids() if i.venue == venue_id})
    known_ids, venue_ids, since = _recorded(db, entry.name, venue_id)
    for symbol in symbols:
        for answer in venue.fetch_open_orders(symbol):
            client_id = str(answer.get("clientOrderId") or "")
            if client_id.startswith(ZVT_CLIENT_ID) and client_id not in known_ids:
                report.orphans.append(
                    {"venue": venue_id, "symbol": symbol, "client_order_id": client_id,
                     "venue_order_id": str(answer.get("id")), "side": answer.get("side"),
                     "amount": str(answer.get("amount")), "price": str(answer.get("price"))}
                )  # fmt: skip
        if since is None:
            continue  # the strategy has no order on this venue: no trade can be its own
        recorded = _execution_ids(db, entry.name, venue_id)
        for trade in venue.fetch_my_trades(symbol, since=since):
            if str(trade.get("order")) in venue_ids and str(trade["id"]) not in recorded:
                report.unbooked_trades.append(
                    {"venue": venue_id, "symbol": symbol, "trade_id": str(trade["id"]),
                     "venue_order_id": str(trade.get("order")), "side": trade.get("side"),
                     "amount": str(trade.get("amount")), "price": str(trade.get("price"))}
                )  # fmt: skip
    booked = account_balances(
        entry.instrument_ids(), entry.capital, strategy_fills(db, entry.name)
    ).get(venue_id, {})
    totals = venue.fetch_balance().get("total", {})
    currencies = sorted(
        {c for i in entry.instrument_ids() if i.venue == venue_id for c in (i.base, i.quote)}
    )
    report.balances[venue_id] = {}
    for currency in currencies:
        at_venue = to_decimal(totals.get(currency) or 0)
        mine = booked.get(currency, Decimal(0))
        report.balances[venue_id][currency] = {
            "venue": _text(at_venue), "booked": _text(mine), "difference": _text(at_venue - mine)
        }  # fmt: skip


def _text(value: Decimal) -> str:
    """A Decimal as plain text without trailing zeros (1.500000 -> 1.5, 0E-8 -> 0)."""
    return format(value.normalize(), "f") if value else "0"


def _recorded(db: Database, strategy: str, venue: str) -> tuple[set[str], set[str], int | None]:
    """The strategy's client ids and venue order ids on `venue`, and (ms) where the trade list
    must start: a little before its last recorded fill, or its first order if none filled."""
    with db.engine.connect() as conn:
        rows = conn.execute(
            sa.select(CryptoOrder.client_order_id, CryptoOrder.venue_order_id).where(
                CryptoOrder.strategy == strategy, CryptoOrder.venue == venue
            )
        ).all()
        last_fill = conn.execute(
            sa.select(sa.func.max(CryptoExecution.executed_at))
            .join(CryptoOrder, CryptoOrder.client_order_id == CryptoExecution.client_order_id)
            .where(CryptoOrder.strategy == strategy, CryptoExecution.venue == venue)
        ).scalar_one()
        first_order = conn.execute(
            sa.select(sa.func.min(CryptoOrder.created_at)).where(
                CryptoOrder.strategy == strategy, CryptoOrder.venue == venue
            )
        ).scalar_one()
    start = last_fill or first_order
    since = None if start is None else int((start - TRADE_SLACK).timestamp() * 1000)
    return {r[0] for r in rows}, {str(r[1]) for r in rows if r[1]}, since


def _execution_ids(db: Database, strategy: str, venue: str) -> set[str]:
    """Execution ids recorded for the strategy's orders on `venue`."""
    query = (
        sa.select(CryptoExecution.execution_id)
        .join(CryptoOrder, CryptoOrder.client_order_id == CryptoExecution.client_order_id)
        .where(CryptoOrder.strategy == strategy, CryptoExecution.venue == venue)
    )
    with db.engine.connect() as conn:
        return set(conn.execute(query).scalars())
