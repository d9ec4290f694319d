"""Numba kernels of the exact moving average and the crossover rule.

Plain float64 arrays in, plain arrays out. The mean is computed on the prices as
decimals and rounded once, so equal averages are equal floats and a crossover never
fires on rounding noise. `analytics.indicators` wraps them; the backtest grid reuses them.
"""

from __future__ import annotations

import numpy as np
from numba import njit

MAX_DECIMAL_PLACES = 12
EXACT_INTEGER = 2.0**53  # every integer below this is a float64, exactly


@njit(cache=True)
def decimal_places_nb(values: np.ndarray) -> int:
    """The fewest decimal places (<= 12) that write every non-NaN value exactly, else -1.

    A value qualifies at k places when ``rint(x 10^k) / 10^k == x`` with ``|x| 10^k < 2^52``:
    then x is the float of a unique decimal with k places (prices as exchanges print
    them). -1 for infinities and for values that are no short decimal (e.g. simulated).
    """
    places = 0
    for x in values:
        if np.isnan(x):
            continue
        if np.isinf(x):
            return -1
        while True:
            scale = 10.0**places
            if abs(x) * scale >= EXACT_INTEGER / 2.0:
                return -1
            if np.rint(x * scale) / scale == x:
                break
            places += 1
            if places > MAX_DECIMAL_PLACES:
                return -1
    return places


@njit(cache=True)
def rolling_mean_nb(values: np.ndarray, window: int, places: int) -> np.ndarray:
    """Mean of the last `window` values; NaN during warm-up and for windows holding a NaN
    or an infinity.

    Exact, so that two means equal in exact arithmetic are equal floats (a strict
    crossover must not fire on rounding noise). With `places` >= 0 (`decimal_places_nb`)
    each value is a whole number of 10^-places, the window's sum an exact int64 running
    sum and the mean one correctly rounded division: exact decimal arithmetic, as prices
    are printed. Otherwise the running sum is a double-double (`_add`), exact while
    ``window * largest / smallest nonzero |value| < 2^53``, and the mean is that sum
    rounded once, divided by `window` (``math.fsum(window) / window``, as backtrader).
    """
    n = values.shape[0]
    out = np.full(n, np.nan)
    if places >= 0:
        scale = 10.0**places
        largest = 0.0
        for x in values:
            if not np.isnan(x):
                largest = max(largest, abs(x))
        if largest * scale * window < EXACT_INTEGER and window * scale < EXACT_INTEGER:
            return _rolling_mean_decimal(values, window, scale, out)
    high, low = 0.0, 0.0  # the window's sum is high + low, high = round(sum)
    missing = 0  # NaNs and infinities in the window
    for t in range(n):
        if np.isfinite(values[t]):
            high, low = _add(high, low, values[t])
        else:
            missing += 1
        if t >= window:
            if np.isfinite(values[t - window]):
                high, low = _add(high, low, -values[t - window])
            else:
                missing -= 1
        if t >= window - 1 and missing == 0:
            out[t] = high / window
    return out


@njit(cache=True, inline="always")
def _add(high: float, low: float, x: float) -> tuple[float, float]:
    """``high + low + x`` as a normalised double-double (Knuth's TwoSum, twice)."""
    total = high + x
    virtual = total - high
    error = (high - (total - virtual)) + (x - virtual) + low
    result = total + error
    virtual = result - total
    return result, (total - (result - virtual)) + (error - virtual)


@njit(cache=True)
def _rolling_mean_decimal(
    values: np.ndarray, window: int, scale: float, out: np.ndarray
) -> np.ndarray:
    """`rolling_mean_nb` over values that are whole multiples of 1 / `scale`."""
    total = 0  # the window's sum in units of 1 / scale, exact
    missing = 0  # NaNs in the window
    for t in range(values.shape[0]):
        x = values[t]
        if np.isnan(x):
            missing += 1
        else:
            total += np.int64(np.rint(x * scale))
        if t >= window:
            old = values[t - window]
            if np.isnan(old):
                missing -= 1
            else:
                total -= np.int64(np.rint(old * scale))
        if t >= window - 1 and missing == 0:
            out[t] = total / (window * scale)
    return out


@njit(cache=True)
def cross_targets_nb(fast: np.ndarray, slow: np.ndarray) -> np.ndarray:
    """Target 1 where `fast` crosses above `slow`, 0 where it crosses below, else NaN.

    Crosses above at t: fast[t] > slow[t] and fast[t-1] <= slow[t-1], all four defined.
    Crosses below at t: fast[t] < slow[t] and fast[t-1] >= slow[t-1], all four defined.
    """
    n = fast.shape[0]
    out = np.full(n, np.nan)
    for t in range(1, n):
        now_f, now_s, was_f, was_s = fast[t], slow[t], fast[t - 1], slow[t - 1]
        if np.isnan(now_f) or np.isnan(now_s) or np.isnan(was_f) or np.isnan(was_s):
            continue
        if now_f > now_s and was_f <= was_s:
            out[t] = 1.0
        elif now_f < now_s and was_f >= was_s:
            out[t] = 0.0
    return out
