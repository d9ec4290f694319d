"""Overfitting controls: purged k-fold by hand, walk-forward windows, the locked test period."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest

from zvt_pipelines.backtest import run_sma_cross
from zvt_pipelines.backtest.optimize import IntParam, SearchSpace
from zvt_pipelines.backtest.validation import (
    TrainValTestSplit,
    purged_kfold,
    walk_forward,
    walk_forward_windows,
)
from zvt_pipelines.errors import ConfigError, TestPeriodLocked

DAY = pd.Timedelta(days=1)


def hourly(days: int, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 24 * days
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    open_ = np.concatenate(([100.0], close[:-1]))
    ts = pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC").astype("datetime64[ms, UTC]")
    frame = pd.DataFrame(
        {"ts": ts, "open": open_, "high": np.maximum(open_, close), "low": np.minimum(open_, close)}
    )
    frame["close"], frame["volume"] = close, 1.0
    return frame


def sharpe(returns: pd.Series) -> float:
    values = returns.to_numpy()
    return float(values.mean() / values.std(ddof=1) * np.sqrt(365))


def test_purged_kfold_on_twenty_samples_by_hand():
    """20 samples, 4 folds of 5, label horizon 2 (sample i's label spans [i, i+2], cut at
    19), embargo 1.

    fold  test     labels end  purged (overlap)   embargoed  train
    0     0..4     6           5, 6               7          8..19
    1     5..9     11          3, 4, 10, 11       12         0..2, 13..19
    2     10..14   16          8, 9, 15, 16       17         0..7, 18, 19
    3     15..19   19          13, 14             -          0..12
    """
    expected = [
        (range(0, 5), [5, 6], [7], range(8, 20)),
        (range(5, 10), [3, 4, 10, 11], [12], [0, 1, 2, *range(13, 20)]),
        (range(10, 15), [8, 9, 15, 16], [17], [*range(0, 8), 18, 19]),
        (range(15, 20), [13, 14], [], range(0, 13)),
    ]
    splits = list(purged_kfold(20, 4, label_horizon=2, embargo=1))
    assert len(splits) == 4
    for split, (test, purged, embargoed, train) in zip(splits, expected, strict=True):
        assert split.test.tolist() == list(test)
        assert split.purged.tolist() == purged
        assert split.embargoed.tolist() == embargoed
        assert split.train.tolist() == list(train)
        union = np.concatenate([split.train, split.test, split.purged, split.embargoed])
        assert sorted(union.tolist()) == list(range(20))


def test_purged_kfold_with_uneven_label_ends():
    """Sample 2's label runs to 12, deep into fold 2 (test 10..14): it is purged there.

    label_end = i everywhere except 2 -> 12 and 9 -> 15. Fold 1 (5..9) has labels ending at
    15, so 10..15 are purged and 16, 17 (embargo 2) embargoed; 2 overlaps [5, 15] too.
    """
    ends = np.arange(20)
    ends[2], ends[9] = 12, 15
    fold1, fold2 = list(purged_kfold(20, 4, embargo=2, label_end=ends))[1:3]
    assert fold1.purged.tolist() == [2, 10, 11, 12, 13, 14, 15]
    assert fold1.embargoed.tolist() == [16, 17]
    assert fold2.purged.tolist() == [2, 9]
    assert fold2.embargoed.tolist() == [15, 16]


@pytest.mark.parametrize(
    ("args", "message"),
    [((20, 1), "n_splits 1"), ((3, 4), "n_splits 4"), ((20, 4, -1), "label_horizon -1")],
)
def test_purged_kfold_rejects_bad_arguments(args, message):
    with pytest.raises(ConfigError, match=message):
        list(purged_kfold(*args))


@pytest.mark.parametrize("anchored", [False, True])
def test_walk_forward_windows_tile_the_range_and_never_overlap_their_tests(anchored):
    start, end = pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-04-10", tz="UTC")
    windows = walk_forward_windows(start, end, train="30D", test="14D", anchored=anchored)
    assert windows[0].test_start == start + 30 * DAY
    assert windows[-1].test_end == end
    for window, following in zip(windows, windows[1:], strict=False):
        assert window.test_end == following.test_start
    for window in windows:
        assert window.train_end == window.test_start < window.test_end
        assert window.train_start == (start if anchored else window.test_start - 30 * DAY)
    covered = sum((w.test_end - w.test_start for w in windows), pd.Timedelta(0))
    assert covered == end - start - 30 * DAY
    with pytest.raises(ConfigError, match="test '12h'"):
        walk_forward_windows(start, end, train="30D", test="12h")


@pytest.mark.parametrize("warmup", ["0D", "3D"])
def test_walk_forward_scores_equal_independent_backtests(warmup):
    frame = hourly(120)
    space = SearchSpace((IntParam("fast", 5, 10, 5), IntParam("slow", 20, 40, 20)))
    calls = []

    def run(candles, params):
        calls.append((candles["ts"].iloc[0], candles["ts"].iloc[-1]))
        return run_sma_cross(candles, params["fast"], params["slow"], 10.0, 10_000.0)

    outcome = walk_forward(frame, run, space, train="30D", test="15D", warmup=warmup)
    assert len(outcome.windows) == 6
    start = pd.Timestamp("2024-01-01", tz="UTC")
    assert outcome.oos_returns.index.equals(pd.date_range(start + 30 * DAY, periods=90, freq="D"))
    lead = pd.Timedelta(warmup)
    for item in outcome.windows:
        w = item.window
        train = frame[(frame["ts"] >= w.train_start) & (frame["ts"] < w.train_end)]
        scores = {
            (f, s): sharpe(run_sma_cross(train, f, s, 10.0, 10_000.0).daily_returns)
            for f in (5, 10)
            for s in (20, 40)
        }
        best = max(scores, key=scores.get)
        assert (item.best_params["fast"], item.best_params["slow"]) == best
        assert item.in_sample_score == pytest.approx(scores[best], rel=1e-9)
        if lead == pd.Timedelta(0):
            test = frame[(frame["ts"] >= w.test_start) & (frame["ts"] < w.test_end)]
            oos = run_sma_cross(test, *best, 10.0, 10_000.0).daily_returns
            assert item.out_of_sample_score == pytest.approx(sharpe(oos), rel=1e-9)
    for first, last in calls:  # every backtest saw one train window or one (warm-up +) test
        assert any(
            (w.window.train_start <= first and last < w.window.train_end)
            or (w.window.test_start - lead <= first and last < w.window.test_end)
            for w in outcome.windows
        )
    report = outcome.report
    assert report["oos_sharpe"] == pytest.approx(sharpe(outcome.oos_returns), rel=1e-9)
    mean_is = np.mean([w.in_sample_score for w in outcome.windows])
    mean_oos = np.mean([w.out_of_sample_score for w in outcome.windows])
    assert report["degradation_ratio"] == pytest.approx(mean_oos / mean_is, rel=1e-12)
    assert outcome.oos_equity.iloc[-1] == pytest.approx(np.prod(1 + outcome.oos_returns.to_numpy()))


@pytest.fixture
def split() -> TrainValTestSplit:
    return TrainValTestSplit(
        hourly(60), validation_start="2024-02-01", test_start="2024-02-15", warmup="2D"
    )


def test_train_and_validation_stop_before_the_test_period(split):
    test_start = pd.Timestamp("2024-02-15", tz="UTC")
    assert split.train()["ts"].max() < pd.Timestamp("2024-02-01", tz="UTC")
    validation = split.validation()
    assert validation["ts"].min() == pd.Timestamp("2024-02-01", tz="UTC")
    assert validation["ts"].max() < test_start
    validation.loc[:, "close"] = -1.0  # copies: the split is not changed
    assert (split.validation()["close"] > 0).all()


def test_the_test_period_is_unreachable_through_the_public_api(split):
    test_start = pd.Timestamp("2024-02-15", tz="UTC")
    with pytest.raises(TestPeriodLocked, match="locked until final_evaluation"):
        split.test_data()
    for name in (n for n in dir(split) if not n.startswith("_")):
        member = getattr(split, name)
        if name in {"test_data", "final_evaluation"}:
            continue
        if callable(member) and not inspect.signature(member).parameters:
            member = member()
        if isinstance(member, pd.DataFrame):
            assert member["ts"].max() < test_start, name
    assert not split.evaluated and split.final_params is None


def test_final_evaluation_runs_once(split):
    seen = []

    def evaluate(candles, params):
        seen.append(candles["ts"].min())
        return run_sma_cross(candles, params["fast"], params["slow"], 0.0, 1_000.0).final_equity

    final = split.final_evaluation({"fast": 5, "slow": 20}, evaluate)
    assert final > 0
    assert seen == [pd.Timestamp("2024-02-13", tz="UTC")]  # two warm-up days before the test
    assert split.evaluated and split.final_params == {"fast": 5, "slow": 20}
    with pytest.raises(TestPeriodLocked, match="already evaluated once"):
        split.final_evaluation({"fast": 10, "slow": 40}, evaluate)
    assert len(seen) == 1
    assert split.test_data()["ts"].max() == pd.Timestamp("2024-02-29 23:00", tz="UTC")


def test_split_boundaries_are_checked():
    with pytest.raises(ConfigError, match="validation_start"):
        TrainValTestSplit(hourly(10), validation_start="2024-01-05", test_start="2024-01-04")


def test_a_short_remainder_joins_the_last_full_test_window():
    """47 days from 2024-01-01, train 30, test 8: tests tile [Jan 31, Feb 17) = 17 days.

    8 + 8 leaves a 1-day remainder (Feb 16); it joins the second window, which runs
    Feb 8 -> Feb 17 (9 days). Cutting it off as its own window would leave one daily
    return: no Sharpe.
    """
    start = pd.Timestamp("2024-01-01", tz="UTC")
    windows = walk_forward_windows(start, start + 47 * DAY, train="30D", test="8D")
    assert [(w.test_start, w.test_end) for w in windows] == [
        (start + 30 * DAY, start + 38 * DAY),
        (start + 38 * DAY, start + 47 * DAY),
    ]
    assert [(w.train_start, w.train_end) for w in windows] == [
        (start, start + 30 * DAY),
        (start + 8 * DAY, start + 38 * DAY),
    ]
    # a remainder of exactly one test span is a window of its own: 30 + 8 + 8 = 46 days
    assert len(walk_forward_windows(start, start + 46 * DAY, train="30D", test="8D")) == 2
    assert len(walk_forward_windows(start, start + 54 * DAY, train="30D", test="8D")) == 3


def test_walk_forward_summary_is_never_nan_when_the_data_ends_mid_window():
    """The same 47 days of hourly candles: 2 windows (8 and 9 test days), both scored.

    Every number recomputed here by hand: the grid's best on each train slice, its Sharpe
    (mean / std ddof=1 * sqrt 365) on each test slice, their means.
    """
    frame = hourly(47)
    space = SearchSpace((IntParam("fast", 5, 10, 5), IntParam("slow", 20, 40, 20)))

    def run(candles, params):
        return run_sma_cross(candles, params["fast"], params["slow"], 10.0, 10_000.0)

    outcome = walk_forward(frame, run, space, train="30D", test="8D")
    start = pd.Timestamp("2024-01-01", tz="UTC")
    assert outcome.oos_returns.index.equals(pd.date_range(start + 30 * DAY, periods=17, freq="D"))
    in_sample, out_of_sample = [], []
    for item in outcome.windows:
        w = item.window
        train = frame[(frame["ts"] >= w.train_start) & (frame["ts"] < w.train_end)]
        scores = {
            (f, s): sharpe(run_sma_cross(train, f, s, 10.0, 10_000.0).daily_returns)
            for f in (5, 10)
            for s in (20, 40)
        }
        best = max(scores, key=scores.get)
        test = frame[(frame["ts"] >= w.test_start) & (frame["ts"] < w.test_end)]
        in_sample.append(scores[best])
        out_of_sample.append(sharpe(run_sma_cross(test, *best, 10.0, 10_000.0).daily_returns))
    report = outcome.report
    assert all(np.isfinite(value) for value in report.values()), report
    assert (report["windows"], report["scored_windows"]) == (2.0, 2.0)
    assert report["mean_is_score"] == pytest.approx(np.mean(in_sample), rel=1e-9)
    assert report["mean_oos_score"] == pytest.approx(np.mean(out_of_sample), rel=1e-9)


def test_walk_forward_rejects_test_windows_too_short_for_the_default_sharpe():
    space = SearchSpace((IntParam("fast", 5, 10, 5), IntParam("slow", 20, 40, 20)))
    with pytest.raises(ConfigError, match="test '1D'"):
        walk_forward(hourly(40), lambda c, p: None, space, train="30D", test="1D")
