"""The backtest and optimisation jobs through Dagster, checked against MLflow and the database."""

from __future__ import annotations

import dagster as dg
import pytest
from mlflow.tracking import MlflowClient

from definitions import build_definitions
from zvt_pipelines.backtest.contract import run_sma_cross
from zvt_pipelines.data.candles import read_candle_file
from zvt_pipelines.settings import Settings
from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.performance import load_performance

STRATEGY = """\
name: eth_sma
type: sma_cross
symbol: binance:ETH/USDT
amount_per_trade: 100
frequency: 1h
params: {fast: 10, slow: 30}
"""


@pytest.fixture
def setup(tmp_path, shared_data, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    settings = Settings(
        home=tmp_path,
        database_url=f"sqlite:///{tmp_path}/zvt.db",
        markets_path=Settings.from_env().markets_path,
    )
    defs = build_definitions(settings)
    data = str(shared_data / "binance_ETH-USDT_1h.csv.gz")
    client = MlflowClient(tracking_uri=settings.mlflow_uri)
    return defs, data, client, Database(settings.database_url)


def test_backtest_job_records_mlflow_run_and_performance_row(setup):
    defs, data, client, db = setup
    config = {
        "strategy_yaml": STRATEGY,
        "data_file": data,
        "start": "2024-01-01",
        "end": "2024-04-01",
        "fee_bps": 10.0,
    }
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("backtest").execute_in_process(
            run_config={"ops": {"strategy_backtest": {"config": config}}}, instance=instance
        )
        assert result.success
        metadata = instance.get_latest_materialization_event(
            dg.AssetKey("strategy_backtest")
        ).asset_materialization.metadata
    frame = read_candle_file(data)
    frame = frame.loc[(frame["ts"] >= "2024-01-01") & (frame["ts"] < "2024-04-01")].reset_index(
        drop=True
    )
    expected = run_sma_cross(
        frame, 10, 30, 10.0, 10_000.0
    )  # the contract engine, parity-tested elsewhere
    assert metadata["final_equity"].value == pytest.approx(expected.final_equity, rel=1e-12)
    run = client.get_run(metadata["mlflow_run_id"].value)
    assert (
        run.data.params["strategy.fast"] == "10" and run.data.params["data.symbols"] == "ETH/USDT"
    )
    rows = load_performance(db, scope="backtest", name="eth_sma")
    assert len(rows) == 1 and rows[0].run_id == run.info.run_id
    assert float(rows[0].total_value) == pytest.approx(expected.final_equity, rel=1e-12)


@pytest.mark.parametrize(("direction", "pick"), [("maximize", max), ("minimize", min)])
def test_optimize_job_fans_out_children_under_one_parent(setup, direction, pick):
    defs, data, client, _ = setup
    config = {
        "strategy_yaml": STRATEGY,
        "data_file": data,
        "start": "2024-01-01",
        "end": "2024-03-01",
        "grid": {"fast": [5, 10, 40], "slow": [20, 30]},
        "metric": "total_return",
        "direction": direction,
        "chunk_size": 2,
    }
    ops = {name: {"config": config} for name in ("plan_sweep", "evaluate_trials", "collect_sweep")}
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("optimize").execute_in_process(
            run_config={"ops": ops}, instance=instance
        )
    assert result.success
    summary = result.output_for_node("collect_sweep")
    parent = client.get_run(summary["parent_run_id"])
    children = client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    # 6 grid points; (40, 20) and (40, 30) violate fast < slow and are not scored
    assert len(children) == 4 and summary["trials"] == 6
    frame = read_candle_file(data)
    frame = frame.loc[(frame["ts"] >= "2024-01-01") & (frame["ts"] < "2024-03-01")].reset_index(
        drop=True
    )
    returns = {
        (f, s): run_sma_cross(frame, f, s, 10.0, 10_000.0).metrics["total_return"]
        for f in (5, 10)
        for s in (20, 30)
    }
    best = pick(returns, key=returns.get)  # the highest return, or the lowest when minimising
    assert (summary["best"]["fast"], summary["best"]["slow"]) == best
    assert parent.data.metrics["best_score"] == pytest.approx(returns[best], rel=1e-12)
