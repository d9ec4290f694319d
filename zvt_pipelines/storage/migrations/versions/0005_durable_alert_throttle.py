"""durable alert throttle windows

Throttle windows per (channel, recipient, dedup key) with their close time and suppressed
count, so a restart or a new sensor tick neither re-sends nor loses the digest; a closed
window stays until its digest is stored (a key may then already have a newer window). Suppressed
alerts themselves are stored as `alerts` rows with a `suppressed` delivery row (no schema
change: `alert_deliveries.status` is a free string column).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 16:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import zvt_pipelines.storage.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_throttle_windows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("dedup_key", sa.String(length=200), nullable=False),
        sa.Column(
            "opened_at", zvt_pipelines.storage.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "closes_at", zvt_pipelines.storage.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("suppressed_count", sa.Integer(), nullable=False),
        sa.Column(
            "first_suppressed_at",
            zvt_pipelines.storage.types.UtcDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column(
            "last_suppressed_at",
            zvt_pipelines.storage.types.UtcDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column("sample_alert_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["sample_alert_id"], ["alerts.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("alert_throttle_windows", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alert_throttle_windows_closes_at"), ["closes_at"], unique=False
        )
        batch_op.create_index(
            "ix_alert_throttle_windows_target",
            ["channel", "recipient", "dedup_key"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("alert_throttle_windows", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_throttle_windows_target")
        batch_op.drop_index(batch_op.f("ix_alert_throttle_windows_closes_at"))
    op.drop_table("alert_throttle_windows")
