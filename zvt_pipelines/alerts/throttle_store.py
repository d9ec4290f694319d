"""Throttling kept in the trading database, so a restart or a new sensor tick neither re-sends
inside a cooldown nor loses the digest of what it suppressed.

Same contract as `throttle.Throttle` (`admit`, `due`, `pending_count`), with the state in
`alert_throttle_windows`: `admit` opens a window (the alert goes out) or counts a repeat in
the open one, in one transaction serialised per key, so two processes admitting the same key
at once send it once. `due` hands back a `Suppressed` summary per closed window
that counted something; the dispatcher stores its digest and then calls `digested`, which
deletes the window. A crash between the two re-creates the same digest (same fingerprint),
which the alert store ignores, so a digest is neither lost nor sent twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from zvt_pipelines.alerts.alert import Alert
from zvt_pipelines.alerts.clock import Clock, utc_now
from zvt_pipelines.alerts.store import alert_of
from zvt_pipelines.alerts.throttle import Suppressed, check_cooldowns
from zvt_pipelines.errors import StorageError
from zvt_pipelines.storage.alert_models import AlertRecord, AlertThrottleWindow
from zvt_pipelines.storage.database import Database


def _serialise(session: Session, channel: str, recipient: str, dedup_key: str) -> None:
    """Make concurrent admits of one target and key take turns, so exactly one opens a window.

    PostgreSQL: a transaction-level advisory lock on the key's hash. SQLite: a write first
    (matching no row), which takes the database's write lock before the window is read.
    """
    if session.get_bind().dialect.name == "postgresql":
        digest = hashlib.sha256(f"zvt-throttle:{channel}|{recipient}|{dedup_key}".encode())
        key = int.from_bytes(digest.digest()[:8], "big", signed=True)
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))
    else:
        session.execute(
            sa.update(AlertThrottleWindow)
            .where(sa.false())
            .values(suppressed_count=AlertThrottleWindow.suppressed_count)
        )


class StoredThrottle:
    """Cooldown per (channel, recipient, dedup key) with windows stored in `db`."""

    def __init__(
        self,
        db: Database,
        cooldown: timedelta = timedelta(minutes=15),
        cooldowns: Mapping[str, timedelta] | None = None,
        clock: Clock = utc_now,
    ) -> None:
        check_cooldowns(cooldown, cooldowns)
        self.db = db
        self.cooldown = cooldown
        self.cooldowns = dict(cooldowns or {})
        self.clock = clock

    def cooldown_for(self, channel: str) -> timedelta:
        return self.cooldowns.get(channel, self.cooldown)

    def admit(self, channel: str, recipient: str, alert: Alert) -> bool:
        """True when the alert may go out on this channel now; otherwise it is counted."""
        now = self.clock()
        open_window = (
            sa.select(AlertThrottleWindow)
            .where(
                AlertThrottleWindow.channel == channel,
                AlertThrottleWindow.recipient == recipient,
                AlertThrottleWindow.dedup_key == alert.dedup_key,
                AlertThrottleWindow.closes_at > now,
            )
            .order_by(AlertThrottleWindow.opened_at.desc())
            .limit(1)
        )
        try:
            with self.db.transaction() as session:
                _serialise(session, channel, recipient, alert.dedup_key)
                window = session.scalars(open_window).first()
                if window is None:
                    session.add(
                        AlertThrottleWindow(
                            channel=channel,
                            recipient=recipient,
                            dedup_key=alert.dedup_key,
                            opened_at=now,
                            closes_at=now + self.cooldown_for(channel),
                            suppressed_count=0,
                        )
                    )
                    return True
                window.suppressed_count += 1
                window.first_suppressed_at = window.first_suppressed_at or now
                window.last_suppressed_at = now
                return False
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"throttling alert {alert.dedup_key!r}: {exc}") from exc

    def due(self) -> list[Suppressed]:
        """Summaries of closed windows that suppressed something (oldest first); closed windows
        that suppressed nothing are deleted."""
        now = self.clock()
        closed = (
            sa.select(AlertThrottleWindow, AlertRecord)
            .outerjoin(AlertRecord, AlertRecord.id == AlertThrottleWindow.sample_alert_id)
            .where(AlertThrottleWindow.closes_at <= now)
            .order_by(AlertThrottleWindow.closes_at, AlertThrottleWindow.id)
        )
        with self.db.transaction() as session:
            session.execute(
                sa.delete(AlertThrottleWindow).where(
                    AlertThrottleWindow.closes_at <= now,
                    AlertThrottleWindow.suppressed_count == 0,
                )
            )
            return [
                Suppressed(
                    channel=window.channel,
                    recipient=window.recipient,
                    dedup_key=window.dedup_key,
                    count=window.suppressed_count,
                    first_at=window.first_suppressed_at,
                    last_at=window.last_suppressed_at,
                    sample=alert_of(sample),
                    window_id=window.id,
                )
                for window, sample in session.execute(closed).all()
                if sample is not None and window.suppressed_count
            ]

    def digested(self, suppressed: Suppressed) -> None:
        """Forget a window once its digest is stored."""
        with self.db.transaction() as session:
            session.execute(
                sa.delete(AlertThrottleWindow).where(AlertThrottleWindow.id == suppressed.window_id)
            )

    def pending_count(self) -> int:
        """How many triggers are suppressed in windows that are still open."""
        query = sa.select(sa.func.coalesce(sa.func.sum(AlertThrottleWindow.suppressed_count), 0))
        with self.db.transaction() as session:
            return int(session.scalar(query.where(AlertThrottleWindow.closes_at > self.clock())))
