"""One optimisation interface: grid, genetic and Bayesian search on functions with known optima."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zvt_pipelines.backtest import BacktestSettings, run_sma_cross
from zvt_pipelines.backtest.optimize import (
    CategoricalParam,
    FloatParam,
    IntParam,
    SearchSpace,
    SmaCrossObjective,
    TrialStatus,
    optimize,
)
from zvt_pipelines.errors import ConfigError


def bowl(params) -> float:
    """Maximum 5.0 at x = 1.3, y = -0.7: ``5 - (x - 1.3)^2 - (y + 0.7)^2``."""
    return 5.0 - (params["x"] - 1.3) ** 2 - (params["y"] + 0.7) ** 2


SMOOTH = SearchSpace((FloatParam("x", -5.0, 5.0), FloatParam("y", -5.0, 5.0)))


def test_grid_finds_the_known_optimum_and_skips_infeasible_points():
    """f(a, b, c) = -(a - 3)^2 - (b - 7)^2 + bonus(c), bonus = {"x": 0, "y": 1}.

    Over a in 1..5, b in 2..10 step 2, c in {x, y}: the unconstrained best is a=3, b=6
    or 8 (both -1) with c=y -> score 0. With the constraint a + b <= 9 the b=8 point is
    infeasible and b=6 (a=3) wins: -(0) - 1 + 1 = 0; ties are broken by trial order.
    """
    calls = []

    def objective(p):
        calls.append(p)
        return -((p["a"] - 3) ** 2) - (p["b"] - 7) ** 2 + {"x": 0.0, "y": 1.0}[p["c"]]

    space = SearchSpace(
        (IntParam("a", 1, 5), IntParam("b", 2, 10, 2), CategoricalParam("c", ("x", "y"))),
        constraint=lambda p: p["a"] + p["b"] <= 9,
    )
    result = optimize(objective, space, "grid")
    assert len(result.trials) == 5 * 5 * 2
    infeasible = [t for t in result.trials if t.status is TrialStatus.INFEASIBLE]
    assert len(infeasible) == len(result.trials) - len(calls)
    assert all(t.params["a"] + t.params["b"] > 9 for t in infeasible)
    assert all(p["a"] + p["b"] <= 9 for p in calls)
    assert result.best.params == {"a": 3, "b": 6, "c": "y"} and result.best.score == 0.0


def test_grid_minimize_and_float_steps():
    space = [FloatParam("x", -1.0, 2.0, step=0.25), FloatParam("y", -1.0, 0.0, step=0.1)]
    result = optimize(lambda p: -bowl(p), space, "grid", direction="minimize")
    assert len(result.trials) == 13 * 11
    assert result.best.params["x"] == pytest.approx(1.25)
    assert result.best.params["y"] == pytest.approx(-0.7)


@pytest.mark.parametrize("method", ["genetic", "bayesian"])
def test_search_gets_near_the_optimum_of_a_smooth_function(method):
    result = optimize(bowl, SMOOTH, method, n_trials=300, seed=3)
    assert len(result.trials) == 300
    best = result.best.params
    assert abs(best["x"] - 1.3) < 0.15 and abs(best["y"] + 0.7) < 0.15
    assert result.best.score == pytest.approx(5.0, abs=0.03)
    again = optimize(bowl, SMOOTH, method, n_trials=300, seed=3)
    assert again.best == result.best


@pytest.mark.parametrize("method", ["grid", "genetic", "bayesian"])
def test_on_trial_sees_every_trial_and_constraints_hold(method):
    seen = []
    space = SearchSpace(
        (IntParam("fast", 2, 20), IntParam("slow", 5, 60, 5)),
        constraint=lambda p: p["fast"] < p["slow"],
    )

    def objective(p):
        assert p["fast"] < p["slow"]
        return -abs(p["fast"] - 9) - abs(p["slow"] - 35) / 5

    result = optimize(objective, space, method, n_trials=60, seed=1, on_trial=seen.append)
    assert seen == list(result.trials)
    assert [t.number for t in seen] == list(range(len(seen)))
    complete = [t for t in result.trials if t.status is TrialStatus.COMPLETE]
    assert all(2 <= t.params["fast"] <= 20 and t.params["slow"] % 5 == 0 for t in complete)
    assert result.best.score == max(t.score for t in complete)


def test_nan_scores_never_win():
    result = optimize(lambda p: np.nan if p["x"] == 2 else p["x"], [IntParam("x", 0, 2)], "grid")
    assert result.trials[2].status is TrialStatus.FAILED
    assert result.best.params == {"x": 1}


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: IntParam("fast", 10, 5), "parameter 'fast': need low <= high"),
        (lambda: IntParam("fast", 1, 5, 0), "parameter .fast.*step=0"),
        (lambda: IntParam("fast", 1.5, 5), "low 1.5 is not an integer"),
        (lambda: FloatParam("fee", 0.0, float("nan")), "parameter 'fee'"),
        (lambda: CategoricalParam("side", ()), "parameter 'side': choices must not be empty"),
        (lambda: SearchSpace((IntParam("a", 1, 2), IntParam("a", 1, 3))), r"\['a'\] declared"),
        (lambda: optimize(bowl, SMOOTH, "grid"), "parameter 'x': a grid search needs"),
        (lambda: optimize(bowl, SMOOTH, "annealing"), "annealing"),
        (lambda: optimize(bowl, SMOOTH, "genetic"), "n_trials None"),
    ],
)
def test_bad_spaces_name_the_parameter_and_value(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


def test_sma_grid_fast_path_equals_per_point_backtests():
    rng = np.random.default_rng(5)
    n = 2_000
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    open_ = np.concatenate(([100.0], close[:-1]))
    ts = pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC").astype("datetime64[ms, UTC]")
    frame = pd.DataFrame(
        {"ts": ts, "open": open_, "high": np.maximum(open_, close), "low": np.minimum(open_, close)}
    )
    frame["close"], frame["volume"] = close, 1.0
    space = SearchSpace(
        (IntParam("fast", 3, 12, 3), IntParam("slow", 10, 40, 10)),
        constraint=lambda p: p["fast"] < p["slow"],
    )
    fast_objective = SmaCrossObjective(frame, BacktestSettings(fee_bps=10.0))
    assert fast_objective.grid_scorer() is not None
    calls = []

    def per_point(p):
        calls.append(p)
        return run_sma_cross(frame, p["fast"], p["slow"], 10.0, 10_000.0).final_equity

    fast = optimize(fast_objective, space, "grid")
    slow = optimize(per_point, space, "grid")
    assert len(calls) == 15  # 4 x 4 grid minus (12, 10)
    for quick, reference in zip(fast.trials, slow.trials, strict=True):
        assert quick.params == reference.params and quick.status == reference.status
        if reference.score is not None:
            assert quick.score == pytest.approx(reference.score, rel=1e-12)
    assert fast.best.params == slow.best.params
    sharpe = SmaCrossObjective(frame, BacktestSettings(fee_bps=10.0), metric="sharpe")
    assert sharpe.grid_scorer() is None
    point = {"fast": 3, "slow": 20}
    expected = run_sma_cross(frame, 3, 20, 10.0, 10_000.0).metrics["sharpe"]
    assert sharpe(point) == pytest.approx(expected, rel=1e-12)
