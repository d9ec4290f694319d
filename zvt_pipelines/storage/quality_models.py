"""Execution quality of every order a rebalance sent (what `oms.quality` measures)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from zvt_pipelines.storage.base import Base


class ExecutionQuality(Base):
    """Slippage against arrival and interval VWAP, fill rate, latency and cost of one order."""

    __tablename__ = "execution_quality"
    client_order_id: Mapped[str] = mapped_column(
        sa.String(64), sa.ForeignKey("crypto_orders.client_order_id"), primary_key=True
    )
    strategy: Mapped[str] = mapped_column(sa.String(64), index=True)
    venue: Mapped[str] = mapped_column(sa.String(32))
    symbol: Mapped[str] = mapped_column(sa.String(64))
    side: Mapped[str] = mapped_column(sa.String(4))
    requested: Mapped[Decimal]
    filled: Mapped[Decimal]
    fill_rate: Mapped[Decimal]
    average_price: Mapped[Decimal | None]
    arrival_price: Mapped[Decimal]
    slippage_arrival_bps: Mapped[Decimal | None]
    interval_vwap: Mapped[Decimal | None]
    slippage_vwap_bps: Mapped[Decimal | None]
    first_fill_latency_ms: Mapped[float | None] = mapped_column(sa.Float)
    last_fill_latency_ms: Mapped[float | None] = mapped_column(sa.Float)
    fees: Mapped[Decimal]
    total_cost: Mapped[Decimal]
    submitted_at: Mapped[datetime]
