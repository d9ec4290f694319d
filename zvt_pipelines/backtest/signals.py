"""Vectorised signals for the fast engine: simple moving averages and their crossovers."""

from __future__ import annotations

import numpy as np

from zvt_pipelines.backtest.kernels import cross_targets_nb, decimal_places_nb, rolling_mean_nb
from zvt_pipelines.errors import ConfigError


def check_windows(fast: int, slow: int) -> None:
    """Guard SMA-crossover parameters: integers with 1 <= fast < slow."""
    for name, value in (("fast", fast), ("slow", slow)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ConfigError(f"{name} {value!r}: expected a positive whole number of bars")
    if fast >= slow:
        raise ConfigError(
            f"fast {fast} / slow {slow}: the fast window must be shorter than the slow one"
        )


def sma(close: np.ndarray, window: int) -> np.ndarray:
    """Simple moving average of the last `window` values.

    Parameters
    ----------
    close : 1-d float array
    window : number of values averaged (>= 1)

    Returns
    -------
    ndarray
        ``mean(close[t-window+1 : t+1])`` at t; NaN for the first ``window - 1`` bars
        (warm-up) and wherever the window contains a NaN. The mean is exact arithmetic
        on the prices as decimals, rounded once (see `kernels.rolling_mean_nb`), so
        equal averages are equal floats and crossovers never fire on rounding noise.
    """
    if window < 1:
        raise ConfigError(f"window {window!r}: expected a positive whole number of bars")
    values = np.ascontiguousarray(close, dtype="float64")
    return rolling_mean_nb(values, int(window), decimal_places_nb(values))


def sma_cross_targets(close: np.ndarray, fast: int, slow: int) -> np.ndarray:
    """Long-only targets of an SMA crossover judged on each bar's close.

    1.0 where the fast SMA crosses above the slow one (fast[t] > slow[t] and
    fast[t-1] <= slow[t-1], all four defined), 0.0 where it crosses below
    (fast[t] < slow[t] and fast[t-1] >= slow[t-1]), NaN (hold) elsewhere, including
    the warm-up.
    """
    check_windows(fast, slow)
    return cross_targets_nb(sma(close, fast), sma(close, slow))


def sma_cross_signals(close: np.ndarray, fast: int, slow: int) -> tuple[np.ndarray, np.ndarray]:
    """The crossover as (entries, exits) booleans, see `sma_cross_targets`."""
    targets = sma_cross_targets(close, fast, slow)
    return targets == 1.0, targets == 0.0
