"""Vectorised technical indicators over float64 arrays, causal by construction.

Every function takes 1-d arrays and returns an array of the same length whose value at
bar t depends only on inputs at bars <= t (no centring, no back-filling): the warm-up
bars, where the window is not yet full, are NaN. Conventions, stated once:

* SMA: mean of the last n values, exact (``sma``): equal averages are
  equal floats, so comparisons between them never turn on rounding noise.
* EMA: ``alpha = 2 / (n + 1)``, seeded with the SMA of the first n values, so its first
  value is at index n-1 (the common charting convention; pandas ``adjust=False`` seeds
  with the first value instead).
* Wilder smoothing (RMA, used by RSI, ATR, ADX): ``alpha = 1 / n``, seeded the same way.
* Recursive averages (EMA, RMA) start at the first run of n non-NaN values after any
  leading NaNs; a NaN after that point makes every later value NaN.
* Standard deviations are population (``ddof=0``, Bollinger's own definition) unless
  ``ddof`` says otherwise.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from zvt_pipelines.analytics.indicator_kernels import (
    cross_targets_nb,
    decimal_places_nb,
    rolling_mean_nb,
)
from zvt_pipelines.errors import ConfigError

__all__ = [
    "adx",
    "atr",
    "bollinger",
    "efficiency_ratio",
    "ema",
    "macd",
    "rma",
    "rolling_max",
    "rolling_min",
    "rolling_std",
    "rsi",
    "sma",
    "true_range",
    "zscore",
]


def _window(window: int, name: str = "window") -> int:
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 1:
        raise ConfigError(f"{name} {window!r}: expected a positive whole number of bars")
    return int(window)


def _as_array(values: object) -> np.ndarray:
    return np.ascontiguousarray(values, dtype="float64")


def _recursive_mean(values: object, window: int, alpha: float) -> np.ndarray:
    """``y[t] = alpha x[t] + (1 - alpha) y[t-1]`` seeded with the SMA of the first window."""
    x = _as_array(values)
    out = np.full(x.shape[0], np.nan)
    valid = np.flatnonzero(~np.isnan(x))
    if valid.size == 0:
        return out
    start = int(valid[0])
    seed_end = start + window  # exclusive
    if seed_end > x.shape[0]:
        return out
    seed = sma(x[start:seed_end], window)[-1]  # the exact mean, as every SMA here
    out[seed_end - 1] = seed
    rest = x[seed_end:]
    if rest.size:
        from scipy.signal import lfilter  # here: importing scipy.signal costs ~2 s per process

        # lfilter solves y[k] = alpha x[k] + (1 - alpha) y[k-1] with y[-1] = seed.
        zi = np.array([(1.0 - alpha) * seed])
        out[seed_end:], _ = lfilter([alpha], [1.0, -(1.0 - alpha)], rest, zi=zi)
    return out


def ema(values: object, window: int) -> np.ndarray:
    """Exponential moving average, ``alpha = 2 / (window + 1)``, SMA-seeded (see module)."""
    window = _window(window)
    return _recursive_mean(values, window, 2.0 / (window + 1.0))


def rma(values: object, window: int) -> np.ndarray:
    """Wilder's moving average, ``alpha = 1 / window``, SMA-seeded (see module)."""
    window = _window(window)
    return _recursive_mean(values, window, 1.0 / window)


def rolling_std(values: object, window: int, ddof: int = 0) -> np.ndarray:
    """Standard deviation of the last `window` values (population by default)."""
    window = _window(window)
    x = _as_array(values)
    out = np.full(x.shape[0], np.nan)
    if x.shape[0] >= window and window > ddof:
        out[window - 1 :] = sliding_window_view(x, window).std(axis=1, ddof=ddof)
    return out


def rolling_max(values: object, window: int) -> np.ndarray:
    """Maximum of the last `window` values."""
    window = _window(window)
    x = _as_array(values)
    out = np.full(x.shape[0], np.nan)
    if x.shape[0] >= window:
        out[window - 1 :] = sliding_window_view(x, window).max(axis=1)
    return out


def rolling_min(values: object, window: int) -> np.ndarray:
    """Minimum of the last `window` values."""
    window = _window(window)
    x = _as_array(values)
    out = np.full(x.shape[0], np.nan)
    if x.shape[0] >= window:
        out[window - 1 :] = sliding_window_view(x, window).min(axis=1)
    return out


