"""Execution realism for the bar backtest: maker fills, spread, impact, volume caps.

Every model here is a `BacktestSettings` setting, off by default; with all of them off
`run_targets` runs the plain fill loop of `kernels.simulate_nb` and none of this code.
With any of them on, `simulate_costs_nb` replaces it. Its rules, for the order that
moves the position to the target decided on bar t-1, worked on bar t and later:

* **Side.** The order is a buy if the target is above the current position's share of
  equity at bar t's base price, else a sell; it works in that direction only and is
  done when the position reaches (or passes) the target, or when a new target arrives.
  A remainder worth at most `DUST` of the equity is float noise and counts as done.
* **Size.** On each bar the remaining quantity is re-sized from the target fraction at
  that bar's fill price, exactly as `simulate_nb` sizes a fill (so a buy never spends
  more cash than there is). A market order under a cap that never binds, with fixed
  slippage and no impact, fills at once, and the two loops agree to the last bit.
* **Price.** A market order fills at ``base * (1 + a)`` (buy) or ``base * (1 - a)``
  (sell), ``a = s + i`` the adverse fraction, capped at 1: ``s`` the slippage (fixed
  ``slippage_bps``, or half the Corwin-Schultz spread) and ``i`` the square-root
  impact. A `limit_at_open` order rests at the bar's open and fills there (no ``s``,
  no ``i``) only if the bar trades through it: low < open for a buy, high > open for a
  sell; otherwise it rests again at the next bar's open.
* **Fee.** ``fee_bps`` (taker) on market fills, ``maker_fee_bps`` (maker, negative for
  a rebate) on limit fills, of each fill's notional.
* **Volume cap.** One fill per bar of at most ``max_participation * volume`` of the
  fill bar; the rest carries over to the next bars (a bar with no volume fills nothing).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from numba import njit

from zvt_pipelines.backtest.settings import BacktestSettings, OrderStyle, SlippageModel
from zvt_pipelines.errors import DataError

BPS = 1e-4
CS_DENOMINATOR = 3.0 - 2.0 * math.sqrt(2.0)
DUST = 1e-9  # a remaining order worth less than this share of equity is float noise: done


def corwin_schultz_spread(
    high_a: np.ndarray | float,
    low_a: np.ndarray | float,
    high_b: np.ndarray | float,
    low_b: np.ndarray | float,
) -> np.ndarray:
    """Corwin & Schultz (2012) bid-ask spread estimate from two consecutive bars a, b.

    ``beta = ln(Ha/La)^2 + ln(Hb/Lb)^2``, ``gamma = ln(max(Ha, Hb) / min(La, Lb))^2``,
    ``alpha = (sqrt(2 beta) - sqrt(beta)) / (3 - 2 sqrt 2) - sqrt(gamma / (3 - 2 sqrt 2))``,
    ``S = 2 (e^alpha - 1) / (1 + e^alpha)``, a fraction of the price; a negative
    estimate (the two-bar range is mostly volatility) is set to 0, as in the paper.
    Two equal bars give ``alpha = ln(H/L)`` and ``S = 2 (H - L) / (H + L)``. No
    overnight adjustment: crypto trades around the clock.
    """
    beta = np.log(np.divide(high_a, low_a)) ** 2 + np.log(np.divide(high_b, low_b)) ** 2
    gamma = np.log(np.maximum(high_a, high_b) / np.minimum(low_a, low_b)) ** 2
    alpha = (np.sqrt(2.0 * beta) - np.sqrt(beta)) / CS_DENOMINATOR - np.sqrt(gamma / CS_DENOMINATOR)
    spread = 2.0 * np.expm1(alpha) / (1.0 + np.exp(alpha))
    return np.maximum(spread, 0.0)


def half_spread_at_fill(high: np.ndarray, low: np.ndarray) -> np.ndarray:
    """Per bar t, half the Corwin-Schultz spread of bars t-2 and t-1 (both complete
    when bar t opens, so no look-ahead). Bar 1 has one complete bar: bar 0 is paired
    with itself, ``S = 2 (H0 - L0) / (H0 + L0)``, which counts its whole range as
    spread (an upper bound). Bar 0 is never a fill bar; its value is 0."""
    spread = np.zeros(high.shape[0])
    spread[1] = corwin_schultz_spread(high[0], low[0], high[0], low[0])
    spread[2:] = corwin_schultz_spread(high[:-2], low[:-2], high[1:-1], low[1:-1])
    return spread / 2.0


@njit(cache=True)
def impact_inputs_nb(close: np.ndarray, volume: np.ndarray, window: int):
    """Per bar t, the volatility and mean volume of the last `window` bars before it.

    ``sigma[t] = sqrt(mean(r_j^2))``, ``r_j = ln(close[j] / close[j-1])`` over bars
    ``j = max(1, t - window) .. t - 1`` (0 with no return yet, at t <= 1), and
    ``mean_volume[t] = mean(volume[max(0, t - window) .. t - 1])``: both known when bar
    t opens. Bar 0 is never a fill bar; its values are 0.
    """
    n = close.shape[0]
    sigma = np.zeros(n)
    mean_volume = np.zeros(n)
    for t in range(1, n):
        squares = 0.0
        for j in range(max(1, t - window), t):
            squares += math.log(close[j] / close[j - 1]) ** 2
        if t > 1:
            sigma[t] = math.sqrt(squares / (t - max(1, t - window)))
        total = 0.0
        for j in range(max(0, t - window), t):
            total += volume[j]
        mean_volume[t] = total / (t - max(0, t - window))
    return sigma, mean_volume


@njit(cache=True)
def _wanted_units(target: float, cash: float, units: float, price: float, fee: float, side: int):
    """Units after a fill that leaves the position `target` of the equity left after the
    fee (the sizing of `kernels.simulate_nb`): buying,
    ``f (cash + u p (1 + fee)) / (p (1 + f fee))``; selling, the same with ``-fee``.
    Flat is 0 units at any price (a sale at a price capped to 0 included)."""
    if target == 0.0:
        return 0.0
    if side > 0:
        wanted = target * (cash + units * price * (1.0 + fee))
        return wanted / (price * (1.0 + target * fee))
    wanted = target * (cash + units * price * (1.0 - fee))
    return wanted / (price * (1.0 - target * fee))


@njit(cache=True)
def simulate_costs_nb(
    targets: np.ndarray,
    fill_base: np.ndarray,
    close: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    fee_rate: float,
    slippage: np.ndarray,
    impact_coefficient: float,
    sigma: np.ndarray,
    mean_volume: np.ndarray,
    cap: np.ndarray,
    limit: bool,
    cash: float,
):
    """The fill loop with execution costs (rules in the module docstring).

    ``slippage[t]`` is the fraction ``s`` on bar t; the impact of a fill of ``Q`` units
    is ``i = k sigma[t] sqrt(Q / mean_volume[t])``, where ``Q`` is the quantity sized
    at the price before impact (never less than the quantity then traded, so ``i`` is
    not understated). ``sigma`` and ``mean_volume`` are per bar over the same window:
    ``sigma_daily sqrt(Q / ADV)`` equals it when variance and volume both scale with
    time. A bar with ``mean_volume`` 0 cannot fill while impact is on. ``cap[t]`` is the
    most units bar t may fill (inf: no cap). Returns the outputs of `simulate_nb`.
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
    side = 0  # the working order: 1 buy, -1 sell, 0 none
    for t in range(n):
        if t > 0:
            base = fill_base[t]
            target = targets[t - 1]
            if not np.isnan(target) and target != standing:
                standing = target
                value = units * base
                side = 1 if target * (cash + value) > value else -1
            through = low[t] < base if side > 0 else high[t] > base
            liquid = impact_coefficient == 0.0 or mean_volume[t] > 0.0
            if side != 0 and (through or not limit) and liquid:
                adverse = slippage[t]
                price = base * (1.0 + adverse) if side > 0 else base * (1.0 - adverse)
                wanted = _wanted_units(standing, cash, units, price, fee_rate, side)
                if impact_coefficient > 0.0 and side * (wanted - units) > 0.0:
                    sized = min(side * (wanted - units), cap[t])
                    impact = impact_coefficient * sigma[t] * math.sqrt(sized / mean_volume[t])
                    adverse = min(adverse + impact, 1.0)
                    price = base * (1.0 + adverse) if side > 0 else base * (1.0 - adverse)
                    wanted = _wanted_units(standing, cash, units, price, fee_rate, side)
                remaining = side * (wanted - units)
                traded = fee = 0.0
                if remaining * base <= DUST * (cash + units * base):
                    side = 0
                elif remaining > cap[t]:
                    traded = side * cap[t]
                else:
                    traded = wanted - units
                if traded > 0.0:
                    fee = traded * price * fee_rate
                    cash -= traded * price + fee
                elif traded < 0.0:
                    fee = -traded * price * fee_rate
                    cash += -traded * price - fee
                if traded != 0.0:
                    if side * traded < remaining:
                        units += traded
                    else:
                        units = wanted
                        side = 0
                    fill_bar[n_fills] = t
                    fill_units[n_fills] = traded
                    fill_price[n_fills] = price
                    fill_fee[n_fills] = fee
                    n_fills += 1
        units_held[t] = units
        equity[t] = cash + units * close[t]
    return equity, units_held, fill_bar, fill_units, fill_price, fill_fee, n_fills


