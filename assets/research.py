"""Research in Dagster: a backtest job and an optimisation job that fans trials out.

Both take their settings from the launchpad: a strategy entry as YAML (the shape of
config/strategies.yaml), a date range and engine settings. Every backtest and every
optimisation trial is an MLflow run; results land in `strategy_performance`.
"""

import itertools
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import yaml

from resources.database import TradingDatabase
from resources.mlflow import MlflowTracking
from zvt_pipelines.data.charts import png_markdown
from zvt_pipelines.errors import ConfigError, DataError
from zvt_pipelines.storage.market_data import load_candles
from zvt_pipelines.strategies.config import StrategyConfig

GROUP = "research"
DEFAULT_STRATEGY = """\
name: demo_sma_cross
type: sma_cross
symbol: sim_a:BTC/USDT
amount_per_trade: 1000
frequency: 1h
params: {fast: 5, slow: 20}
"""


class BacktestConfig(dg.Config):
    """Launchpad settings of one backtest."""

    strategy_yaml: str = DEFAULT_STRATEGY
    start: str | None = None
    end: str | None = None
    data_file: str | None = None
    fee_bps: float = 10.0
    slippage_bps: float = 0.0
    fill_price: str = "open"
    cash: float = 10_000.0


class SweepConfig(BacktestConfig):
    """A grid sweep: every combination of the listed values, one trial each."""

    grid: dict[str, list[Any]] = {"fast": [3, 5, 8], "slow": [13, 21, 34]}
    metric: str = "sharpe"
    direction: str = "maximize"  # or "minimize", for a metric where lower is better
    chunk_size: int = 4


