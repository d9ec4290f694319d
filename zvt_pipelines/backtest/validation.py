"""Overfitting controls: walk-forward optimisation, purged k-fold CV, a locked test period.

* `walk_forward`: optimise on each train window, trade the best params on the test
  window that follows, stitch the test windows' daily returns into one out-of-sample
  series and compare in-sample with out-of-sample scores.
* `purged_kfold`: k contiguous test folds over sample positions; training samples whose
  label overlaps a test fold are purged and those just after it embargoed
  (López de Prado, *Advances in Financial Machine Learning*, ch. 7).
* `TrainValTestSplit`: hands out train and validation data; the test period is
  released only through one `final_evaluation` call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from zvt_pipelines.analytics import metrics
from zvt_pipelines.backtest.optimize import Method, SearchSpace, optimize
from zvt_pipelines.backtest.result import BacktestResult
from zvt_pipelines.data.candles import slice_candles
from zvt_pipelines.errors import ConfigError, DataError, TestPeriodLocked

Params = dict[str, Any]
Runner = Callable[[pd.DataFrame, Params], BacktestResult]
Evaluation = TypeVar("Evaluation")
ONE_DAY = pd.Timedelta(days=1)


def utc_timestamp(value: pd.Timestamp | str) -> pd.Timestamp:
    """A timestamp in UTC; a naive one (e.g. ``"2024-02-01"``) is read as UTC."""
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


# --- purged k-fold -------------------------------------------------------------------------


@dataclass(frozen=True)
class PurgedSplit:
    """Positions of one fold: train, test, and the training positions removed (and why)."""

    train: np.ndarray
    test: np.ndarray
    purged: np.ndarray
    embargoed: np.ndarray


def purged_kfold(
    n_samples: int,
    n_splits: int,
    label_horizon: int = 0,
    embargo: int = 0,
    label_end: np.ndarray | None = None,
) -> Iterator[PurgedSplit]:
    """Split positions ``0..n_samples-1`` into `n_splits` contiguous test folds.

    Sample i's label spans positions ``[i, label_end[i]]`` (``label_end`` defaults to
    ``min(i + label_horizon, n_samples - 1)``). For the test fold ``[a, b)`` whose labels
    end at ``e = max(label_end[a:b])``:

    * purged: training samples whose label span overlaps ``[a, e]`` -- those before the
      fold with ``label_end[i] >= a`` and those after it with ``i <= e``;
    * embargoed: the next `embargo` samples after that, ``e < i <= e + embargo``
      (a gap that keeps serial correlation from leaking test information);
    * train: every other position.

    Folds are ``np.array_split`` blocks, so their sizes differ by at most one.
    """
    for name, value, least in (
        ("n_samples", n_samples, 2),
        ("n_splits", n_splits, 2),
        ("label_horizon", label_horizon, 0),
        ("embargo", embargo, 0),
    ):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < least:
            raise ConfigError(f"{name} {value!r}: expected a whole number >= {least}")
    if n_splits > n_samples:
        raise ConfigError(f"n_splits {n_splits}: more folds than the {n_samples} samples")
    positions = np.arange(n_samples)
    if label_end is None:
        ends = np.minimum(positions + label_horizon, n_samples - 1)
    else:
        ends = np.asarray(label_end, dtype=np.int64)
        if ends.shape != (n_samples,) or (ends < positions).any() or (ends >= n_samples).any():
            raise DataError("label_end: expected one position per sample with i <= end < n")
    for fold in np.array_split(positions, n_splits):
        first, last = int(fold[0]), int(fold[-1])
        label_stop = int(ends[first : last + 1].max())
        outside = (positions < first) | (positions > last)
        overlaps = ((positions < first) & (ends >= first)) | (
            (positions > last) & (positions <= label_stop)
        )
        after = (positions > label_stop) & (positions <= label_stop + embargo)
        yield PurgedSplit(
            train=positions[outside & ~overlaps & ~after],
            test=fold,
            purged=positions[outside & overlaps],
            embargoed=positions[outside & after],
        )


# --- walk-forward ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WalkForwardWindow:
    """Half-open train ``[train_start, train_end)`` and test ``[test_start, test_end)``."""

    number: int
    train_start: pd.Timestamp
    train_end: pd.Timestamp
    test_start: pd.Timestamp
    test_end: pd.Timestamp


def _whole_days(value: pd.Timedelta | str, name: str) -> pd.Timedelta:
    span = pd.Timedelta(value)
    if span <= pd.Timedelta(0) or span % ONE_DAY != pd.Timedelta(0):
        raise ConfigError(f"{name} {value!r}: expected a positive whole number of days")
    return span


def walk_forward_windows(
    start: pd.Timestamp,
    end: pd.Timestamp,
    *,
    train: pd.Timedelta | str,
    test: pd.Timedelta | str,
    anchored: bool = False,
) -> list[WalkForwardWindow]:
    """Consecutive test windows of length `test` after a first `train` span.

    Test windows tile ``[start + train, end)`` without gaps or overlap; each train window
    is the `train` span just before its test window, or everything from `start` when
    `anchored`. A remainder at the end shorter than `test` is merged into the last full
    window (which then runs to `end`, up to ``2 * test - 1`` days), so no window is too
    short to score; only when ``[start + train, end)`` is shorter than `test` is the one
    window shorter. Spans are whole days so that daily returns of different test windows
    never share a day.
    """
    train_span, test_span = _whole_days(train, "train"), _whole_days(test, "test")
    start, end = utc_timestamp(start), utc_timestamp(end)
    test_start = start + train_span
    if test_start >= end:
        raise ConfigError(f"train {train!r}: leaves no test period before {end}")
    windows = []
    while test_start < end:
        test_end = test_start + test_span
        if test_end + test_span > end:
            test_end = end  # the remainder is shorter than `test`: it joins this window
        windows.append(
            WalkForwardWindow(
                number=len(windows),
                train_start=start if anchored else test_start - train_span,
                train_end=test_start,
                test_start=test_start,
                test_end=test_end,
            )
        )
        test_start = test_end
    return windows


@dataclass(frozen=True)
class WindowOutcome:
    """The best params of one train window and their in- and out-of-sample scores."""

    window: WalkForwardWindow
    best_params: Params
    in_sample_score: float
    out_of_sample_score: float
    trials: int


@dataclass(frozen=True)
class WalkForwardResult:
    """Per-window outcomes, the stitched out-of-sample series and a summary report.

    ``oos_returns`` are daily returns of the test windows one after another;
    ``oos_equity`` the growth of 1 unit over them. ``report`` holds ``oos_sharpe``,
    ``oos_total_return``, ``oos_max_drawdown``, ``mean_is_score``, ``mean_oos_score``
    and ``degradation_ratio`` = mean OOS score / mean IS score (1 means no decay;
    NaN when the mean IS score is 0). The means run over the windows whose two scores
    are finite (a flat test window has no Sharpe: 0 / 0); ``scored_windows`` counts them.
    """

    windows: tuple[WindowOutcome, ...]
    oos_returns: pd.Series
    oos_equity: pd.Series
    report: dict[str, float]


def _test_returns(result: BacktestResult, test_start: pd.Timestamp) -> pd.Series:
    """Daily returns from `test_start` on (bars before it were warm-up only)."""
    before = result.equity[result.equity.index < test_start]
    if before.empty:
        return result.daily_returns
    inside = result.equity[result.equity.index >= test_start]
    return metrics.daily_returns_from_equity(inside, initial=float(before.iloc[-1]))


def walk_forward(
    frame: pd.DataFrame,
    run: Runner,
    space: SearchSpace,
    *,
    train: pd.Timedelta | str,
    test: pd.Timedelta | str,
    anchored: bool = False,
    warmup: pd.Timedelta | str = pd.Timedelta(0),
    score: Callable[[pd.Series], float] | None = None,
    method: Method | str = Method.GRID,
    n_trials: int | None = None,
    seed: int = 0,
    annualization: float = metrics.DAYS_PER_YEAR,
) -> WalkForwardResult:
    """Walk-forward optimisation of ``run(candles, params) -> BacktestResult``.

    Parameters
    ----------
    frame : candles; windows start at the first candle's UTC day
    run : the backtest of one parameter set on a candle slice
    space, method, n_trials, seed : the search of each train window (see `optimize`)
    train, test, anchored : window spans in whole days (see `walk_forward_windows`)
    warmup : candles before each test window handed to `run` so indicators are ready;
        only returns from the test start on are scored (a position opened during the
        warm-up is carried in, as in live trading)
    score : maps daily returns to a score to maximise; default annualised Sharpe
    annualization : periods per year of the default score and the report's Sharpe
    """
    if frame.empty:
        raise DataError("walk_forward: no candles")
    if score is None and _whole_days(test, "test") < 2 * ONE_DAY:
        raise ConfigError(
            f"test {test!r}: the default Sharpe score needs windows of 2 days or more"
        )
    score = score or (lambda r: metrics.sharpe_ratio(r, annualization=annualization))
    warmup_span = pd.Timedelta(warmup)
    start = frame["ts"].iloc[0].floor("D")
    end = frame["ts"].iloc[-1].floor("D") + ONE_DAY
    outcomes, pieces = [], []
    for window in walk_forward_windows(start, end, train=train, test=test, anchored=anchored):
        train_frame = slice_candles(frame, window.train_start, window.train_end)
        search = optimize(
            lambda params, data=train_frame: score(run(data, params).daily_returns),
            space,
            method,
            n_trials=n_trials,
            seed=seed,
        )
        if search.best is None:
            raise DataError(f"walk_forward window {window.number}: no parameter set scored")
        test_frame = slice_candles(frame, window.test_start - warmup_span, window.test_end)
        returns = _test_returns(run(test_frame, search.best.params), window.test_start)
        pieces.append(returns)
        outcomes.append(
            WindowOutcome(
                window, search.best.params, search.best.score, score(returns), len(search.trials)
            )
        )
    oos_returns = pd.concat(pieces).rename("oos_returns")
    scored = [o for o in outcomes if np.isfinite([o.in_sample_score, o.out_of_sample_score]).all()]
    mean_is = _mean([o.in_sample_score for o in scored])
    mean_oos = _mean([o.out_of_sample_score for o in scored])
    report = {
        "windows": float(len(outcomes)),
        "scored_windows": float(len(scored)),
        "oos_sharpe": metrics.sharpe_ratio(oos_returns, annualization=annualization),
        "oos_total_return": metrics.total_return(oos_returns),
        "oos_max_drawdown": metrics.max_drawdown(oos_returns),
        "mean_is_score": mean_is,
        "mean_oos_score": mean_oos,
        "degradation_ratio": mean_oos / mean_is if mean_is != 0 else float("nan"),
    }
    oos_equity = (1.0 + oos_returns).cumprod().rename("oos_equity")
    return WalkForwardResult(tuple(outcomes), oos_returns, oos_equity, report)


def _mean(values: list[float]) -> float:
    """The mean of `values`; NaN for none (no window could be scored)."""
    return float(np.mean(values)) if values else float("nan")


# --- the no-peek split -----------------------------------------------------------------------


class TrainValTestSplit:
    """Train / validation / test periods of a candle frame, with the test period locked.

    `train()` and `validation()` return copies of ``[start, validation_start)`` and
    ``[validation_start, test_start)``. The test period ``[test_start, end]`` is given
    out only by `final_evaluation(params, evaluate)`, once: a second call, or asking for
    `test_data()` before it, raises `TestPeriodLocked`. `warmup` candles before
    `test_start` are included in what `evaluate` receives (they are not secret).
    """

    def __init__(
        self,
        frame: pd.DataFrame,
        *,
        validation_start: pd.Timestamp | str,
        test_start: pd.Timestamp | str,
        warmup: pd.Timedelta | str = pd.Timedelta(0),
    ) -> None:
        validation_at = utc_timestamp(validation_start)
        test_at = utc_timestamp(test_start)
        first, last = frame["ts"].iloc[0], frame["ts"].iloc[-1]
        if not first < validation_at < test_at <= last:
            raise ConfigError(
                f"validation_start {validation_at} / test_start {test_at}: need "
                f"{first} < validation_start < test_start <= {last}"
            )
        self.validation_start = validation_at
        self.test_start = test_at
        self._train = frame.loc[frame["ts"] < validation_at].reset_index(drop=True)
        self._validation = frame.loc[
            (frame["ts"] >= validation_at) & (frame["ts"] < test_at)
        ].reset_index(drop=True)
        self.__locked = frame.loc[frame["ts"] >= test_at - pd.Timedelta(warmup)].reset_index(
            drop=True
        )
        self.__chosen: Params | None = None

    def train(self) -> pd.DataFrame:
        """A copy of the training period."""
        return self._train.copy()

    def validation(self) -> pd.DataFrame:
        """A copy of the validation period."""
        return self._validation.copy()

    @property
    def evaluated(self) -> bool:
        """True once `final_evaluation` has run."""
        return self.__chosen is not None

    @property
    def final_params(self) -> Params | None:
        """The params of the final evaluation (None before it)."""
        return None if self.__chosen is None else dict(self.__chosen)

    def test_data(self) -> pd.DataFrame:
        """The test period, only after the final evaluation has been done."""
        if self.__chosen is None:
            raise TestPeriodLocked(
                f"the test period from {self.test_start} is locked until final_evaluation()"
            )
        return self.__locked.copy()

    def final_evaluation(
        self, params: Params, evaluate: Callable[[pd.DataFrame, Params], Evaluation]
    ) -> Evaluation:
        """Run ``evaluate(test_candles, params)`` -- allowed exactly once."""
        if self.__chosen is not None:
            raise TestPeriodLocked(
                f"the test period was already evaluated once (params {self.__chosen}); "
                "a second look would select on it"
            )
        self.__chosen = dict(params)
        return evaluate(self.__locked.copy(), dict(params))