def _volume(frame: pd.DataFrame) -> np.ndarray:
    volume = frame["volume"].to_numpy(dtype="float64")
    bad = ~(np.isfinite(volume) & (volume >= 0))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"candle frame: missing or negative volume at row {row} ({frame['ts'].iloc[row]}); "
            "the volume cap and market impact need it"
        )
    return volume


def simulate_with_costs(
    frame: pd.DataFrame, targets: np.ndarray, fill_base: np.ndarray, settings: BacktestSettings
) -> tuple:
    """Build the per-bar cost inputs from `settings` and run `simulate_costs_nb`."""
    n = len(frame)
    high = frame["high"].to_numpy(dtype="float64")
    low = frame["low"].to_numpy(dtype="float64")
    close = frame["close"].to_numpy(dtype="float64")
    needs_volume = settings.max_participation is not None or settings.impact_coefficient > 0
    volume = _volume(frame) if needs_volume else np.zeros(n)
    if settings.slippage is SlippageModel.HALF_SPREAD:
        slippage = half_spread_at_fill(high, low)
    else:
        slippage = np.full(n, settings.slippage_bps * BPS)
    if settings.impact_coefficient > 0:
        sigma, mean_volume = impact_inputs_nb(close, volume, settings.impact_window)
    else:
        sigma = mean_volume = np.zeros(n)
    if settings.max_participation is None:
        cap = np.full(n, np.inf)
    else:
        cap = settings.max_participation * volume
    limit = settings.order_style is OrderStyle.LIMIT_AT_OPEN
    fee_bps = settings.maker_fee_bps if limit else settings.fee_bps
    return simulate_costs_nb(
        targets,
        fill_base,
        close,
        low,
        high,
        fee_bps * BPS,
        slippage,
        float(settings.impact_coefficient),
        sigma,
        mean_volume,
        cap,
        limit,
        settings.cash,
    )
