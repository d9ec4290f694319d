"""The research use case's selection rule: the best trial respects the optimisation direction."""

from __future__ import annotations

import pytest

from zvt_pipelines.backtest.optimize import Direction, Trial, TrialStatus
from zvt_pipelines.errors import ConfigError
from zvt_pipelines.research.backtests import best_trial

# Hand-worked: scores 1.0, unscored, 3.0, -2.0, 3.0 -> the highest is 3.0 (trial 2 is the
# first of the two equal ones), the lowest is -2.0 (trial 3); the unscored trial never wins.
TRIALS = (
    Trial(0, {"fast": 5}, 1.0, TrialStatus.COMPLETE),
    Trial(1, {"fast": 6}, None, TrialStatus.INFEASIBLE),
    Trial(2, {"fast": 7}, 3.0, TrialStatus.COMPLETE),
    Trial(3, {"fast": 8}, -2.0, TrialStatus.COMPLETE),
    Trial(4, {"fast": 9}, 3.0, TrialStatus.COMPLETE),
)


def test_maximise_picks_the_first_highest_score():
    assert best_trial(TRIALS, Direction.MAXIMIZE).number == 2
    assert best_trial(TRIALS, "maximize").number == 2


def test_minimise_picks_the_lowest_score():
    assert best_trial(TRIALS, "minimize").number == 3


def test_no_scored_trial_has_no_best():
    assert best_trial(TRIALS[1:2], "maximize") is None


def test_a_bad_direction_is_named():
    with pytest.raises(ConfigError, match="direction 'upward'"):
        best_trial(TRIALS, "upward")
