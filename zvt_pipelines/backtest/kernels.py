"""Numba hot loops of the bar-level backtest: the fill loop and the parameter grid.

Plain float64 arrays in, plain arrays out; no pandas, no Python objects. The public
wrappers in `engine` and `grid` validate inputs and build the results; the moving
averages and crossovers they use live in `analytics.indicator_kernels`.

Targets are the position the strategy wants, as a fraction of equity in [0, 1], decided
on a bar's close: NaN means "no instruction, keep what you hold". The target decided on
bar t is filled at bar t+1 (never earlier); a target equal to the one already standing
is not re-applied, so positions are not rebalanced for drift.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from zvt_pipelines.analytics.indicator_kernels import (
    cross_targets_nb,
    decimal_places_nb,
    rolling_mean_nb,
)


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
