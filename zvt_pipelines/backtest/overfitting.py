"""How much of an optimisation's best result is luck: deflated Sharpe ratio and PBO.

* `deflated_sharpe_ratio` (Bailey & López de Prado, 2014): the probability that the
  selected trial's true Sharpe ratio beats the best Sharpe that N independent trials
  with no skill would be expected to show, given its sample length, skewness and
  kurtosis.
* `probability_of_backtest_overfitting` (Bailey, Borwein, López de Prado & Zhu, 2015):
  combinatorially symmetric cross-validation (CSCV) of a T×N matrix of per-period
  returns (periods × trials); the share of splits where the in-sample winner ranks in
  the bottom half out of sample.

Sharpe ratios here are **per observation, not annualised**: mean / standard deviation
(ddof=1) of the per-period returns. Divide an annualised Sharpe by sqrt(periods per year)
(and its variance by periods per year) before passing it in. A series with zero
standard deviation (a trial that never trades) has Sharpe 0.

CSCV needs only, per trial and per block, the count, sum and sum of squares of the
returns (`BlockMoments`), so an optimiser can keep O(splits) numbers per trial instead of
the whole return series.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from zvt_pipelines.errors import DataError

EULER_GAMMA = 0.5772156649015329
_COMBINATIONS_PER_BATCH = 128  # bounds memory: 3 × batch × S/2 × trials floats gathered


def sharpe_per_period(returns: np.ndarray) -> float:
    """Mean over standard deviation (ddof=1) of per-period returns; 0 when they are flat."""
    values = np.asarray(returns, dtype="float64")
    if values.size < 2:
        raise DataError(f"sharpe: need at least 2 returns, got {values.size}")
    deviation = values.std(ddof=1)
    return 0.0 if deviation == 0 else float(values.mean() / deviation)


def expected_max_sharpe(sharpe_variance: float, n_trials: int) -> float:
    """E[max SR] of `n_trials` independent zero-skill trials whose Sharpe estimates have
    variance `sharpe_variance`: sqrt(V)·((1−γ)·Φ⁻¹(1−1/N) + γ·Φ⁻¹(1−1/(N·e))); 0 for N = 1."""
    if n_trials < 1:
        raise DataError(f"n_trials {n_trials!r}: need at least one trial")
    if sharpe_variance < 0:
        raise DataError(f"sharpe_variance {sharpe_variance!r}: a variance cannot be negative")
    if n_trials == 1:
        return 0.0
    spread = (1 - EULER_GAMMA) * stats.norm.ppf(1 - 1 / n_trials) + EULER_GAMMA * stats.norm.ppf(
        1 - 1 / (n_trials * math.e)
    )
    return float(math.sqrt(sharpe_variance) * spread)


def probabilistic_sharpe_ratio(
    sharpe: float, benchmark: float, n_obs: int, skew: float = 0.0, kurtosis: float = 3.0
) -> float:
    """P(true SR > benchmark) for a per-period Sharpe estimated from `n_obs` returns with
    the given skewness and (non-excess, normal = 3) kurtosis; NaN when the variance term
    1 − skew·SR + (kurtosis−1)/4·SR² is not positive."""
    if n_obs < 2:
        raise DataError(f"n_obs {n_obs!r}: need at least 2 observations")
    spread = 1 - skew * sharpe + (kurtosis - 1) / 4 * sharpe**2
    if not spread > 0:
        return float("nan")
    return float(stats.norm.cdf((sharpe - benchmark) * math.sqrt(n_obs - 1) / math.sqrt(spread)))


def deflated_sharpe_ratio(
    sharpe: float,
    sharpe_variance: float,
    n_trials: int,
    n_obs: int,
    skew: float = 0.0,
    kurtosis: float = 3.0,
) -> float:
    """The deflated Sharpe ratio: the probabilistic Sharpe ratio of the selected trial
    against `expected_max_sharpe(sharpe_variance, n_trials)`.

    Parameters
    ----------
    sharpe : per-period (non-annualised) Sharpe of the selected trial
    sharpe_variance : variance of the per-period Sharpe estimates across all trials
    n_trials : number of independent trials the selection was made from
    n_obs : number of returns the selected Sharpe was estimated from
    skew, kurtosis : of the selected trial's returns (kurtosis non-excess: normal = 3)
    """
    benchmark = expected_max_sharpe(sharpe_variance, n_trials)
    return probabilistic_sharpe_ratio(sharpe, benchmark, n_obs, skew, kurtosis)


@dataclass(frozen=True)
class ReturnStats:
    """What the DSR needs from one trial's per-period returns."""

    n_obs: int
    sharpe: float
    skew: float
    kurtosis: float

    @classmethod
    def of(cls, returns: np.ndarray) -> ReturnStats:
        values = np.asarray(returns, dtype="float64")
        centred = values - values.mean()
        squared = centred * centred  # products: numpy's float power is far slower
        m2, m3, m4 = (float(np.mean(m)) for m in (squared, squared * centred, squared * squared))
        flat = values.size < 2 or m2 == 0
        return cls(
            n_obs=int(values.size),
            sharpe=sharpe_per_period(values),
            skew=0.0 if flat else m3 / m2**1.5,
            kurtosis=3.0 if flat else m4 / m2**2,
        )


