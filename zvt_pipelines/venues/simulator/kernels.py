"""Numba kernels of the market simulator: variance recursions, AR(1) paths, trade layout.

The kernels take pre-drawn random numbers so that all randomness stays in seeded numpy
generators (numba's own generator has one global state and cannot be keyed per day).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def garch_path(z: np.ndarray, base_var: np.ndarray, alpha: float, beta: float):
    """Shocks `sqrt(base_var * g) * z` with a GARCH(1,1) multiplier `g` of mean one.

    `g` starts at 1 and follows `g' = (1 - alpha - beta) + (alpha z^2 + beta) g`, i.e. the
    usual variance recursion on shocks scaled by `base_var` (which carries the intraday
    shape). Returns the shocks and their conditional variances.
    """
    n = z.shape[0]
    shocks = np.empty(n)
    variances = np.empty(n)
    omega = 1.0 - alpha - beta
    g = 1.0
    for k in range(n):
        variances[k] = base_var[k] * g
        shocks[k] = np.sqrt(variances[k]) * z[k]
        g = omega + (alpha * z[k] * z[k] + beta) * g
    return shocks, variances


@numba.njit(cache=True)
def ar1_path(start: float, phi: float, innovations: np.ndarray) -> np.ndarray:
    """The path `x_0 = start`, `x_{k+1} = phi x_k + innovations_k` (length n + 1)."""
    n = innovations.shape[0]
    path = np.empty(n + 1)
    path[0] = start
    for k in range(n):
        path[k + 1] = phi * path[k] + innovations[k]
    return path


@numba.njit(cache=True)
def layout_trades(
    counts: np.ndarray,
    open_ticks: np.ndarray,
    high_ticks: np.ndarray,
    low_ticks: np.ndarray,
    close_ticks: np.ndarray,
    volume_units: np.ndarray,
    u_time: np.ndarray,
    u_price: np.ndarray,
    weights: np.ndarray,
    u_extreme: np.ndarray,
    u_side: np.ndarray,
):
    """Lay out the trades of each minute so that they rebuild the minute's candle exactly.

    Minute k gets `counts[k] >= 4` trades at sorted times: the first at the open, the last
    at the close, one at the high and one at the low (random places in between), the rest
    uniform on the tick grid between low and high. Amounts are whole lot-size units, at
    least one each, summing to `volume_units[k]`. The taker side follows the tick rule.
    Returns per trade: minute index, millisecond offset in the minute, price in ticks,
    amount in units and side (+1 buy, -1 sell).
    """
    total = counts.sum()
    minute = np.empty(total, np.int64)
    offset = np.empty(total, np.int64)
    price = np.empty(total, np.int64)
    amount = np.empty(total, np.int64)
    side = np.empty(total, np.int8)
    start = 0
    for k in range(counts.shape[0]):
        n = counts[k]
        times = np.sort(np.floor(u_time[start : start + n] * 60_000.0))
        inner = n - 2
        high_at = 1 + int(u_extreme[2 * k] * inner)
        low_at = 1 + int(u_extreme[2 * k + 1] * (inner - 1))
        if low_at >= high_at:
            low_at += 1
        span = high_ticks[k] - low_ticks[k] + 1
        spare = volume_units[k] - n
        weight_sum = weights[start : start + n].sum()
        cumulative = 0.0
        allotted = 0
        for j in range(n):
            i = start + j
            minute[i] = k
            offset[i] = np.int64(times[j])
            if j == 0:
                price[i] = open_ticks[k]
            elif j == n - 1:
                price[i] = close_ticks[k]
            elif j == high_at:
                price[i] = high_ticks[k]
            elif j == low_at:
                price[i] = low_ticks[k]
            else:
                price[i] = low_ticks[k] + min(np.int64(u_price[i] * span), span - 1)
            cumulative += weights[i]
            upto = spare if j == n - 1 else np.int64(spare * (cumulative / weight_sum))
            amount[i] = 1 + upto - allotted
            allotted = upto
            if j > 0 and price[i] > price[i - 1]:
                side[i] = 1
            elif j > 0 and price[i] < price[i - 1]:
                side[i] = -1
            else:
                side[i] = 1 if u_side[i] < 0.5 else -1
        start += n
    return minute, offset, price, amount, side
