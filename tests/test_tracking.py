"""MLflow tracking checked through the real `MlflowClient` on SQLite and PostgreSQL stores."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from zvt_pipelines.backtest import BacktestSettings, run_sma_cross
from zvt_pipelines.backtest.optimize import (
    FloatParam,
    IntParam,
    SearchSpace,
    SmaCrossObjective,
    optimize,
)
from zvt_pipelines.tracking import (
    PARAM_VALUE_LIMIT,
    TrackingTarget,
    data_fingerprint,
    flatten_params,
    start_sweep,
    track_backtest,
    tracked_optimize,
)

EXPECTED_ARTIFACTS = {
    "config.yaml",
    "equity.csv",
    "trades.csv",
    "report/report.html",
    "report/equity.png",
    "report/drawdown.png",
    "report/trade_pnl.png",
    "report/rolling.png",
}


def walk(n: int = 24 * 60, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    open_ = np.concatenate(([100.0], close[:-1]))
    ts = pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC").astype("datetime64[ms, UTC]")
    return pd.DataFrame(
        {
            "ts": ts,
            "open": open_,
            "high": np.maximum(open_, close) * 1.001,
            "low": np.minimum(open_, close) * 0.999,
            "close": close,
            "volume": 1.0,
        }
    )


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return walk()


@pytest.fixture(scope="module")
def result(frame):
    return run_sma_cross(frame, 10, 30, 10.0, 10_000.0)


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("zvt_home")


@pytest.fixture(scope="module")
def env(home) -> dict[str, str]:
    """No MLFLOW_TRACKING_URI: runs go to the default SQLite store under ZVT_HOME."""
    return {"ZVT_HOME": str(home)}


@pytest.fixture(scope="module")
def client(env):
    return TrackingTarget.resolve(env=env).client()


@pytest.fixture(scope="module")
def tracked(result, frame, env):
    fingerprint = data_fingerprint(frame, "sim", "BTC/USDT", "1h")
    run_id = track_backtest(
        result,
        strategy_name="sma_cross",
        params={"fast": 10, "slow": 30, "filters": {"min_volume": 0.0}},
        engine_settings=dataclasses.asdict(BacktestSettings(fee_bps=10.0)),
        data_fingerprint=fingerprint,
        config_yaml="strategy: sma_cross\nfast: 10\nslow: 30\n",
        env=env,
    )
    return run_id, fingerprint


def test_default_target_is_sqlite_under_zvt_home_and_env_uri_wins(home):
    target = TrackingTarget.resolve(env={"ZVT_HOME": str(home)})
    assert target.tracking_uri == f"sqlite:///{home.resolve() / 'mlflow.db'}"
    assert target.artifact_root == home.resolve() / "mlartifacts"
    remote = TrackingTarget.resolve(
        env={"ZVT_HOME": str(home), "MLFLOW_TRACKING_URI": "http://mlflow:5000"}
    )
    assert remote.tracking_uri == "http://mlflow:5000" and remote.artifact_root is None
    explicit = TrackingTarget.resolve("sqlite:////x/y.db", {"MLFLOW_TRACKING_URI": "http://a"})
    assert explicit.tracking_uri == "sqlite:////x/y.db"


def test_flatten_params_dots_keys_and_cuts_long_values():
    long_value = "x" * 2_000
    flat = flatten_params({"a": {"b": 1, "c": [1, 2]}, "bad key!": long_value}, "strategy")
    assert flat["strategy.a.b"] == "1"
    assert flat["strategy.a.c"] == "[1, 2]"
    cut = flat["strategy.bad key_"]
    assert len(cut) == PARAM_VALUE_LIMIT
    assert cut.startswith("x" * 400) and "...[sha256:" in cut


def test_fingerprint_hash_changes_with_any_candle(frame):
    first = data_fingerprint(frame, "sim", "BTC/USDT")
    assert first == data_fingerprint(frame.copy(), "sim", "BTC/USDT")
    changed = frame.copy()
    changed.loc[100, "low"] *= 0.999
    assert data_fingerprint(changed, "sim", "BTC/USDT")["sha256"] != first["sha256"]
    assert first["bars"] == len(frame) and first["start"] == frame["ts"].iloc[0].isoformat()


def test_run_has_params_metrics_and_artifacts(client, tracked, result, home):
    run_id, fingerprint = tracked
    run = client.get_run(run_id)
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == "zvt/sma_cross"
    assert experiment.artifact_location.startswith((home.resolve() / "mlartifacts").as_uri())
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert params["strategy.fast"] == "10" and params["strategy.slow"] == "30"
    assert params["strategy.filters.min_volume"] == "0.0"
    assert params["engine.fee_bps"] == "10.0" and params["engine.fill_price"] == "open"
    assert params["data.sha256"] == fingerprint["sha256"]
    assert params["data.symbols"] == "BTC/USDT" and params["data.timeframe"] == "1h"
    logged = run.data.metrics
    expected = {**result.metrics, "final_equity": result.final_equity}
    expected.update(trades=result.n_trades, fees_paid=result.fees_paid)
    assert set(expected) <= set(logged)
    for name, value in expected.items():
        if math.isnan(value):
            assert math.isnan(logged[name]), name
        else:
            assert logged[name] == pytest.approx(value, rel=1e-12, abs=1e-12), name


def test_artifacts_are_listed_and_land_under_zvt_home(client, tracked, result, home):
    run_id, _ = tracked
    listed = {a.path for a in client.list_artifacts(run_id)}
    listed |= {a.path for a in client.list_artifacts(run_id, "report")}
    assert listed >= EXPECTED_ARTIFACTS
    local = Path(client.download_artifacts(run_id, "equity.csv", str(home / "dl")))
    equity = pd.read_csv(local, index_col=0)["equity"].to_numpy()
    np.testing.assert_allclose(equity, result.equity.to_numpy(), rtol=1e-12)
    stored = list((home / "mlartifacts").rglob("config.yaml"))
    assert stored and stored[0].read_text() == "strategy: sma_cross\nfast: 10\nslow: 30\n"


def test_sweep_children_link_to_their_parent(client, frame, env):
    space = SearchSpace(
        (IntParam("fast", 4, 8, 2), IntParam("slow", 8, 16, 4)),
        constraint=lambda p: p["fast"] < p["slow"],
    )
    objective = SmaCrossObjective(frame, BacktestSettings(fee_bps=10.0))
    sweep = start_sweep(
        strategy_name="sma_cross",
        method="grid",
        space=space.describe(),
        engine_settings={"fee_bps": 10.0},
        data_fingerprint=data_fingerprint(frame, "sim", "BTC/USDT"),
        objective="final_equity",
        env=env,
    )
    outcome = optimize(objective, space, "grid", on_trial=sweep.log_trial)
    sweep.finish(outcome)
    parent = client.get_run(sweep.run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.metrics["best_score"] == pytest.approx(outcome.best.score, rel=1e-12)
    assert parent.data.params["best.fast"] == str(outcome.best.params["fast"])
    children = client.search_runs(
        [parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{sweep.run_id}'"
    )
    feasible = [t for t in outcome.trials if t.score is not None]
    assert len(children) == len(feasible) == 8  # 3 x 3 grid minus (8, 8)
    by_params = {
        (c.data.params["strategy.fast"], c.data.params["strategy.slow"]): c for c in children
    }
    for trial in feasible:
        child = by_params[(str(trial.params["fast"]), str(trial.params["slow"]))]
        assert child.data.metrics["score"] == pytest.approx(trial.score, rel=1e-12)


def test_a_full_backtest_can_be_a_child_run(client, result, frame, tracked, env):
    parent_id, fingerprint = tracked
    child_id = track_backtest(
        result,
        strategy_name="sma_cross",
        params={"fast": 10, "slow": 30},
        engine_settings={},
        data_fingerprint=fingerprint,
        env=env,
        parent_run_id=parent_id,
        artifacts=False,
    )
    child = client.get_run(child_id)
    assert child.data.tags["mlflow.parentRunId"] == parent_id
    assert client.list_artifacts(child_id) == []


def test_tracked_optimize_logs_every_evaluation_and_fails_the_parent_on_error(
    client, env, tmp_path
):
    space = SearchSpace((FloatParam("x", -2.0, 2.0),))
    common = {
        "strategy_name": "toy",
        "objective_name": "parabola",
        "engine_settings": {},
        "data_fingerprint": {"venue": "none"},
        "env": env,
    }
    result, parent_id = tracked_optimize(
        lambda p: -((p["x"] - 0.5) ** 2), space, method="genetic", n_trials=12, seed=4, **common
    )
    parent = client.get_run(parent_id)
    assert parent.info.status == "FINISHED" and parent.data.params["sweep.method"] == "genetic"
    children = client.search_runs(
        [parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent_id}'"
    )
    assert len(children) == len(result.trials) == 12
    assert max(c.data.metrics["score"] for c in children) == result.best.score
    table = client.download_artifacts(parent_id, "trials.csv", str(tmp_path))
    assert pd.read_csv(table)["score"].tolist() == [t.score for t in result.trials]
    _, quiet_id = tracked_optimize(
        lambda p: p["x"], space, method="genetic", n_trials=5, child_runs=False, **common
    )
    assert not client.search_runs(
        [parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{quiet_id}'"
    )

    def broken(params):
        raise ZeroDivisionError("objective bug")

    with pytest.raises(ZeroDivisionError):
        tracked_optimize(broken, space, method="genetic", n_trials=3, **common)
    failed = client.search_runs([parent.info.experiment_id], "attributes.status = 'FAILED'")
    assert len(failed) == 1 and failed[0].data.params["sweep.objective"] == "parabola"


def test_postgresql_backend_store(scratch_pg_url, tmp_path, result, frame):
    uri = scratch_pg_url
    assert uri.startswith("postgresql+psycopg2://")
    env = {"ZVT_HOME": str(tmp_path), "MLFLOW_TRACKING_URI": uri}
    run_id = track_backtest(
        result,
        strategy_name="sma_cross_pg",
        params={"fast": 10, "slow": 30},
        engine_settings={"fee_bps": 10.0},
        data_fingerprint=data_fingerprint(frame, "sim", "BTC/USDT"),
        env=env,
    )
    client = TrackingTarget.resolve(env=env).client()
    run = client.get_run(run_id)
    assert run.data.params["strategy.slow"] == "30"
    assert run.data.metrics["final_equity"] == pytest.approx(result.final_equity, rel=1e-12)
    listed = {a.path for a in client.list_artifacts(run_id)}
    assert {"config.yaml", "equity.csv", "trades.csv", "report"} <= listed
    assert list((tmp_path / "mlartifacts").rglob("report.html"))
    with sa.create_engine(uri).connect() as conn:
        stored = conn.execute(sa.text("select count(*) from runs")).scalar_one()
    assert stored == 1