def deflated_sharpe_of(selected: ReturnStats, trial_sharpes: np.ndarray) -> float:
    """DSR of the selected trial given every trial's per-period Sharpe (N = their count,
    V[SR] their sample variance, ddof=1)."""
    sharpes = np.asarray(trial_sharpes, dtype="float64")
    variance = float(sharpes.var(ddof=1)) if sharpes.size > 1 else 0.0
    return deflated_sharpe_ratio(
        selected.sharpe, variance, sharpes.size, selected.n_obs, selected.skew, selected.kurtosis
    )


@dataclass(frozen=True)
class BlockMoments:
    """Count, sum and sum of squares of one trial's returns in each of S equal blocks."""

    count: np.ndarray
    total: np.ndarray
    squares: np.ndarray

    @classmethod
    def of(cls, returns: np.ndarray, n_splits: int) -> BlockMoments:
        """Split `returns` into `n_splits` equal consecutive blocks; the T mod S oldest
        returns are left out so every block has the same length."""
        values = np.asarray(returns, dtype="float64")
        _check_splits(n_splits)
        size = values.size // n_splits
        if size < 2:
            raise DataError(
                f"n_splits {n_splits}: {values.size} returns leave fewer than 2 per block"
            )
        blocks = values[values.size - size * n_splits :].reshape(n_splits, size)
        return cls(
            count=np.full(n_splits, float(size)),
            total=blocks.sum(axis=1),
            squares=(blocks**2).sum(axis=1),
        )


@dataclass(frozen=True)
class PboResult:
    """PBO and the logit λ of the in-sample winner's out-of-sample relative rank for each of
    the C(S, S/2) splits (λ ≤ 0: it did no better than the median trial out of sample)."""

    pbo: float
    logits: np.ndarray
    n_splits: int

    @property
    def n_combinations(self) -> int:
        return int(self.logits.size)


def _check_splits(n_splits: int) -> None:
    if isinstance(n_splits, bool) or not isinstance(n_splits, int) or n_splits < 2:
        raise DataError(f"n_splits {n_splits!r}: need an even number of blocks, at least 2")
    if n_splits % 2:
        raise DataError(f"n_splits {n_splits!r}: must be even (half in-sample, half out)")


def _sharpes(count: np.ndarray, total: np.ndarray, squares: np.ndarray) -> np.ndarray:
    """Per-period Sharpe (ddof=1) from summed moments; 0 where the returns are flat."""
    mean = total / count
    variance = (squares - total * mean) / (count - 1)
    flat = variance <= 1e-12 * mean**2  # zero up to the rounding of the summed squares
    return np.where(flat, 0.0, mean / np.sqrt(np.where(flat, 1.0, variance)))


def _winner_logits(in_sample: np.ndarray, out_sample: np.ndarray) -> np.ndarray:
    """λ of each row's in-sample winner: logit of its average out-of-sample rank / (N+1)."""
    winner = np.argmax(in_sample, axis=1)
    value = out_sample[np.arange(len(winner)), winner][:, None]
    below = (out_sample < value).sum(axis=1)
    equal = (out_sample == value).sum(axis=1)  # includes the winner itself
    relative = (below + (equal + 1) / 2) / (out_sample.shape[1] + 1)  # rank 1 = worst
    return np.log(relative / (1 - relative))


