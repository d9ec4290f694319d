"""The reference strategy: long-only crossover of two simple moving averages of the close.

Target 1 (all in) on the bar where SMA(fast) crosses above SMA(slow), target 0 (flat) where
it crosses below, no instruction in between. The crossover itself is the backtest package's
`sma_cross_targets`, so this strategy and `zvt backtest` follow one contract.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from zvt_pipelines.analytics.indicators import sma_cross_targets
from zvt_pipelines.strategies.base import BarStrategy, StrategyParams
from zvt_pipelines.strategies.registry import register_strategy


class SmaCrossParams(StrategyParams):
    fast: int = Field(10, ge=1, description="bars in the fast SMA")
    slow: int = Field(30, ge=2, description="bars in the slow SMA")

    @model_validator(mode="after")
    def _ordered(self) -> SmaCrossParams:
        if self.fast >= self.slow:
            raise ValueError(f"fast {self.fast} must be shorter than slow {self.slow}")
        return self


@register_strategy("sma_cross")
class SmaCrossStrategy(BarStrategy):
    """Fast/slow SMA crossover, long-only."""

    params_model = SmaCrossParams
    params: SmaCrossParams

    def target_series(self, frame: pd.DataFrame) -> np.ndarray:
        close = frame["close"].to_numpy(dtype="float64")
        return sma_cross_targets(close, self.params.fast, self.params.slow)