def strategy_entry(
    config: BacktestConfig, overrides: dict[str, Any] | None = None
) -> StrategyConfig:
    """The validated strategy entry of the launchpad YAML, with parameter overrides."""
    from zvt_pipelines.strategies import parse_strategies_config

    try:
        raw = yaml.safe_load(config.strategy_yaml)
    except yaml.YAMLError as exc:
        raise ConfigError(f"strategy_yaml: not valid YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise ConfigError("strategy_yaml: expected one strategy entry (a mapping)")
    raw = {**raw, "params": {**raw.get("params", {}), **(overrides or {})}}
    return parse_strategies_config([raw], source="strategy_yaml").strategies[0]


def backtest_frame(
    config: BacktestConfig, entry: StrategyConfig, database: TradingDatabase
) -> tuple[pd.DataFrame, dict]:
    """Candles of the strategy's first instrument at its frequency: from a file or the database."""
    from zvt_pipelines.data.candles import read_candle_file, resample_candles

    instrument = entry.instrument_ids()[0]
    start = pd.Timestamp(config.start, tz="UTC") if config.start else None
    end = pd.Timestamp(config.end, tz="UTC") if config.end else None
    if config.data_file:
        frame = resample_candles(read_candle_file(config.data_file), entry.frequency)
        if start is not None:
            frame = frame.loc[frame["ts"] >= start]
        if end is not None:
            frame = frame.loc[frame["ts"] < end]
        frame = frame.reset_index(drop=True)
    else:
        frame = load_candles(
            database.get(), instrument.venue, instrument.symbol, entry.frequency, start, end
        )
    if frame.empty:
        raise DataError(
            f"no {entry.frequency} candles of {instrument} in the chosen range; materialise "
            "the market data first or give data_file"
        )
    return frame, {
        "venue": instrument.venue,
        "symbol": instrument.symbol,
        "timeframe": entry.frequency,
    }


def run_entry(entry: StrategyConfig, frame: pd.DataFrame, config: BacktestConfig) -> Any:
    """Backtest a bar-level strategy entry on `frame` with the launchpad's engine settings."""
    from zvt_pipelines.backtest.settings import BacktestSettings
    from zvt_pipelines.research.backtests import backtest_bar_strategy
    from zvt_pipelines.strategies import build_strategy

    settings = BacktestSettings(
        cash=config.cash,
        fee_bps=config.fee_bps,
        slippage_bps=config.slippage_bps,
        fill_price=config.fill_price,
    )
    return backtest_bar_strategy(build_strategy(entry), frame, settings), settings


@dg.asset(group_name=GROUP, kinds={"python", "mlflow"})
def strategy_backtest(
    context: dg.AssetExecutionContext,
    config: BacktestConfig,
    database: TradingDatabase,
    mlflow: MlflowTracking,
) -> dg.MaterializeResult:
    """A backtest of one strategy entry, recorded as an MLflow run and in `strategy_performance`."""
    from zvt_pipelines.backtest.report import write_report
    from zvt_pipelines.research.backtests import record_backtest
    from zvt_pipelines.tracking import data_fingerprint

    entry = strategy_entry(config)
    frame, market = backtest_frame(config, entry, database)
    result, settings = run_entry(entry, frame, config)
    run_id = mlflow.tracker().track_backtest(
        result,
        strategy_name=entry.type,
        params={"name": entry.name, **entry.params},
        engine_settings=asdict(settings),
        data_fingerprint=data_fingerprint(
            frame, market["venue"], market["symbol"], market["timeframe"]
        ),
        config_yaml=config.strategy_yaml,
    )
    record_backtest(database.get(), entry.name, frame, result, run_id, market)
    with tempfile.TemporaryDirectory() as folder:
        report = write_report(result, folder, title=entry.name, params=entry.params)
        equity_png = Path(report.charts["equity"]).read_bytes()
    context.log.info(
        f"backtest of {entry.name}: final equity {result.final_equity:.2f}, MLflow run {run_id}"
    )
    return dg.MaterializeResult(
        metadata={
            "mlflow_run_id": run_id,
            "final_equity": result.final_equity,
            "trades": result.n_trades,
            "fees": result.fees_paid,
            **{
                k: float(v)
                for k, v in result.metrics.items()
                if k in ("sharpe", "sortino", "max_drawdown", "calmar")
            },
            "bars": len(frame),
            "equity_curve": dg.MetadataValue.md(png_markdown(equity_png, "equity")),
        }
    )


backtest_job = dg.define_asset_job(
    "backtest",
    selection=[strategy_backtest],
    description="Backtest one strategy entry (launchpad config).",
)


@dg.op(out=dg.DynamicOut(list))
def plan_sweep(context: dg.OpExecutionContext, config: SweepConfig, mlflow: MlflowTracking):
    """Open the MLflow parent run and fan the grid out in chunks."""
    entry = strategy_entry(config)
    names = sorted(config.grid)
    points = [
        dict(zip(names, values, strict=True))
        for values in itertools.product(*(config.grid[n] for n in names))
    ]
    sweep = mlflow.tracker().start_sweep(
        strategy_name=entry.type,
        method="grid",
        space=config.grid,
        engine_settings=config.model_dump(),
        data_fingerprint={"strategy": entry.name},
        objective=config.metric,
    )
    context.log.info(f"MLflow parent run {sweep.run_id}: {len(points)} trials")
    numbered = [
        {"number": i, "params": p, "parent": sweep.run_id, "experiment": sweep.experiment_id}
        for i, p in enumerate(points)
    ]
    for index in range(0, len(numbered), config.chunk_size):
        yield dg.DynamicOutput(
            numbered[index : index + config.chunk_size], mapping_key=f"chunk_{index}"
        )


@dg.op
def evaluate_trials(
    context: dg.OpExecutionContext,
    config: SweepConfig,
    trials: list,
    database: TradingDatabase,
    mlflow: MlflowTracking,
) -> list:
    """Backtest each trial of a chunk and record it as an MLflow child run; its returns are
    reduced to the few numbers the overfitting figures need."""
    from zvt_pipelines.backtest.optimize import Trial, TrialStatus
    from zvt_pipelines.backtest.overfitting import TrialSummary, equity_returns

    scored = []
    if trials:
        frame, _ = backtest_frame(config, strategy_entry(config), database)
    for trial in trials:
        try:
            result, _ = run_entry(strategy_entry(config, trial["params"]), frame, config)
            score, status = float(result.metrics[config.metric]), TrialStatus.COMPLETE
            returns = TrialSummary.of(equity_returns(result.equity.to_numpy())).to_dict()
        except ConfigError as exc:  # e.g. fast >= slow: infeasible, recorded but not scored
            context.log.info(f"trial {trial['number']} {trial['params']} infeasible: {exc}")
            score, status, returns = None, TrialStatus.INFEASIBLE, None
        sweep = mlflow.tracker().sweep(trial["experiment"], trial["parent"])
        sweep.log_trial(Trial(trial["number"], trial["params"], score, status))
        scored.append({**trial, "score": score, "status": status.value, "returns": returns})
    return scored


@dg.op
def collect_sweep(
    context: dg.OpExecutionContext, config: SweepConfig, scored: list[list], mlflow: MlflowTracking
) -> dict:
    """Close the parent run with the best trial, every trial's score and the best trial's
    deflated Sharpe ratio and the trials' PBO."""
    from zvt_pipelines.backtest.optimize import (
        Direction,
        Method,
        OptimizationResult,
        Trial,
        TrialStatus,
    )
    from zvt_pipelines.backtest.overfitting import TrialSummary, report_from_summaries
    from zvt_pipelines.research.backtests import best_trial

    flat = sorted((t for chunk in scored for t in chunk), key=lambda t: t["number"])
    trials = tuple(
        Trial(t["number"], t["params"], t["score"], TrialStatus(t["status"])) for t in flat
    )
    best = best_trial(trials, config.direction)
    complete = [t for t in flat if t["status"] == TrialStatus.COMPLETE.value]
    overfitting = None
    if best is not None:
        summaries = [TrialSummary.from_dict(t["returns"]) for t in complete]
        chosen = [t["number"] for t in complete].index(best.number)
        overfitting = report_from_summaries(summaries, chosen)
    result = OptimizationResult(Method.GRID, Direction(config.direction), trials, best, overfitting)
    mlflow.tracker().sweep(flat[0]["experiment"], flat[0]["parent"]).finish(result)
    summary = {
        "parent_run_id": flat[0]["parent"],
        "trials": len(trials),
        "best": None if best is None else best.params,
    }
    summary.update(deflated_sharpe=result.deflated_sharpe, pbo=result.pbo)
    context.add_output_metadata({**summary, "best_score": None if best is None else best.score})
    return summary


@dg.job(
    description="Grid-optimise one strategy entry; each trial is an MLflow child run, fanned out across the executor."
)
def optimize():
    collect_sweep(plan_sweep().map(evaluate_trials).collect())


RESEARCH_ASSETS = [strategy_backtest]
RESEARCH_JOBS = [backtest_job, optimize]
