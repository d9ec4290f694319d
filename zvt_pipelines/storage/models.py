"""SQLAlchemy 2.0 models of the trading database (the schema Alembic migrates to)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from zvt_pipelines.storage.base import Base

ZERO = Decimal(0)


class CryptoOrder(Base):
    """One order as the OMS knows it; `client_order_id` makes submission idempotent."""

    __tablename__ = "crypto_orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_order_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    venue_order_id: Mapped[str | None] = mapped_column(sa.String(128))
    venue: Mapped[str] = mapped_column(sa.String(32))
    symbol: Mapped[str] = mapped_column(sa.String(64))
    side: Mapped[str] = mapped_column(sa.String(4))
    order_type: Mapped[str] = mapped_column(sa.String(16))
    time_in_force: Mapped[str] = mapped_column(sa.String(8))
    amount: Mapped[Decimal]
    price: Mapped[Decimal | None]
    stop_price: Mapped[Decimal | None]
    status: Mapped[str] = mapped_column(sa.String(20))
    filled: Mapped[Decimal] = mapped_column(default=ZERO)
    average_price: Mapped[Decimal | None]
    fee: Mapped[Decimal] = mapped_column(default=ZERO)
    fee_currency: Mapped[str | None] = mapped_column(sa.String(16))
    strategy: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    parent_client_order_id: Mapped[str | None] = mapped_column(sa.String(64))
    linked_client_order_id: Mapped[str | None] = mapped_column(sa.String(64))
    params: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    __table_args__ = (sa.Index("ix_crypto_orders_venue_status", "venue", "status"),)


class CryptoExecution(Base):
    """One fill; unique per venue trade id so a replayed fill is recorded once."""

    __tablename__ = "crypto_executions"
    id: Mapped[int] = mapped_column(primary_key=True)
    execution_id: Mapped[str] = mapped_column(sa.String(128))
    client_order_id: Mapped[str] = mapped_column(
        sa.String(64), sa.ForeignKey("crypto_orders.client_order_id"), index=True
    )
    venue: Mapped[str] = mapped_column(sa.String(32))
    symbol: Mapped[str] = mapped_column(sa.String(64))
    side: Mapped[str] = mapped_column(sa.String(4))
    amount: Mapped[Decimal]
    price: Mapped[Decimal]
    fee: Mapped[Decimal] = mapped_column(default=ZERO)
    fee_currency: Mapped[str | None] = mapped_column(sa.String(16))
    liquidity: Mapped[str | None] = mapped_column(sa.String(8))
    executed_at: Mapped[datetime]
    __table_args__ = (sa.UniqueConstraint("venue", "execution_id", name="uq_execution_venue_id"),)


class CryptoPosition(Base):
    """A position per venue, symbol and strategy ('' for the account as a whole)."""

    __tablename__ = "crypto_positions"
    id: Mapped[int] = mapped_column(primary_key=True)
    venue: Mapped[str] = mapped_column(sa.String(32))
    symbol: Mapped[str] = mapped_column(sa.String(64))
    strategy: Mapped[str] = mapped_column(sa.String(64), default="")
    quantity: Mapped[Decimal] = mapped_column(default=ZERO)
    average_entry_price: Mapped[Decimal | None]
    realized_pnl: Mapped[Decimal] = mapped_column(default=ZERO)
    unrealized_pnl: Mapped[Decimal] = mapped_column(default=ZERO)
    mark_price: Mapped[Decimal | None]
    fees_paid: Mapped[Decimal] = mapped_column(default=ZERO)
    margin_used: Mapped[Decimal] = mapped_column(default=ZERO)
    leverage: Mapped[Decimal] = mapped_column(default=Decimal(1))
    accounting_method: Mapped[str] = mapped_column(sa.String(8), default="FIFO")
    updated_at: Mapped[datetime]
    __table_args__ = (
        sa.UniqueConstraint(
            "venue", "symbol", "strategy", name="uq_position_venue_symbol_strategy"
        ),
    )


class StrategyPerformance(Base):
    """Daily performance per scope (strategy, venue, asset, portfolio, backtest) and name."""

    __tablename__ = "strategy_performance"
    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(sa.String(16))
    name: Mapped[str] = mapped_column(sa.String(128))
    date: Mapped[date] = mapped_column(sa.Date)
    run_id: Mapped[str] = mapped_column(sa.String(64), default="")
    total_value: Mapped[Decimal]
    daily_pnl: Mapped[Decimal] = mapped_column(default=ZERO)
    total_return: Mapped[float | None] = mapped_column(sa.Float)
    sharpe: Mapped[float | None] = mapped_column(sa.Float)
    sortino: Mapped[float | None] = mapped_column(sa.Float)
    max_drawdown: Mapped[float | None] = mapped_column(sa.Float)
    win_rate: Mapped[float | None] = mapped_column(sa.Float)
    avg_win_loss_ratio: Mapped[float | None] = mapped_column(sa.Float)
    trades: Mapped[int] = mapped_column(default=0)
    fees: Mapped[Decimal] = mapped_column(default=ZERO)
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    __table_args__ = (
        sa.UniqueConstraint(
            "scope", "name", "date", "run_id", name="uq_performance_scope_name_date_run"
        ),
    )


class MarketOhlcv(Base):
    """Candles keyed by venue, symbol, timeframe and open time (UTC)."""

    __tablename__ = "market_ohlcv"
    venue: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    symbol: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    timeframe: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    open_time: Mapped[datetime] = mapped_column(primary_key=True)
    open: Mapped[Decimal]
    high: Mapped[Decimal]
    low: Mapped[Decimal]
    close: Mapped[Decimal]
    volume: Mapped[Decimal]


class FundingRate(Base):
    """Perpetual funding rates per settlement time (fraction per interval)."""

    __tablename__ = "funding_rates"
    venue: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    symbol: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    funding_time: Mapped[datetime] = mapped_column(primary_key=True)
    rate: Mapped[Decimal]


class AuditLog(Base):
    """Who changed what and when, with the old and new values."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(sa.String(64))
    action: Mapped[str] = mapped_column(sa.String(64))
    entity: Mapped[str] = mapped_column(sa.String(64))
    entity_id: Mapped[str] = mapped_column(sa.String(128))
    old: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    new: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)


# The other tables live in modules of their own; importing them here registers them on
# Base.metadata, so Alembic and `create_all` see the whole schema from this one module.
from zvt_pipelines.storage import (  # noqa: E402,F401
    alert_models,
    lifecycle_models,
    quality_models,
)
