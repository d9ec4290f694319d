"""The overfitting gate at deploy: `zvt optimize` records the deflated Sharpe ratio and PBO,
and `zvt strategy sync` of an entry carrying that optimisation refuses an overfit
parameter set (many SMA windows tried on pure noise, best picked), deploys a genuine edge,
and deploys an overfit one only with `--override-overfitting --reason`, audited."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
import yaml
from typer.testing import CliRunner

from zvt_pipelines.cli import app
from zvt_pipelines.errors import ConfigError
from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.lifecycle_models import StrategyStatus
from zvt_pipelines.storage.models import AuditLog
from zvt_pipelines.strategies import load_strategies_config
from zvt_pipelines.strategies.research_config import OverfittingThresholds
from zvt_pipelines.tracking.optimizations import read_optimization
from zvt_pipelines.trading.overfitting_gate import (
    OptimizationRecord,
    OverfittingGate,
    OverfittingRefused,
)

BARS = 3000


def write_candles(path, returns: np.ndarray) -> str:
    """Hourly candles whose closes follow exp(cumsum(returns)); each bar opens at the last close."""
    close = 100 * np.exp(np.cumsum(returns))
    open_ = np.r_[100.0, close[:-1]]
    stamps = pd.date_range("2024-01-01", periods=len(close), freq="1h", tz="UTC")
    pd.DataFrame(
        {
            "timestamp": stamps.as_unit("ms").asi8,
            "open": open_,
            "high": np.maximum(open_, close) * 1.001,
            "low": np.minimum(open_, close) * 0.999,
            "close": close,
            "volume": 1.0,
        }
    ).to_csv(path, index=False)
    return str(path)


def noise(seed: int) -> np.ndarray:
    """A driftless random walk: no SMA window has an edge; the best of many is luck."""
    return np.random.default_rng(seed).normal(0.0, 0.01, BARS)


def trends(seed: int) -> np.ndarray:
    """Trends of 150 bars (drift ±0.3 % a bar, direction random) under 1 % noise: a
    moving-average crossover that follows them has a real edge."""
    rng = np.random.default_rng(seed)
    drift = np.repeat(rng.choice([-1.0, 1.0], BARS // 150) * 0.003, 150)
    return drift + rng.normal(0.0, 0.01, BARS)


def run(args: list[str], env: dict[str, str]):
    return CliRunner().invoke(app, args, env=env)


def error_line(result) -> str:
    """The command's one error line (MLflow may log other lines to stderr)."""
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    return line


@pytest.fixture(scope="module")
def optimisations(tmp_path_factory):
    """Two tracked `zvt optimize` grids of 207 SMA window pairs (fast 2..30 step 2,
    slow 10..150 step 10, fast < slow) in one MLflow store: on noise and on trends."""
    home = tmp_path_factory.mktemp("zvt-home")
    env = {"ZVT_HOME": str(home), "MLFLOW_TRACKING_URI": f"sqlite:///{home}/mlflow.db"}
    found = {}
    for name, returns in (("noise", noise(0)), ("edge", trends(1))):
        data = write_candles(home / f"file_{name}.csv", returns)
        args = ["optimize", "--data", data, "--fast", "2:30:2", "--slow", "10:150:10"]
        result = run([*args, "--json", "--no-child-runs"], env)
        assert result.exit_code == 0, result.output
        found[name] = json.loads(result.stdout)
    return env, found


def test_optimize_json_carries_the_figures_recorded_on_the_parent_run(optimisations):
    env, found = optimisations
    for summary in found.values():
        assert summary["trials"] == 15 * 15
        record = read_optimization(summary["mlflow_run_id"], env["MLFLOW_TRACKING_URI"])
        assert record.deflated_sharpe == pytest.approx(summary["deflated_sharpe"], rel=1e-12)
        assert record.pbo == pytest.approx(summary["pbo"], rel=1e-12)
        assert record.strategy == "sma_cross"
        assert record.best_params == {k: str(v) for k, v in summary["best"]["params"].items()}
    # the luckiest of 207 noise trials is far from significant; the trend follower is not
    assert found["noise"]["deflated_sharpe"] < 0.5
    assert found["edge"]["deflated_sharpe"] > 0.99 and found["edge"]["pbo"] < 0.5