def rsi(close: object, window: int = 14) -> np.ndarray:
    """Wilder's Relative Strength Index in [0, 100].

    Changes ``d[t] = close[t] - close[t-1]``; gains ``max(d, 0)``, losses ``max(-d, 0)``;
    both averaged with Wilder's RMA seeded by the mean of the first `window` changes, so
    the first value is at index `window`. ``RSI = 100 - 100 / (1 + avg_gain / avg_loss)``;
    100 when there are no losses, 50 when the price did not move at all.
    """
    window = _window(window)
    x = _as_array(close)
    out = np.full(x.shape[0], np.nan)
    if x.shape[0] <= window:
        return out
    change = np.diff(x)
    gain = rma(np.maximum(change, 0.0), window)
    loss = rma(np.maximum(-change, 0.0), window)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = 100.0 - 100.0 / (1.0 + gain / loss)
    value = np.where((loss == 0.0) & (gain > 0.0), 100.0, value)
    value = np.where((loss == 0.0) & (gain == 0.0), 50.0, value)
    out[1:] = np.where(np.isnan(gain) | np.isnan(loss), np.nan, value)
    return out


def macd(
    close: object, fast: int = 12, slow: int = 26, signal: int = 9
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MACD line ``EMA(fast) - EMA(slow)``, its signal line ``EMA(signal)`` of the MACD
    line (seeded at the first `signal` defined MACD values) and the histogram line - signal.
    """
    if _window(fast, "fast") >= _window(slow, "slow"):
        raise ConfigError(f"macd fast {fast} / slow {slow}: fast must be shorter than slow")
    line = ema(close, fast) - ema(close, slow)
    signal_line = ema(line, _window(signal, "signal"))
    return line, signal_line, line - signal_line


def bollinger(
    close: object, window: int = 20, k: float = 2.0, ddof: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bollinger bands (lower, middle, upper): SMA(window) -/+ k population std devs."""
    middle = sma(_as_array(close), _window(window))
    width = k * rolling_std(close, window, ddof)
    return middle - width, middle, middle + width


def zscore(close: object, window: int = 20, ddof: int = 0) -> np.ndarray:
    """``(close - SMA) / std`` over the last `window` values; NaN where the std is 0."""
    x = _as_array(close)
    std = rolling_std(x, window, ddof)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(std > 0, (x - sma(x, _window(window))) / std, np.nan)


def true_range(high: object, low: object, close: object) -> np.ndarray:
    """``max(high - low, |high - prev close|, |low - prev close|)``; high - low on bar 0."""
    h, lo, c = _as_array(high), _as_array(low), _as_array(close)
    previous = np.concatenate(([np.nan], c[:-1]))
    ranges = np.vstack((h - lo, np.abs(h - previous), np.abs(lo - previous)))
    return np.nanmax(ranges, axis=0)


def atr(high: object, low: object, close: object, window: int = 14) -> np.ndarray:
    """Average True Range: Wilder's RMA of the true range."""
    return rma(true_range(high, low, close), window)


def adx(high: object, low: object, close: object, window: int = 14) -> np.ndarray:
    """Wilder's Average Directional Index in [0, 100] (trend strength, not direction).

    ``+DM = up move`` when the high rose more than the low fell (and > 0), else 0;
    ``-DM`` mirrors it. ``+DI = 100 RMA(+DM) / RMA(TR)`` and ``-DI`` alike, over the moves
    from bar 1 on; ``DX = 100 |+DI - -DI| / (+DI + -DI)``; ADX is the RMA of DX, so the
    first value is at index ``2 * window - 1``.
    """
    window = _window(window)
    h, lo, c = _as_array(high), _as_array(low), _as_array(close)
    out = np.full(h.shape[0], np.nan)
    if h.shape[0] < 2:
        return out
    up = h[1:] - h[:-1]
    down = lo[:-1] - lo[1:]
    plus_dm = np.where((up > down) & (up > 0), up, 0.0)
    minus_dm = np.where((down > up) & (down > 0), down, 0.0)
    tr = true_range(h, lo, c)[1:]
    smoothed_tr = rma(tr, window)
    with np.errstate(divide="ignore", invalid="ignore"):
        plus_di = 100.0 * rma(plus_dm, window) / smoothed_tr
        minus_di = 100.0 * rma(minus_dm, window) / smoothed_tr
        total = plus_di + minus_di
        dx = np.where(total > 0, 100.0 * np.abs(plus_di - minus_di) / total, 0.0)
    dx = np.where(np.isnan(plus_di) | np.isnan(minus_di), np.nan, dx)
    out[1:] = rma(dx, window)
    return out


def efficiency_ratio(close: object, window: int = 20) -> np.ndarray:
    """Kaufman's efficiency ratio in [0, 1]: ``|close[t] - close[t-n]| / sum |changes|``.

    1 for a straight line, near 0 for a price that oscillates without getting anywhere;
    0 for a flat price. First value at index `window`.
    """
    window = _window(window)
    x = _as_array(close)
    out = np.full(x.shape[0], np.nan)
    if x.shape[0] <= window:
        return out
    net = np.abs(x[window:] - x[:-window])
    path = sliding_window_view(np.abs(np.diff(x)), window).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[window:] = np.where(path > 0, net / path, 0.0)
    return out


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
        on the prices as decimals, rounded once (see `indicator_kernels.rolling_mean_nb`), so
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
