"""Monte Carlo resampling of backtest outcomes: how much of a Sharpe ratio is luck.

* `bootstrap_returns`: resample daily returns, iid or with the stationary (block)
  bootstrap of Politis & Romano (1994), which keeps short-range dependence (volatility
  clusters) inside blocks of geometric length with a chosen mean; confidence intervals
  of the annualised Sharpe ratio and of the maximum drawdown.
* `bootstrap_trades`: resample the sequence of trade PnLs (with replacement, or as
  permutations without), rebuild the equity path from the starting equity, and give
  intervals of final PnL and maximum drawdown plus the probability of ruin.

Intervals are percentile intervals of the resampled statistic. Every statistic comes
from `zvt_pipelines.analytics.metrics`; all randomness from one seeded generator.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from zvt_pipelines.analytics import metrics
from zvt_pipelines.errors import ConfigError, DataError


class BootstrapMethod(StrEnum):
    IID = "iid"
    STATIONARY = "stationary"


@dataclass(frozen=True)
class Interval:
    """A percentile confidence interval and the statistic on the original sample."""

    low: float
    high: float
    observed: float

    def covers(self, value: float) -> bool:
        return self.low <= value <= self.high


def _interval(samples: np.ndarray, observed: float, confidence: float) -> Interval:
    tail = (1.0 - confidence) / 2.0
    low, high = np.nanquantile(samples, [tail, 1.0 - tail])
    return Interval(float(low), float(high), float(observed))


def _check(n_paths: int, confidence: float) -> None:
    if isinstance(n_paths, bool) or not isinstance(n_paths, int) or n_paths < 2:
        raise ConfigError(f"n_paths {n_paths!r}: expected a whole number >= 2")
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence {confidence!r}: expected a probability in (0, 1)")


def iid_indices(n: int, n_paths: int, rng: np.random.Generator) -> np.ndarray:
    """``(n_paths, n)`` positions drawn uniformly with replacement."""
    return rng.integers(0, n, size=(n_paths, n))


def stationary_indices(
    n: int, n_paths: int, mean_block: float, rng: np.random.Generator
) -> np.ndarray:
    """``(n_paths, n)`` positions of the stationary bootstrap (Politis & Romano, 1994).

    Each path starts at a uniform position; every next position continues the block
    (``previous + 1``, wrapping around the end) or, with probability ``1 / mean_block``,
    starts a new block at a uniform position. Block lengths are geometric with mean
    `mean_block`; ``mean_block = 1`` is the iid bootstrap.
    """
    if not mean_block >= 1.0:
        raise ConfigError(f"mean_block {mean_block!r}: expected a mean block length >= 1")
    restart = rng.random((n_paths, n)) < 1.0 / mean_block
    starts = rng.integers(0, n, size=(n_paths, n))
    positions = np.empty((n_paths, n), dtype=np.int64)
    positions[:, 0] = starts[:, 0]
    for t in range(1, n):
        positions[:, t] = np.where(restart[:, t], starts[:, t], (positions[:, t - 1] + 1) % n)
    return positions


@dataclass(frozen=True)
class ReturnsBootstrap:
    """Resampled annualised Sharpe ratios and maximum drawdowns, one per path."""

    method: BootstrapMethod
    sharpe: np.ndarray
    max_drawdown: np.ndarray
    sharpe_ci: Interval
    max_drawdown_ci: Interval


def bootstrap_returns(
    returns: metrics.ReturnsLike,
    *,
    n_paths: int = 1_000,
    method: BootstrapMethod | str = BootstrapMethod.IID,
    mean_block: float | None = None,
    confidence: float = 0.95,
    seed: int = 0,
    annualization: float = metrics.DAYS_PER_YEAR,
) -> ReturnsBootstrap:
    """Bootstrap confidence intervals of the Sharpe ratio and maximum drawdown.

    Parameters
    ----------
    returns : daily simple returns; NaN values are dropped first
    n_paths : number of resampled paths, each as long as the sample
    method : "iid" or "stationary" (then `mean_block`, in periods, is required)
    confidence : two-sided level of the percentile intervals
    seed : seeds the generator; equal seeds give equal paths
    annualization : periods per year of the Sharpe ratio (365 for daily crypto)

    Returns
    -------
    ReturnsBootstrap
        Per-path ``metrics.sharpe_ratio`` and ``metrics.max_drawdown`` and their
        intervals (``observed`` = the statistic of the original returns).
    """
    _check(n_paths, confidence)
    values = np.asarray(returns, dtype="float64")
    values = values[~np.isnan(values)]
    if values.size < 2:
        raise DataError(f"returns: {values.size} value(s); a bootstrap needs at least 2")
    try:
        method = BootstrapMethod(method)
    except ValueError as exc:
        raise ConfigError(f"method {method!r}: expected 'iid' or 'stationary'") from exc
    rng = np.random.default_rng(seed)
    if method is BootstrapMethod.IID:
        positions = iid_indices(values.size, n_paths, rng)
    elif mean_block is None:
        raise ConfigError("method 'stationary': needs mean_block (mean block length in periods)")
    else:
        positions = stationary_indices(values.size, n_paths, mean_block, rng)
    paths = values[positions]
    sharpe = np.array([metrics.sharpe_ratio(p, annualization=annualization) for p in paths])
    drawdown = np.array([metrics.max_drawdown(p) for p in paths])
    return ReturnsBootstrap(
        method=method,
        sharpe=sharpe,
        max_drawdown=drawdown,
        sharpe_ci=_interval(
            sharpe, metrics.sharpe_ratio(values, annualization=annualization), confidence
        ),
        max_drawdown_ci=_interval(drawdown, metrics.max_drawdown(values), confidence),
    )


@dataclass(frozen=True)
class TradeBootstrap:
    """Resampled trade sequences: final PnL and maximum drawdown per path, and ruin.

    A path is ruined when its equity reaches zero or below; its maximum drawdown is
    then -1 (everything lost). ``ruin_probability`` is the share of ruined paths.
    """

    replace: bool
    final_pnl: np.ndarray
    max_drawdown: np.ndarray
    final_pnl_ci: Interval
    max_drawdown_ci: Interval
    ruin_probability: float


def _path_drawdown(pnl_path: np.ndarray, initial_equity: float) -> float:
    equity = initial_equity + np.cumsum(pnl_path)
    if (equity <= 0).any():
        return -1.0
    previous = np.concatenate(([initial_equity], equity[:-1]))
    return metrics.max_drawdown(equity / previous - 1.0)


def bootstrap_trades(
    pnl: metrics.ReturnsLike,
    initial_equity: float,
    *,
    n_paths: int = 1_000,
    replace: bool = True,
    confidence: float = 0.95,
    seed: int = 0,
) -> TradeBootstrap:
    """Resample trade PnLs and rebuild equity ``initial_equity + cumsum(pnl)`` per path.

    With ``replace=False`` every path is a permutation of the trades: the final PnL is
    the same in all paths and only the order (hence the drawdown) varies. With
    ``replace=True`` (the default) trades are drawn with replacement, so the final PnL
    varies too, with mean ``n * mean(pnl)``.
    """
    _check(n_paths, confidence)
    values = np.asarray(pnl, dtype="float64")
    values = values[~np.isnan(values)]
    if values.size == 0:
        raise DataError("trade pnl: no closed trades to resample")
    if not initial_equity > 0:
        raise ConfigError(f"initial_equity {initial_equity!r}: must be positive")
    rng = np.random.default_rng(seed)
    if replace:
        paths = values[iid_indices(values.size, n_paths, rng)]
    else:
        paths = rng.permuted(np.broadcast_to(values, (n_paths, values.size)), axis=1)
    final = paths.sum(axis=1)
    drawdown = np.array([_path_drawdown(p, initial_equity) for p in paths])
    return TradeBootstrap(
        replace=replace,
        final_pnl=final,
        max_drawdown=drawdown,
        final_pnl_ci=_interval(final, float(values.sum()), confidence),
        max_drawdown_ci=_interval(drawdown, _path_drawdown(values, initial_equity), confidence),
        ruin_probability=float(np.mean(drawdown == -1.0)),
    )