def strategies_file(path, summary: dict, thresholds: dict | None = None) -> str:
    entry = {
        "name": "btc_sma_opt",
        "type": "sma_cross",
        "symbol": "sim_a:BTC/USDT",
        "amount_per_trade": 100,
        "params": summary["best"]["params"],
        "optimization": summary["mlflow_run_id"],
    }
    document = {"strategies": [entry]}
    if thresholds is not None:
        document["research"] = {"overfitting": thresholds}
    path.write_text(yaml.safe_dump(document))
    return str(path)


def deployed(database: Database) -> list[str]:
    with database.transaction() as session:
        return list(session.scalars(sa.select(StrategyStatus.name)))


def audit(database: Database, action: str) -> list[AuditLog]:
    with database.transaction() as session:
        return list(session.scalars(sa.select(AuditLog).where(AuditLog.action == action)))


def test_sync_refuses_the_overfit_set_and_deploys_it_only_with_an_audited_override(
    optimisations, db, tmp_path
):
    base, found = optimisations
    summary = found["noise"]
    env = {
        **base,
        "ZVT_DATABASE_URL": db.url,
        "ZVT_STRATEGIES": strategies_file(tmp_path / "s.yaml", summary),
        "USER": "tester",
    }
    refused = run(["strategy", "sync"], env)
    assert refused.exit_code == 2
    message = error_line(refused)
    dsr = f"{summary['deflated_sharpe']:.4f}"
    assert f"deflated_sharpe {dsr} fails min_deflated_sharpe 0.95" in message
    assert "max_pbo 0.5" in message and f"pbo {summary['pbo']:.4f}" in message
    assert "btc_sma_opt" in message and summary["mlflow_run_id"] in message
    assert deployed(db) == [] and audit(db, "strategy_deployed") == []

    no_reason = run(["strategy", "sync", "--override-overfitting"], env)
    assert no_reason.exit_code == 2 and "--reason" in error_line(no_reason)
    assert deployed(db) == []

    reason = "paper-trade it for a month to see"
    overridden = run(["strategy", "sync", "--override-overfitting", "--reason", reason], env)
    assert overridden.exit_code == 0, overridden.output
    assert deployed(db) == ["btc_sma_opt"]
    (row,) = audit(db, "overfitting_override")
    assert row.entity_id == "btc_sma_opt" and row.actor == "cli:tester"
    assert row.new["reason"] == reason
    assert row.new["optimization"] == summary["mlflow_run_id"]
    assert row.new["deflated_sharpe"] == pytest.approx(summary["deflated_sharpe"])
    assert (row.new["min_deflated_sharpe"], row.new["max_pbo"]) == (0.95, 0.5)
    # deployed and unchanged: later commands do not ask again
    assert run(["strategy", "list"], env).exit_code == 0
    assert run(["strategy", "sync"], env).exit_code == 0


def test_sync_deploys_a_genuine_edge_and_honours_thresholds_from_the_file(optimisations, tmp_path):
    base, found = optimisations
    summary = found["edge"]
    database = Database(f"sqlite:///{tmp_path}/zvt.db")
    env = {**base, "ZVT_DATABASE_URL": database.url}
    env["ZVT_STRATEGIES"] = strategies_file(tmp_path / "strict.yaml", summary, {"max_pbo": 0.01})
    strict = run(["strategy", "sync"], env)
    assert strict.exit_code == 2
    message = error_line(strict)
    assert f"pbo {summary['pbo']:.4f} fails max_pbo 0.01" in message
    dsr = f"{summary['deflated_sharpe']:.4f}"
    assert f"deflated_sharpe {dsr} >= min_deflated_sharpe 0.95" in message

    env["ZVT_STRATEGIES"] = strategies_file(tmp_path / "s.yaml", summary)
    passed = run(["strategy", "sync"], env)
    assert passed.exit_code == 0, passed.output
    assert deployed(database) == ["btc_sma_opt"]
    assert audit(database, "overfitting_override") == []


