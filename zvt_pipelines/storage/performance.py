"""Rows of `strategy_performance`: daily live figures and backtest results, upserted."""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.models import StrategyPerformance

_FLOAT_FIELDS = (
    "total_return",
    "sharpe",
    "sortino",
    "max_drawdown",
    "win_rate",
    "avg_win_loss_ratio",
)


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def record_performance(
    db: Database,
    *,
    scope: str,
    name: str,
    day: date,
    total_value: Decimal,
    metrics: dict[str, Any],
    run_id: str = "",
    daily_pnl: Decimal = Decimal(0),
    trades: int = 0,
    fees: Decimal = Decimal(0),
    details: dict[str, Any] | None = None,
) -> None:
    """Insert or replace the row of (scope, name, day, run_id) in one transaction."""
    values = {
        "scope": scope,
        "name": name,
        "date": day,
        "run_id": run_id,
        "total_value": total_value,
        "daily_pnl": daily_pnl,
        "trades": trades,
        "fees": fees,
        "details": {
            k: _finite(v) if isinstance(v, int | float) else v for k, v in (details or {}).items()
        },
        **{field: _finite(metrics.get(field)) for field in _FLOAT_FIELDS},
    }
    with db.transaction() as session:
        session.execute(
            sa.delete(StrategyPerformance).where(
                StrategyPerformance.scope == scope,
                StrategyPerformance.name == name,
                StrategyPerformance.date == day,
                StrategyPerformance.run_id == run_id,
            )
        )
        session.add(StrategyPerformance(**values))


def load_performance(
    db: Database, scope: str | None = None, name: str | None = None
) -> list[StrategyPerformance]:
    """Stored rows, newest day first."""
    query = sa.select(StrategyPerformance).order_by(
        StrategyPerformance.date.desc(), StrategyPerformance.id.desc()
    )
    if scope is not None:
        query = query.where(StrategyPerformance.scope == scope)
    if name is not None:
        query = query.where(StrategyPerformance.name == name)
    with db.transaction() as session:
        return list(session.scalars(query))
