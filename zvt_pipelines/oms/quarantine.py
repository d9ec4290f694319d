"""Quarantine: a stored order that fails a consistency check is set aside, not trusted.

Loading a strategy's open orders rebuilds each through the order's own checks (fills never
above the amount, no duplicate or foreign fill, sane values). A row that fails them gets
status QUARANTINED with the reason, an `audit_log` row and an alert through the alert
dispatcher, and is left out of every later load, so it blocks neither its strategy's next
steps nor any other strategy. Its fills stay booked: they happened. An operator inspects
it (`zvt quarantine list`) and resolves it (`zvt quarantine resolve`), audited:

- `cancel`: cancel what may still rest at the venue (when a venue is given), close CANCELED;
- `accept`: take the recorded fills as final, close SETTLED when they cover the amount,
  CANCELED otherwise.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from zvt_pipelines.errors import ConfigError, InvalidOrder, OrderNotFound, VenueError, ZvtError
from zvt_pipelines.model.orders import OrderStatus
from zvt_pipelines.oms.order import TRANSITIONS, EventKind
from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.models import AuditLog, CryptoExecution, CryptoOrder

ZERO = Decimal(0)
QUARANTINED = OrderStatus.QUARANTINED.value


def plain(value: Decimal) -> str:
    """A Decimal without trailing zeros or exponent (PostgreSQL returns 18 decimal places)."""
    return format(value.normalize(), "f")


class QuarantineError(ZvtError):
    """A quarantine command names an order that does not exist or is not quarantined."""


class Resolution(StrEnum):
    CANCEL = "cancel"
    ACCEPT = "accept"


@dataclass(frozen=True)
class QuarantinedOrder:
    """A quarantined order as `zvt quarantine list` shows it."""

    client_order_id: str
    venue_order_id: str | None
    strategy: str | None
    venue: str
    symbol: str
    side: str
    amount: Decimal
    recorded_fills: Decimal
    status_before: str | None
    reason: str
    since: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "client_order_id": self.client_order_id,
            "venue_order_id": self.venue_order_id,
            "strategy": self.strategy,
            "venue": self.venue,
            "symbol": self.symbol,
            "side": self.side,
            "amount": plain(self.amount),
            "recorded_fills": plain(self.recorded_fills),
            "status_before": self.status_before,
            "reason": self.reason,
            "since": self.since.isoformat(),
        }


@dataclass(frozen=True)
class ResolveReport:
    """What resolving did: the order's final status and what the venue said, if asked."""

    client_order_id: str
    action: Resolution
    status: str
    venue_note: str | None


def quarantine_order(db: Database, client_order_id: str, reason: str, actor: str = "oms") -> bool:
    """Quarantine a stored order (audited, alerted); False if it is already quarantined,
    closed, or changed by someone else meanwhile."""
    now = datetime.now(UTC)
    with db.transaction() as session:
        row = session.scalars(
            sa.select(CryptoOrder).where(CryptoOrder.client_order_id == client_order_id)
        ).one_or_none()
        if row is None or not _may_quarantine(row.status):
            return False
        old, strategy, instrument = row.status, row.strategy, f"{row.venue}:{row.symbol}"
        changed = session.execute(
            sa.update(CryptoOrder)
            .where(CryptoOrder.client_order_id == client_order_id, CryptoOrder.status == old)
            .values(status=QUARANTINED, reason=f"quarantined: {reason}", updated_at=now)
        ).rowcount
        if changed != 1:
            return False
        session.add(
            AuditLog(
                at=now,
                actor=actor,
                action="order_quarantined",
                entity="crypto_orders",
                entity_id=client_order_id,
                old={"status": old},
                new={"status": QUARANTINED, "reason": reason, "strategy": strategy},
            )
        )
    _alert(db, client_order_id, strategy, instrument, reason, now)
    return True


def _may_quarantine(status: str) -> bool:
    """The order table allows quarantine from this status (a status unknown to it is itself
    an inconsistency, so it may be quarantined too)."""
    if status not in OrderStatus.__members__.values():
        return True
    return (OrderStatus(status), EventKind.QUARANTINE) in TRANSITIONS


def _alert(
    db: Database, client_order_id: str, strategy: str | None, instrument: str, reason: str, at
) -> None:
    """Raise a HIGH order-execution alert through the dispatcher and the configured channels
    (stored without deliveries when none is configured)."""
    from zvt_pipelines.alerts.alert import Alert, AlertType, Severity
    from zvt_pipelines.alerts.channels.registry import channels_from_env
    from zvt_pipelines.alerts.dispatcher import Dispatcher
    from zvt_pipelines.alerts.store import AlertStore

    alert = Alert(
        type=AlertType.ORDER_EXECUTION,
        severity=Severity.HIGH,
        title=f"order {client_order_id} of {strategy or '-'} quarantined",
        body=(
            f"{reason}. The order is left out of trading until resolved: "
            f"zvt quarantine list; zvt quarantine resolve {client_order_id} "
            "--action cancel|accept --reason ..."
        ),
        at=at,
        condition=f"quarantine/{client_order_id}",
        instrument=instrument,
        fields={"client_order_id": client_order_id, "strategy": strategy, "reason": reason},
    )
    try:
        channels = channels_from_env(os.environ)
    except ZvtError:
        channels = {}  # a misconfigured channel must not hide the alert: store it undelivered
    with Dispatcher(AlertStore(db), channels, charts=False) as dispatcher:
        dispatcher.submit(alert)


