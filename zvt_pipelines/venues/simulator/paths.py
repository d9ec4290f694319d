"""The simulator's stochastic paths: the daily scaffold, one day of minutes, OU offsets, candles.

Pure functions of a seeded generator and the model constants; the simulator decides
which generator (seed, name, day) feeds which function and caches the results.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from zvt_pipelines.venues.simulator.kernels import ar1_path, garch_path
from zvt_pipelines.venues.simulator.specs import (
    MINUTES_PER_DAY,
    ModelParams,
    SymbolSpec,
    round_to_tick,
)

MIN_VOLUME_UNITS = 10  # every minute trades at least ten lots, enough for four trades


@dataclass(frozen=True)
class Scaffold:
    """A pair's daily path: log price at n + 1 day opens and each day's variance, from `first_day`."""

    first_day: int
    log_open: np.ndarray
    variance: np.ndarray


@dataclass(frozen=True)
class UnderlyingDay:
    """One UTC day of a pair: log price at the 1441 minute boundaries and sub-minute extremes.

    `up` (>= 0) and `down` (<= 0) are the highest and lowest log moves from each minute's
    open; `activity` is the relative trading activity (mean about 1).
    """

    log_price: np.ndarray
    up: np.ndarray
    down: np.ndarray
    activity: np.ndarray


@dataclass(frozen=True)
class VenueDay:
    """One UTC day of 1-minute candles of a symbol on a venue, plus its log offset.

    `offset` is log(venue price / underlying price) at each of the 1441 minute boundaries:
    the venue basis, plus the premium for a perpetual.
    """

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    offset: np.ndarray


def student_t(rng: np.random.Generator, dof: float, size: int) -> np.ndarray:
    """Student-t draws scaled to unit variance (fat tails at the same volatility)."""
    return rng.standard_t(dof, size) * math.sqrt((dof - 2) / dof)


def daily_scaffold(
    rng: np.random.Generator,
    params: ModelParams,
    spec: SymbolSpec,
    first_day: int,
    days: int,
    origin_index: int,
) -> Scaffold:
    """Daily GARCH(1,1) log returns with Student-t shocks, levelled so the open of day
    `origin_index` equals the spec's start price; volatility regimes persist across days."""
    shocks = student_t(rng, params.tail_dof, days)
    base = np.full(days, spec.annual_vol**2 / 365.0)
    returns, variance = garch_path(shocks, base, params.daily_alpha, params.daily_beta)
    log_open = np.concatenate([[0.0], np.cumsum(returns)])
    log_open += math.log(spec.start_price) - log_open[origin_index]
    return Scaffold(first_day, log_open, variance)


def underlying_day(
    rng: np.random.Generator,
    params: ModelParams,
    profile: np.ndarray,
    daily_var: float,
    annual_vol: float,
    log_open: float,
    log_close: float,
) -> UnderlyingDay:
    """The minutes of one day from `log_open` to exactly `log_close`.

    Minute shocks follow GARCH(1,1) on Student-t innovations with variance shaped by the
    intraday `profile`, then are conditioned on summing to the day's return (the Gaussian
    bridge correction, spread in proportion to each minute's variance).
    """
    z = student_t(rng, params.tail_dof, MINUTES_PER_DAY)
    u_up = 1.0 - rng.random(MINUTES_PER_DAY)
    u_down = 1.0 - rng.random(MINUTES_PER_DAY)
    noise = rng.standard_normal(MINUTES_PER_DAY)
    base_var = daily_var / MINUTES_PER_DAY * profile
    shocks, variance = garch_path(z, base_var, params.minute_alpha, params.minute_beta)
    shocks += (log_close - log_open - shocks.sum()) * variance / variance.sum()
    log_price = np.empty(MINUTES_PER_DAY + 1)
    log_price[0] = log_open
    log_price[1:] = log_open + np.cumsum(shocks)
    log_price[-1] = log_close
    step = np.diff(log_price)
    # Extremes of a Brownian bridge from 0 to `step` with this variance, drawn exactly
    # by inverting P(max > m) = exp(-2 m (m - step) / variance).
    up = 0.5 * (step + np.sqrt(step * step - 2.0 * variance * np.log(u_up)))
    down = 0.5 * (step - np.sqrt(step * step - 2.0 * variance * np.log(u_down)))
    regime = (daily_var * 365.0 / annual_vol**2) ** 0.25
    sigma = params.volume_noise
    activity = (
        profile * np.sqrt(variance / base_var) * regime * np.exp(sigma * noise - sigma * sigma / 2)
    )
    return UnderlyingDay(log_price, up, down, activity)


def ou_day(
    rng: np.random.Generator, start: float, target: float, mean: float, sd: float, half_life: float
) -> np.ndarray:
    """One day (1441 minute boundaries) of an OU process from `start` ending at `target`.

    `start` and `target` are deviations from `mean`. The AR(1) path is conditioned on its
    end value by the exact Gaussian correction: Cov(x_k, x_T | x_0) / Var(x_T | x_0)
    = phi^(T-k) (1 - phi^(2k)) / (1 - phi^(2T)).
    """
    phi = 0.5 ** (1.0 / half_life)
    innovations = sd * math.sqrt(1 - phi * phi) * rng.standard_normal(MINUTES_PER_DAY)
    path = ar1_path(start, phi, innovations)
    k = np.arange(MINUTES_PER_DAY + 1)
    weight = (
        phi ** (MINUTES_PER_DAY - k) * (1 - phi ** (2 * k)) / (1 - phi ** (2 * MINUTES_PER_DAY))
    )
    return mean + path + (target - path[-1]) * weight


def venue_candles(
    under: UnderlyingDay, offset: np.ndarray, spec: SymbolSpec, volume_share: np.ndarray
) -> VenueDay:
    """Candles of the underlying moved by `offset`, on the tick grid.

    open/close are the boundary prices, so each close equals the next open; high and low
    add the sub-minute extremes and the larger (smaller) offset of the minute, so
    high >= max(open, close) >= min(open, close) >= low >= one tick.
    """
    log_price = under.log_price + offset
    base = under.log_price[:-1]
    tick = spec.price_tick
    open_ = round_to_tick(np.exp(log_price[:-1]), tick)
    close = round_to_tick(np.exp(log_price[1:]), tick)
    high = round_to_tick(np.exp(base + under.up + np.maximum(offset[:-1], offset[1:])), tick)
    low = round_to_tick(np.exp(base + under.down + np.minimum(offset[:-1], offset[1:])), tick)
    floor = float(tick)
    open_, close = np.maximum(open_, floor), np.maximum(close, floor)
    high = np.maximum(high, np.maximum(open_, close))
    low = np.maximum(np.minimum(low, np.minimum(open_, close)), floor)
    volume = under.activity * volume_share * spec.daily_volume / MINUTES_PER_DAY
    step = spec.amount_step
    volume = np.maximum(round_to_tick(volume, step), float(step * MIN_VOLUME_UNITS))
    return VenueDay(open_, high, low, close, volume, offset)
