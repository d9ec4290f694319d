"""Tables of the strategy lifecycle: each strategy's trading status and its latest targets."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from zvt_pipelines.storage.base import Base


class StrategyStatus(Base):
    """ACTIVE, PAUSED or STOPPED, and the configuration last deployed; changed only with an audit row."""

    __tablename__ = "strategy_status"
    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    status: Mapped[str] = mapped_column(sa.String(16))
    fingerprint: Mapped[str] = mapped_column(sa.String(64), default="")
    config: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    updated_by: Mapped[str] = mapped_column(sa.String(64))
    updated_at: Mapped[datetime]


class TargetPositionRow(Base):
    """The latest target quantity of a strategy in one instrument (what drift is measured against)."""

    __tablename__ = "target_positions"
    strategy: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    venue: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    symbol: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    quantity: Mapped[Decimal]
    price: Mapped[Decimal]
    equity: Mapped[Decimal]
    as_of: Mapped[datetime]
