"""`zvt backtest` and `zvt optimize` end to end, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import vectorbt as vbt
from mlflow.tracking import MlflowClient

from zvt_pipelines.data.candles import read_candle_file

ZVT = [sys.executable, "-m", "zvt_pipelines.cli"]


def zvt(args: list[str], home) -> subprocess.CompletedProcess:
    env = {**os.environ, "ZVT_HOME": str(home)}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run(ZVT + args, capture_output=True, text=True, env=env, timeout=300)


def vectorbt_sma_cross(
    frame, fast: int, slow: int, fee_bps: float, cash: float
) -> tuple[float, int]:
    """vectorbt from_signals with the contract: cross judged on bar t close, filled at t+1 open."""
    close, open_ = frame["close"], frame["open"]
    fast_ma = close.rolling(fast).mean()
    slow_ma = close.rolling(slow).mean()
    above = (fast_ma > slow_ma) & (fast_ma.shift() <= slow_ma.shift())
    below = (fast_ma < slow_ma) & (fast_ma.shift() >= slow_ma.shift())
    portfolio = vbt.Portfolio.from_signals(
        close=close,
        entries=above.shift(1, fill_value=False),
        exits=below.shift(1, fill_value=False),
        price=open_,
        fees=fee_bps / 10_000,
        init_cash=cash,
        size=float("inf"),
        freq="1h",
    )
    final = float(portfolio.value().iloc[-1])
    return final, int(portfolio.orders.records_readable["Side"].eq("Buy").sum())


def test_backtest_contract_json_agrees_with_vectorbt(tmp_path, shared_data):
    data = shared_data / "binance_BTC-USDT_1h.csv.gz"
    out = zvt(
        [
            "backtest",
            "--strategy",
            "sma_cross",
            "--data",
            str(data),
            "--param",
            "fast=20",
            "--param",
            "slow=100",
            "--fee-bps",
            "10",
            "--cash",
            "10000",
            "--json",
            "--no-track",
        ],
        tmp_path,
    )
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["mlflow_run_id"] is None
    assert set(summary["metrics"]) >= {
        "sharpe",
        "sortino",
        "max_drawdown",
        "calmar",
        "var_95",
        "cvar_95",
    }
    final, entries = vectorbt_sma_cross(
        read_candle_file(data).set_index("ts"), 20, 100, 10.0, 10_000.0
    )
    assert summary["final_equity"] == pytest.approx(final, rel=1e-6)
    assert summary["trades"] == entries


def test_tracked_backtest_is_an_mlflow_run_with_its_params(tmp_path, shared_data):
    data = shared_data / "binance_ETH-USDT_1h.csv.gz"
    out = zvt(
        [
            "backtest",
            "--data",
            str(data),
            "--param",
            "fast=10",
            "--param",
            "slow=40",
            "--start",
            "2024-01-01",
            "--end",
            "2024-07-01",
            "--json",
        ],
        tmp_path,
    )
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    run = client.get_run(summary["mlflow_run_id"])
    assert run.data.params["strategy.fast"] == "10" and run.data.params["strategy.slow"] == "40"
    assert run.data.params["engine.fee_bps"] == "10.0"
    assert (run.data.params["data.venue"], run.data.params["data.symbols"]) == (
        "binance",
        "ETH/USDT",
    )
    assert run.data.params["data.start"].startswith("2024-01-01")
    assert run.data.metrics["sharpe"] == pytest.approx(summary["metrics"]["sharpe"])
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"trades.csv", "equity.csv", "config.yaml", "report"} <= artifacts


def test_bad_inputs_are_one_line_errors(tmp_path, shared_data):
    data = str(shared_data / "binance_ETH-USDT_1h.csv.gz")
    cases = {
        ("backtest", "--data", "missing.csv"): "--data 'missing.csv'",
        (
            "backtest",
            "--data",
            data,
            "--strategy",
            "nope",
            "--no-track",
        ): "unknown strategy type 'nope'",
        ("backtest", "--data", data, "--param", "fast", "--no-track"): "--param 'fast'",
        (
            "backtest",
            "--data",
            data,
            "--param",
            "fast=50",
            "--param",
            "slow=10",
            "--no-track",
        ): "fast",
        ("optimize", "--data", data, "--method", "annealing", "--no-track"): "--method 'annealing'",
        ("optimize", "--data", data, "--fast", "5-50", "--no-track"): "--fast '5-50'",
    }
    for args, expected in cases.items():
        out = zvt(list(args), tmp_path)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], (
            args,
            out.stderr,
        )


def test_optimize_grid_best_point_is_the_best_single_backtest(tmp_path, shared_data):
    """A 3×3 grid: the reported best equals the maximum of nine separate CLI backtests."""
    data = str(shared_data / "binance_BTC-USDT_1h.csv.gz")
    out = zvt(
        [
            "optimize",
            "--data",
            data,
            "--fast",
            "10:30:10",
            "--slow",
            "50:150:50",
            "--json",
            "--no-track",
        ],
        tmp_path,
    )
    assert out.returncode == 0, out.stderr
    best = json.loads(out.stdout)["best"]
    frame = read_candle_file(data).set_index("ts")
    finals = {
        (f, s): vectorbt_sma_cross(frame, f, s, 10.0, 10_000.0)[0]
        for f in (10, 20, 30)
        for s in (50, 100, 150)
    }
    winner = max(finals, key=finals.get)
    assert (best["params"]["fast"], best["params"]["slow"]) == winner
    assert best["score"] == pytest.approx(finals[winner], rel=1e-6)


def test_event_engine_agrees_with_the_bar_engine_on_the_contract(tmp_path, shared_data):
    """sma_cross through the live order path (amounts rounded to 1e-8 BTC) against the fast
    engine's contract on the same two months: same entries, equity within 1e-6."""
    from typer.testing import CliRunner

    from zvt_pipelines.backtest.contract import run_sma_cross
    from zvt_pipelines.cli import app

    data = shared_data / "binance_BTC-USDT_1h.csv.gz"
    args = [
        "backtest",
        "--engine",
        "event",
        "--strategy",
        "sma_cross",
        "--param",
        "fast=10",
        "--param",
        "slow=30",
        "--market",
        f"binance:BTC/USDT={data}",
        "--start",
        "2024-01-01",
        "--end",
        "2024-03-01",
        "--fee-bps",
        "10",
        "--json",
        "--no-track",
    ]
    result = CliRunner().invoke(app, args, env={"ZVT_HOME": str(tmp_path)})
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    frame = read_candle_file(data)
    window = frame.loc[(frame["ts"] >= "2024-01-01") & (frame["ts"] < "2024-03-01")].reset_index(
        drop=True
    )
    reference = run_sma_cross(window, 10, 30, 10.0, 10_000.0)
    assert summary["trades"] == reference.n_trades
    assert summary["final_equity"] == pytest.approx(reference.final_equity, rel=1e-6)
    bad = CliRunner().invoke(
        app,
        ["backtest", "--engine", "event", "--market", "binance:BTC/USDT"],
        env={"ZVT_HOME": str(tmp_path)},
    )
    assert bad.exit_code == 2 and "--market 'binance:BTC/USDT'" in bad.output


