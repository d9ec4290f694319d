"""Numba hot loops of the bar-level backtest: moving averages, crossovers, the fill loop.

Plain float64 arrays in, plain arrays out; no pandas, no Python objects. The public
wrappers in `signals`, `engine` and `grid` validate inputs and build the results.

Targets are the position the strategy wants, as a fraction of equity in [0, 1], decided
on a bar's close: NaN means "no instruction, keep what you hold". The target decided on
bar t is filled at bar t+1 (never earlier); a target equal to the one already standing
is not re-applied, so positions are not rebalanced for drift.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

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


@njit(cache=True)
def signals_to_targets_nb(entries: np.ndarray, exits: np.ndarray) -> np.ndarray:
    """Entry -> target 1, exit -> target 0; both or neither on a bar -> NaN (hold)."""
    n = entries.shape[0]
    out = np.full(n, np.nan)
    for t in range(n):
        if entries[t] and not exits[t]:
            out[t] = 1.0
        elif exits[t] and not entries[t]:
            out[t] = 0.0
    return out


@njit(cache=True)
def simulate_nb(
    targets: np.ndarray,
    fill_base: np.ndarray,
    close: np.ndarray,
    fee_rate: float,
    slippage_rate: float,
    cash: float,
):
    """Fill each bar's target at the next bar and mark the account at every close.

    Buys pay ``base * (1 + slippage)``, sells receive ``base * (1 - slippage)``, and every
    fill pays ``fee_rate`` of its notional. Moving to fraction f of equity solves for the
    post-trade units u' so that the position is f of the equity left after the fee:
    buying, ``u' = f (cash + u p (1 + fee)) / (p (1 + f fee))``, which from flat to
    f = 1 is the all-in ``cash / (p (1 + fee))``; selling,
    ``u' = f (cash + u p (1 - fee)) / (p (1 - f fee))``.

    Returns
    -------
    equity, units : per bar, after that bar's fill, marked at its close
    fill_bar, fill_units, fill_price, fill_fee : the first `n_fills` rows are the fills
        (units signed: > 0 bought, < 0 sold)
    n_fills : number of fills
    """
    n = close.shape[0]
    equity = np.empty(n)
    units_held = np.empty(n)
    fill_bar = np.empty(n, dtype=np.int64)
    fill_units = np.empty(n)
    fill_price = np.empty(n)
    fill_fee = np.empty(n)
    n_fills = 0
    units = 0.0
    standing = 0.0
    for t in range(n):
        if t > 0:
            target = targets[t - 1]
            if not np.isnan(target) and target != standing:
                standing = target
                base = fill_base[t]
                value = units * base
                if target * (cash + value) > value:
                    price = base * (1.0 + slippage_rate)
                    wanted = target * (cash + units * price * (1.0 + fee_rate))
                    wanted /= price * (1.0 + target * fee_rate)
                    traded = wanted - units
                    fee = traded * price * fee_rate
                    cash -= traded * price + fee
                else:
                    price = base * (1.0 - slippage_rate)
                    wanted = target * (cash + units * price * (1.0 - fee_rate))
                    wanted /= price * (1.0 - target * fee_rate)
                    traded = wanted - units
                    fee = -traded * price * fee_rate
                    cash += -traded * price - fee
                if traded != 0.0:
                    units = wanted
                    fill_bar[n_fills] = t
                    fill_units[n_fills] = traded
                    fill_price[n_fills] = price
                    fill_fee[n_fills] = fee
                    n_fills += 1
        units_held[t] = units
        equity[t] = cash + units * close[t]
    return equity, units_held, fill_bar, fill_units, fill_price, fill_fee, n_fills


@njit(cache=True, parallel=True)
def rolling_means_nb(values: np.ndarray, windows: np.ndarray) -> np.ndarray:
    """`rolling_mean_nb` for several windows at once, one row per window (in parallel)."""
    places = decimal_places_nb(values)
    out = np.empty((windows.shape[0], values.shape[0]))
    for row in prange(windows.shape[0]):
        out[row] = rolling_mean_nb(values, windows[row], places)
    return out


@njit(cache=True, parallel=True)
def sma_cross_grid_nb(
    means: np.ndarray,
    fast_rows: np.ndarray,
    slow_rows: np.ndarray,
    fill_base: np.ndarray,
    close: np.ndarray,
    fee_rate: float,
    slippage_rate: float,
    cash: float,
):
    """Final equity and entry count of SMA crossovers for many (fast, slow) pairs.

    `means` holds one moving average per row; pair i uses rows fast_rows[i] and
    slow_rows[i]. Each pair runs the same kernels as a single backtest, in parallel.
    """
    pairs = fast_rows.shape[0]
    final_equity = np.empty(pairs)
    entries = np.zeros(pairs, dtype=np.int64)
    last = close.shape[0] - 1
    for i in prange(pairs):
        targets = cross_targets_nb(means[fast_rows[i]], means[slow_rows[i]])
        equity, units_held, fill_bar, fill_units, _, _, n_fills = simulate_nb(
            targets, fill_base, close, fee_rate, slippage_rate, cash
        )
        final_equity[i] = equity[last]
        for k in range(n_fills):
            if fill_units[k] > 0.0 and units_held[fill_bar[k] - 1] == 0.0:
                entries[i] += 1
    return final_equity, entries