def test_deployment_sensor_refuses_the_overfit_set_and_deploys_the_edge(optimisations, tmp_path):
    """The file-watching deploy path (Dagster sensor) applies the same gate, with no
    override: the noise optimum fails the tick and records nothing; replacing it with the
    trend follower's optimum deploys it and requests its first rebalance."""
    import dagster as dg

    from definitions import build_definitions
    from zvt_pipelines.settings import DEFAULT_MARKETS, Settings

    base, found = optimisations
    database = Database(f"sqlite:///{tmp_path}/zvt.db")
    database.upgrade()
    path = strategies_file(tmp_path / "s.yaml", found["noise"])
    defs = build_definitions(
        Settings(
            home=tmp_path,
            database_url=database.url,
            markets_path=DEFAULT_MARKETS,
            strategies_path=path,
            mlflow_tracking_uri=base["MLFLOW_TRACKING_URI"],
        )
    )

    def tick(instance):
        return defs.resolve_sensor_def("strategy_deployments")(
            dg.build_sensor_context(instance=instance, resources=defs.resources)
        )

    with dg.instance_for_test() as instance:
        with pytest.raises(OverfittingRefused, match="fails min_deflated_sharpe 0.95"):
            tick(instance)
        assert deployed(database) == []
        strategies_file(tmp_path / "s.yaml", found["edge"])
        result = tick(instance)
        assert [r.partition_key for r in result.run_requests] == ["btc_sma_opt"]
        assert deployed(database) == ["btc_sma_opt"]


def test_thresholds_default_and_bad_values_are_named(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"strategies": []}))
    assert load_strategies_config(path).research.overfitting == OverfittingThresholds(
        min_deflated_sharpe=0.95, max_pbo=0.5
    )
    path.write_text(yaml.safe_dump({"strategies": [], "research": {"overfitting": {"max_pbo": 2}}}))
    with pytest.raises(ConfigError, match=r"'research.overfitting.max_pbo' = 2"):
        load_strategies_config(path)


class Entry:
    """The fields of a strategy entry the gate reads."""

    def __init__(self, params: dict, optimization: str | None = "run1", type_: str = "sma_cross"):
        self.name, self.type, self.enabled = "s", type_, True
        self.params, self.optimization = params, optimization


RECORDS = {
    "run1": OptimizationRecord("run1", "sma_cross", 0.97, 0.6, {"fast": "10", "slow": "40"}),
    "run2": OptimizationRecord("run2", "sma_cross", None, 0.1, {"fast": "10", "slow": "40"}),
}


def gate(reason: str | None = None) -> OverfittingGate:
    return OverfittingGate(OverfittingThresholds(), RECORDS.__getitem__, reason)


def test_gate_names_each_figure_against_its_threshold():
    params = {"fast": 10, "slow": 40}
    with pytest.raises(OverfittingRefused) as refused:  # DSR passes, PBO 0.6 > 0.5 fails
        gate().check([Entry(params)])
    assert "deflated_sharpe 0.9700 >= min_deflated_sharpe 0.95" in str(refused.value)
    assert "pbo 0.6000 fails max_pbo 0.5" in str(refused.value)
    with pytest.raises(OverfittingRefused, match="deflated_sharpe missing fails"):
        gate().check([Entry(params, "run2")])  # an optimisation without figures never passes
    assert gate().check([Entry(params, None)]) == []  # hand-set params are not gated
    (override,) = gate("known regime").check([Entry(params)])
    assert override["failure"].startswith("deflated_sharpe 0.9700")


def test_gate_refuses_params_or_family_the_optimisation_did_not_pick():
    with pytest.raises(ConfigError, match=r"'params.slow' = 50 is not the optimisation's best"):
        gate("any").check([Entry({"fast": 10, "slow": 50})])
    with pytest.raises(ConfigError, match="optimised 'sma_cross', not 'momentum'"):
        gate("any").check([Entry({"fast": 10, "slow": 40}, type_="momentum")])
    with pytest.raises(ConfigError, match="needs a reason"):
        gate("  ")


