"""The backtest use case: run one bar-level strategy on a candle frame, book the result,
and pick the best trial of a sweep. `zvt backtest` and the Dagster research jobs call these,
so the engine, the booking and the selection rule exist once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from zvt_pipelines.backtest.engine import run_targets
from zvt_pipelines.backtest.optimize import Direction, Trial
from zvt_pipelines.backtest.result import BacktestResult
from zvt_pipelines.backtest.settings import BacktestSettings
from zvt_pipelines.errors import ConfigError
from zvt_pipelines.model.money import decimal_from_float
from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.performance import record_performance
from zvt_pipelines.strategies import BarStrategy, checked_targets
from zvt_pipelines.strategies.base import BaseCryptoStrategy


def backtest_bar_strategy(
    strategy: BaseCryptoStrategy, frame: pd.DataFrame, settings: BacktestSettings
) -> BacktestResult:
    """The bar engine's result of `strategy`'s targets on `frame` (a bar-level family only)."""
    if not isinstance(strategy, BarStrategy):
        raise ConfigError(
            f"strategy type {strategy.strategy_type!r}: not a bar-level family; "
            "it runs on the simulated venue"
        )
    return run_targets(frame, checked_targets(strategy, frame), settings)


def record_backtest(
    database: Database,
    name: str,
    frame: pd.DataFrame,
    result: BacktestResult,
    run_id: str,
    market: Mapping[str, Any],
) -> None:
    """Book a backtest as its `strategy_performance` row (scope `backtest`, day of its last bar)."""
    record_performance(
        database,
        scope="backtest",
        name=name,
        day=frame["ts"].iloc[-1].date(),
        total_value=decimal_from_float(result.final_equity),
        metrics=result.metrics,
        run_id=run_id,
        trades=result.n_trades,
        fees=decimal_from_float(result.fees_paid),
        details={"bars": len(frame), **market},
    )


def best_trial(trials: Iterable[Trial], direction: Direction | str) -> Trial | None:
    """The scored trial with the highest score (maximize) or the lowest (minimize); the first
    of equals wins; None when no trial has a score."""
    try:
        sign = 1.0 if Direction(direction) is Direction.MAXIMIZE else -1.0
    except ValueError:
        raise ConfigError(f"direction {direction!r}: choose maximize or minimize") from None
    scored = [t for t in trials if t.score is not None]
    return max(scored, key=lambda t: sign * t.score, default=None)
