"""Tables of the alerting framework: raised alerts and their delivery status per channel.

Import this module from `storage/models.py` so Alembic's metadata includes these tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from zvt_pipelines.storage.base import Base


class AlertRecord(Base):
    """One raised alert; `fingerprint` (dedup key + event time) makes storing it idempotent."""

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(sa.String(64), unique=True)
    dedup_key: Mapped[str] = mapped_column(sa.String(200), index=True)
    type: Mapped[str] = mapped_column(sa.String(32))
    severity: Mapped[int] = mapped_column(sa.Integer)
    title: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text)
    context: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(index=True)


class AlertDelivery(Base):
    """Delivery of one alert to one channel and recipient ('' for the channel's default).

    status: queued (waits for a digest), pending, sending (claimed by a sender), delivered,
    failed (retries exhausted; `retry_undelivered` tries again).
    """

    __tablename__ = "alert_deliveries"
    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(sa.ForeignKey("alerts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(sa.String(32))
    recipient: Mapped[str] = mapped_column(sa.String(200), default="")
    status: Mapped[str] = mapped_column(sa.String(16))
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    delivered_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    __table_args__ = (
        sa.UniqueConstraint("alert_id", "channel", "recipient", name="uq_alert_delivery_target"),
        sa.Index("ix_alert_deliveries_status", "status"),
    )


class AlertThrottleWindow(Base):
    """One throttle window: the first alert of a key on a channel went out at `opened_at`;
    repeats until `closes_at` are counted here (and stored as `suppressed` deliveries). A
    closed window with a count stays until its digest is stored; one without is deleted."""

    __tablename__ = "alert_throttle_windows"
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(sa.String(32))
    recipient: Mapped[str] = mapped_column(sa.String(200))
    dedup_key: Mapped[str] = mapped_column(sa.String(200))
    opened_at: Mapped[datetime]
    closes_at: Mapped[datetime] = mapped_column(index=True)
    suppressed_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    first_suppressed_at: Mapped[datetime | None]
    last_suppressed_at: Mapped[datetime | None]
    sample_alert_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("alerts.id", ondelete="SET NULL")
    )
    __table_args__ = (
        sa.Index("ix_alert_throttle_windows_target", "channel", "recipient", "dedup_key"),
    )