def test_dagster_optimize_job_records_the_figures_of_its_fanned_out_trials(tmp_path, shared_data):
    """The Dagster optimisation job (trials fanned out in chunks) records the same figures
    as computing them from scratch: each trial's equity from the contract backtest
    (`run_sma_cross`), the DSR formula written out and the brute-force CSCV with S = 16."""
    import math

    import dagster as dg
    from mlflow.tracking import MlflowClient
    from scipy import stats

    from definitions import build_definitions
    from tests.test_overfitting import brute_force_cscv
    from zvt_pipelines.backtest.contract import run_sma_cross
    from zvt_pipelines.data.candles import read_candle_file
    from zvt_pipelines.settings import DEFAULT_MARKETS, Settings

    settings = Settings(
        home=tmp_path,
        database_url=f"sqlite:///{tmp_path}/zvt.db",
        markets_path=DEFAULT_MARKETS,
        mlflow_tracking_uri=f"sqlite:///{tmp_path}/mlflow.db",
    )
    data = str(shared_data / "binance_ETH-USDT_1h.csv.gz")
    grid = {"fast": [5, 10, 20], "slow": [30, 60]}
    config = {
        "strategy_yaml": "name: eth_sma\ntype: sma_cross\nsymbol: binance:ETH/USDT\n"
        "amount_per_trade: 100\nparams: {fast: 10, slow: 30}\n",
        "data_file": data,
        "start": "2024-01-01",
        "end": "2024-03-01",
        "grid": grid,
        "metric": "sharpe",
        "chunk_size": 2,
    }
    ops = {name: {"config": config} for name in ("plan_sweep", "evaluate_trials", "collect_sweep")}
    with dg.instance_for_test() as instance:
        run = (
            build_definitions(settings)
            .resolve_job_def("optimize")
            .execute_in_process(run_config={"ops": ops}, instance=instance)
        )
    assert run.success
    summary = run.output_for_node("collect_sweep")

    frame = read_candle_file(data)
    frame = frame.loc[(frame["ts"] >= "2024-01-01") & (frame["ts"] < "2024-03-01")]
    frame = frame.reset_index(drop=True)
    pairs = [(f, s) for f in grid["fast"] for s in grid["slow"]]  # the job's trial order
    results = [run_sma_cross(frame, f, s, 10.0, 10_000.0) for f, s in pairs]
    matrix = np.column_stack([r.equity.pct_change().iloc[1:].to_numpy() for r in results])
    best = int(np.argmax([r.metrics["sharpe"] for r in results]))
    assert (summary["best"]["fast"], summary["best"]["slow"]) == pairs[best]
    sharpes = matrix.mean(axis=0) / matrix.std(axis=0, ddof=1)
    n, gamma = len(pairs), 0.5772156649015329
    benchmark = math.sqrt(sharpes.var(ddof=1)) * (
        (1 - gamma) * stats.norm.ppf(1 - 1 / n) + gamma * stats.norm.ppf(1 - 1 / (n * math.e))
    )
    chosen = matrix[:, best]
    sr, skew = sharpes[best], stats.skew(chosen)
    kurt = stats.kurtosis(chosen, fisher=False)
    z = (sr - benchmark) * math.sqrt(chosen.size - 1)
    z /= math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
    assert summary["deflated_sharpe"] == pytest.approx(stats.norm.cdf(z), rel=1e-9)
    assert summary["pbo"] == pytest.approx(np.mean(np.array(brute_force_cscv(matrix, 16)) <= 0))
    parent = MlflowClient(settings.mlflow_uri).get_run(summary["parent_run_id"])
    assert parent.data.metrics["deflated_sharpe"] == pytest.approx(summary["deflated_sharpe"])
    assert parent.data.metrics["pbo"] == pytest.approx(summary["pbo"])
