"""Market regime detection: is the price trending or ranging at bar t?

Two documented detectors, both causal (bar t uses bars <= t):

* ``efficiency`` (default): Kaufman's efficiency ratio over `window` bars,
  ``|close[t] - close[t-n]| / sum |close changes|``. A straight line scores 1, a price
  that oscillates without net progress scores near 0. Trending when
  ``ER >= er_threshold``. Robust and parameter-light; it reacts to any persistent drift.
* ``adx``: Wilder's ADX over `window` bars; trending when ``ADX >= adx_threshold`` (25 is
  Wilder's own line). Uses highs and lows, so it sees intrabar directional pressure, at
  the cost of a longer warm-up (2 x window bars).

Mean reversion stands aside in a trend: fading a trend is the classic way it loses.
"""

from __future__ import annotations

import enum
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from zvt_pipelines.analytics.indicators import adx, efficiency_ratio


class Regime(enum.IntEnum):
    """Regime codes as stored in the per-bar array."""

    UNKNOWN = -1  # warm-up: not enough bars yet
    RANGING = 0
    TRENDING = 1


class RegimeParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    method: Literal["efficiency", "adx"] = "efficiency"
    window: int = Field(20, ge=2)
    er_threshold: float = Field(0.3, gt=0, lt=1)
    adx_threshold: float = Field(25.0, gt=0, lt=100)


def detect_regime(frame: pd.DataFrame, params: RegimeParams | None = None) -> np.ndarray:
    """Per-bar `Regime` codes (int8) of a candle frame; UNKNOWN during the warm-up."""
    params = params or RegimeParams()
    close = frame["close"].to_numpy(dtype="float64")
    if params.method == "adx":
        score = adx(
            frame["high"].to_numpy(dtype="float64"),
            frame["low"].to_numpy(dtype="float64"),
            close,
            params.window,
        )
        threshold = params.adx_threshold
    else:
        score = efficiency_ratio(close, params.window)
        threshold = params.er_threshold
    regime = np.where(score >= threshold, Regime.TRENDING, Regime.RANGING).astype("int8")
    regime[np.isnan(score)] = Regime.UNKNOWN
    return regime
