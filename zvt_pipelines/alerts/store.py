"""Alerts and their per-channel delivery status in the trading database.

Claiming a delivery is one conditional UPDATE (`status` pending/failed -> sending), so two
senders never both deliver the same row: a delivery goes out once even when
`retry_undelivered` runs concurrently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa

from zvt_pipelines.alerts.alert import Alert
from zvt_pipelines.alerts.clock import Clock, utc_now
from zvt_pipelines.errors import StorageError
from zvt_pipelines.storage.alert_models import AlertDelivery, AlertRecord, AlertThrottleWindow
from zvt_pipelines.storage.database import Database

MAX_ERROR_LENGTH = 2000


class DeliveryStatus(StrEnum):
    QUEUED = "queued"
    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"
    SUPPRESSED = "suppressed"  # held back by the throttle; counted in its window's digest


@dataclass(frozen=True)
class Target:
    """Where one delivery goes: a channel, a recipient ('' = channel default) and whether it is
    queued for a digest."""

    channel: str
    recipient: str = ""
    queued: bool = False


@dataclass(frozen=True)
class StoredDelivery:
    """A delivery row with its alert, as senders and listings need it."""

    delivery_id: int
    alert_id: int
    channel: str
    recipient: str
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    alert: Alert


def alert_of(row: AlertRecord) -> Alert:
    """The alert a stored row holds."""
    return Alert.from_stored(
        type=row.type, severity=row.severity, title=row.title, body=row.body, context=row.context
    )


class AlertStore:
    """Repository of alerts and deliveries on a migrated `Database`."""

    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self.db = db
        self.clock = clock

    def add(
        self, alert: Alert, targets: Sequence[Target], suppressed: Sequence[Target] = ()
    ) -> tuple[int, list[int]] | None:
        """Store the alert and one delivery per target in one transaction.

        `suppressed` targets get a `suppressed` delivery and the alert becomes the sample of
        their open throttle window (what its digest quotes). Returns (alert id, delivery ids
        of `targets` in order), or None when this occurrence (same fingerprint) is already
        stored, so a re-evaluated tick never alerts twice.
        """
        now = self.clock()
        try:
            with self.db.transaction() as session:
                exists = session.scalar(
                    sa.select(AlertRecord.id).where(AlertRecord.fingerprint == alert.fingerprint)
                )
                if exists is not None:
                    return None
                record = AlertRecord(
                    fingerprint=alert.fingerprint,
                    dedup_key=alert.dedup_key,
                    type=alert.type.value,
                    severity=int(alert.severity),
                    title=alert.title[:300],
                    body=alert.body,
                    context=alert.context(),
                    created_at=alert.at,
                )
                session.add(record)
                session.flush()
                deliveries = [
                    AlertDelivery(
                        alert_id=record.id,
                        channel=t.channel,
                        recipient=t.recipient,
                        status=DeliveryStatus.QUEUED if t.queued else DeliveryStatus.PENDING,
                        attempts=0,
                        updated_at=now,
                    )
                    for t in targets
                ]
                session.add_all(deliveries)
                for target in suppressed:
                    session.add(
                        AlertDelivery(
                            alert_id=record.id,
                            channel=target.channel,
                            recipient=target.recipient,
                            status=DeliveryStatus.SUPPRESSED,
                            attempts=0,
                            updated_at=now,
                        )
                    )
                    session.execute(
                        sa.update(AlertThrottleWindow)
                        .where(
                            AlertThrottleWindow.channel == target.channel,
                            AlertThrottleWindow.recipient == target.recipient,
                            AlertThrottleWindow.dedup_key == alert.dedup_key,
                            AlertThrottleWindow.closes_at > now,
                        )
                        .values(sample_alert_id=record.id)
                    )
                session.flush()
                return record.id, [d.id for d in deliveries]
        except sa.exc.IntegrityError:
            return None  # a concurrent writer stored the same occurrence first
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"storing alert {alert.dedup_key!r}: {exc}") from exc

    def exists(self, alert: Alert) -> bool:
        """True when this occurrence (fingerprint) is already stored."""
        with self.db.transaction() as session:
            query = sa.select(AlertRecord.id).where(AlertRecord.fingerprint == alert.fingerprint)
            return session.scalar(query) is not None

    def claim(self, delivery_id: int, stale_after: timedelta = timedelta(minutes=10)) -> bool:
        """Take a pending, failed (or stale sending) delivery for sending; False if someone else has it."""
        now = self.clock()
        claimable = sa.or_(
            AlertDelivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.FAILED]),
            sa.and_(
                AlertDelivery.status == DeliveryStatus.SENDING,
                AlertDelivery.updated_at < now - stale_after,
            ),
        )
        statement = (
            sa.update(AlertDelivery)
            .where(AlertDelivery.id == delivery_id, claimable)
            .values(status=DeliveryStatus.SENDING, updated_at=now)
        )
        with self.db.transaction() as session:
            return session.execute(statement).rowcount == 1

    def claim_queued(self, delivery_ids: Sequence[int]) -> list[int]:
        """Take queued deliveries for a digest; returns the ids this caller now owns."""
        owned = []
        now = self.clock()
        with self.db.transaction() as session:
            for delivery_id in delivery_ids:
                statement = (
                    sa.update(AlertDelivery)
                    .where(
                        AlertDelivery.id == delivery_id,
                        AlertDelivery.status == DeliveryStatus.QUEUED,
                    )
                    .values(status=DeliveryStatus.SENDING, updated_at=now)
                )
                if session.execute(statement).rowcount == 1:
                    owned.append(delivery_id)
        return owned

    def finish(
        self,
        delivery_ids: Sequence[int],
        attempts: int,
        error: str | None,
        *,
        requeue: bool = False,
    ) -> None:
        """Record the outcome: delivered (no error), failed, or back to queued (`requeue`)."""
        now = self.clock()
        if error is None:
            values = {"status": DeliveryStatus.DELIVERED, "delivered_at": now, "last_error": None}
        else:
            status = DeliveryStatus.QUEUED if requeue else DeliveryStatus.FAILED
            values = {"status": status, "last_error": error[:MAX_ERROR_LENGTH]}
        with self.db.transaction() as session:
            session.execute(
                sa.update(AlertDelivery)
                .where(AlertDelivery.id.in_(list(delivery_ids)))
                .values(attempts=AlertDelivery.attempts + attempts, updated_at=now, **values)
            )

    def deliveries(
        self,
        statuses: Sequence[DeliveryStatus] | None = None,
        channel: str | None = None,
        alert_id: int | None = None,
        limit: int = 1000,
    ) -> list[StoredDelivery]:
        """Deliveries with their alerts, oldest first, filtered by status, channel or alert."""
        query = sa.select(AlertDelivery, AlertRecord).join(
            AlertRecord, AlertRecord.id == AlertDelivery.alert_id
        )
        if statuses is not None:
            query = query.where(AlertDelivery.status.in_(list(statuses)))
        if channel is not None:
            query = query.where(AlertDelivery.channel == channel)
        if alert_id is not None:
            query = query.where(AlertDelivery.alert_id == alert_id)
        query = query.order_by(AlertDelivery.id).limit(limit)
        with self.db.transaction() as session:
            rows = session.execute(query).all()
            return [
                StoredDelivery(
                    delivery_id=d.id,
                    alert_id=a.id,
                    channel=d.channel,
                    recipient=d.recipient,
                    status=DeliveryStatus(d.status),
                    attempts=d.attempts,
                    last_error=d.last_error,
                    alert=alert_of(a),
                )
                for d, a in rows
            ]

    def recent_alerts(
        self, limit: int = 50, since: datetime | None = None
    ) -> list[tuple[int, Alert]]:
        """The newest stored alerts (id, alert), newest first."""
        query = sa.select(AlertRecord).order_by(
            AlertRecord.created_at.desc(), AlertRecord.id.desc()
        )
        if since is not None:
            query = query.where(AlertRecord.created_at >= since)
        with self.db.transaction() as session:
            return [(r.id, alert_of(r)) for r in session.scalars(query.limit(limit))]

    def count_alerts(self) -> int:
        with self.db.transaction() as session:
            return session.scalar(sa.select(sa.func.count()).select_from(AlertRecord)) or 0
