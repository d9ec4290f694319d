"""Mean reversion: buy a stretched-down price, sell when it is back near its mean, never in a trend.

Oversold at bar t when any enabled trigger fires: RSI < `rsi_low`, close below the lower
Bollinger band, or z-score <= -`z_entry`. Overbought mirrors it (RSI > `rsi_high`, close
above the upper band, z >= `z_entry`).

Per bar, decided on the close, in this order:

1. the regime detector (`regime.py`) says TRENDING or UNKNOWN -> target 0 (stand aside,
   and close any position: the range it was betting on has gone);
2. oversold -> target 1 (long);
3. overbought -> target -1 if `allow_short`, else 0;
4. |z| <= `z_exit` (back at the mean) -> target 0;
5. otherwise no instruction (hold).

The fast engine is long-only, so backtests use ``allow_short: false``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

from zvt_pipelines.analytics.indicators import bollinger, rsi, zscore
from zvt_pipelines.strategies.base import BarStrategy, StrategyParams
from zvt_pipelines.strategies.regime import Regime, RegimeParams, detect_regime
from zvt_pipelines.strategies.registry import register_strategy


class MeanReversionParams(StrategyParams):
    triggers: tuple[Literal["rsi", "bollinger", "zscore"], ...] = ("rsi", "bollinger", "zscore")
    rsi_window: int = Field(14, ge=2)
    rsi_low: float = Field(30.0, gt=0, lt=50)
    rsi_high: float = Field(70.0, gt=50, lt=100)
    bb_window: int = Field(20, ge=2)
    bb_k: float = Field(2.0, gt=0)
    z_window: int = Field(20, ge=2)
    z_entry: float = Field(2.0, gt=0)
    z_exit: float = Field(0.5, ge=0)
    allow_short: bool = False
    regime: RegimeParams = Field(default_factory=RegimeParams)


@register_strategy("mean_reversion")
class MeanReversionStrategy(BarStrategy):
    """RSI / Bollinger / z-score reversion, switched off by the regime detector in trends."""

    params_model = MeanReversionParams
    params: MeanReversionParams

    def extremes(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(oversold, overbought) booleans per bar from the enabled triggers."""
        p = self.params
        close = frame["close"].to_numpy(dtype="float64")
        oversold = np.zeros(len(close), dtype=bool)
        overbought = np.zeros(len(close), dtype=bool)
        if "rsi" in p.triggers:
            strength = rsi(close, p.rsi_window)
            oversold |= strength < p.rsi_low
            overbought |= strength > p.rsi_high
        if "bollinger" in p.triggers:
            lower, _, upper = bollinger(close, p.bb_window, p.bb_k)
            oversold |= close < lower
            overbought |= close > upper
        if "zscore" in p.triggers:
            z = zscore(close, p.z_window)
            oversold |= z <= -p.z_entry
            overbought |= z >= p.z_entry
        return oversold, overbought

    def target_series(self, frame: pd.DataFrame) -> np.ndarray:
        p = self.params
        oversold, overbought = self.extremes(frame)
        z = zscore(frame["close"].to_numpy(dtype="float64"), p.z_window)
        targets = np.full(len(frame), np.nan)
        targets[np.abs(z) <= p.z_exit] = 0.0
        targets[overbought] = -1.0 if p.allow_short else 0.0
        targets[oversold] = 1.0
        targets[detect_regime(frame, p.regime) != Regime.RANGING] = 0.0
        return targets