def test_backtest_without_params_uses_the_family_defaults_on_both_paths(tmp_path, shared_data):
    """`zvt backtest` with no `--param` runs SmaCrossParams' defaults (fast 10, slow 30)
    whether it takes the contract path or, with `--slippage-bps`/`--fill-price`, the
    family path: each default run equals the same command with the windows spelled out,
    and differs from the 20/100 that the contract path used to assume."""
    from typer.testing import CliRunner

    from zvt_pipelines.cli import app

    data = shared_data / "binance_ETH-USDT_1h.csv.gz"
    common = ["backtest", "--data", str(data), "--start", "2024-01-01", "--end", "2024-04-01"]
    common += ["--json", "--no-track"]

    def run(*extra: str) -> dict:
        result = CliRunner().invoke(app, [*common, *extra], env={"ZVT_HOME": str(tmp_path)})
        assert result.exit_code == 0, result.output
        summary = json.loads(result.output)
        return {"trades": summary["trades"], "final_equity": summary["final_equity"]}

    explicit = ("--param", "fast=10", "--param", "slow=30")
    for path in ((), ("--slippage-bps", "5"), ("--fill-price", "close")):
        default_run, spelled_out = run(*path), run(*path, *explicit)
        assert default_run == spelled_out, path
        assert default_run != run(*path, "--param", "fast=20", "--param", "slow=100"), path