def list_quarantined(db: Database, strategy: str | None = None) -> list[QuarantinedOrder]:
    """Quarantined orders (of `strategy` when given), oldest first."""
    query = sa.select(CryptoOrder).where(CryptoOrder.status == QUARANTINED)
    if strategy is not None:
        query = query.where(CryptoOrder.strategy == strategy)
    with db.transaction() as session:
        rows = session.scalars(query.order_by(CryptoOrder.updated_at, CryptoOrder.id)).all()
        ids = [row.client_order_id for row in rows]
        filled = _sum_by_order(session, ids)
        before = {
            audit.entity_id: (audit.old or {}).get("status")
            for audit in session.scalars(
                sa.select(AuditLog)
                .where(AuditLog.action == "order_quarantined", AuditLog.entity_id.in_(ids))
                .order_by(AuditLog.id)
            )
        }
        return [
            QuarantinedOrder(
                row.client_order_id,
                row.venue_order_id,
                row.strategy,
                row.venue,
                row.symbol,
                row.side,
                row.amount,
                filled.get(row.client_order_id, ZERO),
                before.get(row.client_order_id),
                (row.reason or "").removeprefix("quarantined: "),
                row.updated_at,
            )
            for row in rows
        ]


def _sum_by_order(session: Any, ids: list[str]) -> dict[str, Decimal]:
    """Recorded fill amount per order, summed exactly in Python (SQLite stores Decimals as text)."""
    totals: dict[str, Decimal] = {}
    query = sa.select(CryptoExecution).where(CryptoExecution.client_order_id.in_(ids))
    for execution in session.scalars(query):
        totals[execution.client_order_id] = (
            totals.get(execution.client_order_id, ZERO) + execution.amount
        )
    return totals


def resolve_quarantine(
    db: Database,
    client_order_id: str,
    action: str,
    reason: str,
    actor: str,
    venues: dict[str, Any] | None = None,
) -> ResolveReport:
    """Close a quarantined order by `action` (cancel | accept), audited with `reason`."""
    try:
        chosen = Resolution(action)
    except ValueError:
        raise ConfigError(f"--action {action!r}: expected cancel or accept") from None
    if not reason.strip():
        raise ConfigError("--reason '': say why the order is resolved this way (it is audited)")
    with db.transaction() as session:
        row = session.scalars(
            sa.select(CryptoOrder).where(CryptoOrder.client_order_id == client_order_id)
        ).one_or_none()
        if row is None:
            raise QuarantineError(f"order {client_order_id!r}: not in the trading database")
        if row.status != QUARANTINED:
            raise QuarantineError(
                f"order {client_order_id!r}: not quarantined (status {row.status})"
            )
        executions = session.scalars(
            sa.select(CryptoExecution).where(CryptoExecution.client_order_id == client_order_id)
        ).all()
        venue_id, symbol, venue_order_id, amount = (
            row.venue,
            row.symbol,
            row.venue_order_id,
            row.amount,
        )
    venue_note = None
    if chosen is Resolution.CANCEL and venues and venue_id in venues:
        try:
            venues[venue_id].cancel_order(venue_order_id or client_order_id, symbol)
            venue_note = f"canceled at {venue_id}"
        except (OrderNotFound, InvalidOrder) as exc:
            venue_note = f"nothing to cancel at {venue_id}: {exc}"
        except VenueError as exc:
            raise QuarantineError(
                f"order {client_order_id!r}: cancel at {venue_id} failed ({exc}); still quarantined"
            ) from None
    filled = sum((e.amount for e in executions), ZERO)
    cost = sum((e.amount * e.price for e in executions), ZERO)
    fee = sum((e.fee for e in executions), ZERO)
    covered = chosen is Resolution.ACCEPT and filled >= amount
    final = TRANSITIONS[
        (OrderStatus.QUARANTINED, EventKind.SETTLE if covered else EventKind.CANCEL)
    ]
    now = datetime.now(UTC)
    with db.transaction() as session:
        changed = session.execute(
            sa.update(CryptoOrder)
            .where(
                CryptoOrder.client_order_id == client_order_id, CryptoOrder.status == QUARANTINED
            )
            .values(
                status=final.value,
                filled=filled,
                average_price=cost / filled if filled else None,
                fee=fee,
                reason=f"quarantine resolved ({chosen.value}): {reason}",
                updated_at=now,
            )
        ).rowcount
        if changed != 1:
            raise QuarantineError(f"order {client_order_id!r}: resolved by someone else meanwhile")
        session.add(
            AuditLog(
                at=now,
                actor=actor,
                action="quarantine_resolved",
                entity="crypto_orders",
                entity_id=client_order_id,
                old={"status": QUARANTINED},
                new={
                    "status": final.value,
                    "action": chosen.value,
                    "reason": reason,
                    "recorded_fills": plain(filled),
                    "venue": venue_note,
                },
            )
        )
    return ResolveReport(client_order_id, chosen, final.value, venue_note)