def pbo_from_blocks(trials: list[BlockMoments]) -> PboResult:
    """CSCV on per-block moments of N trials (all split into the same S blocks).

    Each split and its complement are scored together: the in-sample Sharpes of one are
    the out-of-sample Sharpes of the other.
    """
    if len(trials) < 2:
        raise DataError(f"pbo: need at least 2 trials, got {len(trials)}")
    # moments[k, s, n]: count (k=0), sum (1) and sum of squares (2) of block s of trial n
    moments = np.stack([np.stack([t.count, t.total, t.squares]) for t in trials], axis=2)
    n_splits = moments.shape[1]
    _check_splits(n_splits)
    whole = moments.sum(axis=1, keepdims=True)
    # combinations containing block 0, each paired with its complement (which lacks it)
    halves = np.array(
        [(0, *rest) for rest in itertools.combinations(range(1, n_splits), n_splits // 2 - 1)]
    )
    logits = []
    for start in range(0, len(halves), _COMBINATIONS_PER_BATCH):
        inside = moments[:, halves[start : start + _COMBINATIONS_PER_BATCH], :].sum(axis=2)
        outside = whole - inside
        first, second = _sharpes(*inside), _sharpes(*outside)
        logits += [_winner_logits(first, second), _winner_logits(second, first)]
    values = np.concatenate(logits)
    return PboResult(pbo=float(np.mean(values <= 0)), logits=values, n_splits=n_splits)


def probability_of_backtest_overfitting(matrix: np.ndarray, n_splits: int = 16) -> PboResult:
    """PBO by CSCV of a T×N matrix of per-period returns (rows periods, columns trials).

    The rows are cut into `n_splits` (even) equal blocks (the T mod S oldest rows left
    out); for each of the C(S, S/2) choices of in-sample blocks the trial with the best
    in-sample Sharpe is ranked among all trials by out-of-sample Sharpe; its relative
    rank ω = rank/(N+1) gives λ = ln(ω/(1−ω)), and PBO is the share of λ ≤ 0.
    """
    values = np.asarray(matrix, dtype="float64")
    if values.ndim != 2:
        raise DataError(f"pbo: expected a periods × trials matrix, got shape {values.shape}")
    if not np.isfinite(values).all():
        raise DataError("pbo: the return matrix holds NaN or infinite values")
    return pbo_from_blocks([BlockMoments.of(column, n_splits) for column in values.T])


@dataclass(frozen=True)
class OverfittingReport:
    """An optimisation's overfitting figures: the best trial's DSR (against N trials) and
    the PBO of all trials (None when the returns are too short for the splits)."""

    deflated_sharpe: float
    pbo: float | None
    n_trials: int
    best_sharpe: float  # per period
    expected_max_sharpe: float  # per period, the DSR's benchmark
    n_splits: int  # 0 when no PBO was computed


def equity_returns(equity: np.ndarray) -> np.ndarray:
    """Bar-to-bar simple returns of an equity curve (0 after a bar with zero equity)."""
    values = np.asarray(equity, dtype="float64")
    previous = values[:-1]
    return np.divide(np.diff(values), previous, out=np.zeros(previous.size), where=previous != 0)


@dataclass(frozen=True)
class TrialSummary:
    """One trial's returns reduced to what the DSR and CSCV need (blocks None when the
    series is too short for the splits)."""

    stats: ReturnStats
    blocks: BlockMoments | None

    @classmethod
    def of(cls, returns: np.ndarray, n_splits: int = 16) -> TrialSummary:
        values = np.asarray(returns, dtype="float64")
        _check_splits(n_splits)
        enough = values.size // n_splits >= 2
        return cls(ReturnStats.of(values), BlockMoments.of(values, n_splits) if enough else None)

    def to_dict(self) -> dict[str, Any]:
        """Plain numbers and lists, to pass between steps of a fanned-out job."""
        blocks = None
        if self.blocks is not None:
            blocks = {k: getattr(self.blocks, k).tolist() for k in ("count", "total", "squares")}
        return {"stats": dataclasses.asdict(self.stats), "blocks": blocks}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialSummary:
        blocks = data["blocks"]
        return cls(
            ReturnStats(**data["stats"]),
            None if blocks is None else BlockMoments(**{k: np.array(v) for k, v in blocks.items()}),
        )


def report_from_summaries(summaries: list[TrialSummary], selected: int) -> OverfittingReport:
    """DSR of trial `selected` (an index into `summaries`) and PBO of all of them."""
    if not 0 <= selected < len(summaries):
        raise DataError(f"selected {selected!r}: not one of the {len(summaries)} trials")
    sharpes = np.array([s.stats.sharpe for s in summaries])
    variance = float(sharpes.var(ddof=1)) if sharpes.size > 1 else 0.0
    blocks = [s.blocks for s in summaries if s.blocks is not None]
    whole = len(blocks) == len(summaries) and len(blocks) >= 2
    chosen = summaries[selected].stats
    return OverfittingReport(
        deflated_sharpe=deflated_sharpe_of(chosen, sharpes),
        pbo=pbo_from_blocks(blocks).pbo if whole else None,
        n_trials=len(summaries),
        best_sharpe=chosen.sharpe,
        expected_max_sharpe=expected_max_sharpe(variance, len(summaries)),
        n_splits=blocks[0].count.size if blocks else 0,
    )


def overfitting_report(
    returns_by_trial: Iterable[np.ndarray], selected: int, n_splits: int = 16
) -> OverfittingReport:
    """DSR of trial number `selected` (an index into the iterable) and PBO of all trials.

    Each trial's per-period returns are reduced to a `TrialSummary` as they arrive, so
    memory stays O(trials × splits) however long the series are.
    """
    _check_splits(n_splits)
    return report_from_summaries([TrialSummary.of(r, n_splits) for r in returns_by_trial], selected)
