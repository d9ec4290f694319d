"""Sensors and schedules of the trading loop: deployments, the scheduled rebalance, drift,
and the emergency-stop job."""

import os

import dagster as dg

from assets.trading import rebalance_job, strategies_partitions
from resources.database import TradingDatabase
from resources.markets import MarketsResource
from resources.mlflow import MlflowTracking
from resources.strategies import StrategiesResource
from sensors.guard import alert_on_failure
from zvt_pipelines.settings import Settings
from zvt_pipelines.strategies.config import strategy_fingerprint
from zvt_pipelines.trading.lifecycle import Status, statuses, sync_strategies

_SETTINGS = Settings.from_env()
DRIFT_THRESHOLD = _SETTINGS.drift_threshold
REBALANCE_CRON = _SETTINGS.rebalance_cron
# The run queue allows one in-progress run per value of this tag (dagster.yaml,
# tag_concurrency_limits), so rebalances of one strategy queue instead of colliding.
STRATEGY_TAG = "zvt/strategy"


def rebalance_request(name: str, run_key: str) -> dg.RunRequest:
    """A rebalance run of strategy `name`, tagged so the run queue serialises it per strategy."""
    return dg.RunRequest(partition_key=name, run_key=run_key, tags={STRATEGY_TAG: name})


@dg.sensor(
    job=rebalance_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING
)
@alert_on_failure("strategy_deployments")
def strategy_deployments(
    context: dg.SensorEvaluationContext,
    database: TradingDatabase,
    strategies: StrategiesResource,
    markets: MarketsResource,
    mlflow: MlflowTracking,
) -> dg.SensorResult:
    """Watch the strategies file: a new strategy becomes a partition and runs; a retuned one
    runs with its new parameters; every change is audited. No restart needed. A strategy on
    a venue or instrument the markets file lacks is refused (nothing recorded), and so are
    optimised params that fail the file's overfitting thresholds (no override here)."""
    from zvt_pipelines.strategies import load_strategies_config
    from zvt_pipelines.trading.overfitting_gate import OverfittingGate

    def optimisation(run_id: str):
        from zvt_pipelines.tracking.optimizations import read_optimization

        return read_optimization(run_id, mlflow.tracking_uri)

    entries = strategies.entries()
    thresholds = load_strategies_config(strategies.config_path).research.overfitting
    report = sync_strategies(
        database.get(),
        entries,
        actor=f"file:{os.path.basename(strategies.config_path)}",
        markets=markets.config(),
        source=strategies.config_path,
        overfitting=OverfittingGate(thresholds, optimisation),
    )
    known = set(context.instance.get_dynamic_partitions(strategies_partitions.name))
    new = [entry.name for entry in entries if entry.name not in known]
    by_name = {entry.name: entry for entry in entries}
    active = statuses(database.get())
    runs = [
        rebalance_request(name, f"deploy-{name}-{strategy_fingerprint(by_name[name])[:16]}")
        for name in (*report.deployed, *report.retuned)
        if by_name[name].enabled and active.get(name) is Status.ACTIVE
    ]
    if report.changed:
        context.log.info(
            f"deployed {report.deployed}, retuned {list(report.retuned)}, removed {report.removed}"
        )
    return dg.SensorResult(
        run_requests=runs,
        dynamic_partitions_requests=[strategies_partitions.build_add_request(new)] if new else [],
    )


@dg.schedule(job=rebalance_job, cron_schedule=REBALANCE_CRON, execution_timezone="UTC")
def rebalance_schedule(
    context: dg.ScheduleEvaluationContext, database: TradingDatabase
) -> list[dg.RunRequest]:
    """Rebalance every active strategy (ZVT_REBALANCE_CRON, default hourly)."""
    active = statuses(database.get())
    when = context.scheduled_execution_time.isoformat()
    return [
        rebalance_request(name, f"scheduled-{name}-{when}")
        for name in context.instance.get_dynamic_partitions(strategies_partitions.name)
        if active.get(name) is Status.ACTIVE
    ]


@dg.sensor(
    job=rebalance_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING
)
@alert_on_failure("drift_rebalance")
def drift_rebalance(
    context: dg.SensorEvaluationContext, database: TradingDatabase
) -> dg.SensorResult:
    """Rebalance a strategy whose positions drifted from its targets by more than
    ZVT_DRIFT_THRESHOLD of its equity (default 5 %); once per set of targets."""
    from zvt_pipelines.trading.drift import strategy_drift

    db = database.get()
    active = statuses(db)
    runs = []
    for name, drift in strategy_drift(db).items():
        if drift.value > DRIFT_THRESHOLD and active.get(name) is Status.ACTIVE:
            context.log.info(
                f"{name}: drift {float(drift.value):.2%} above {float(DRIFT_THRESHOLD):.2%}"
            )
            runs.append(rebalance_request(name, f"drift-{name}-{drift.targets_as_of.isoformat()}"))
    return dg.SensorResult(run_requests=runs)


class EmergencyStopConfig(dg.Config):
    strategy: str
    flatten: bool = False
    actor: str = "dagster"


@dg.op
def stop_strategy(
    context: dg.OpExecutionContext,
    config: EmergencyStopConfig,
    database: TradingDatabase,
    markets: MarketsResource,
    strategies: StrategiesResource,
) -> dict:
    """Halt the strategy, cancel its open orders on every venue and flatten if asked (all audited)."""
    from zvt_pipelines.trading.services import stop_now

    report = stop_now(
        database.get(),
        markets.config(),
        strategies.entry(config.strategy),
        config.flatten,
        config.actor,
    )
    summary = {
        "canceled": len(report.canceled),
        "unknown": len(report.not_found),
        "flattened": len(report.flattened),
        "quarantined": len(report.quarantined),
        "failed": len(report.failed),
    }
    if not report.complete:  # the run fails, so the failure sensor alerts someone
        failures = "; ".join(
            f"{f['step']} {f.get('what', '')}: {f['reason']}" for f in report.failed
        )
        raise dg.Failure(
            description=f"emergency stop of {config.strategy} incomplete: {failures}",
            metadata=summary,
        )
    context.add_output_metadata(summary)
    return summary


@dg.job(description="Emergency stop of one strategy: cancel everything, optionally flatten.")
def emergency_stop():
    stop_strategy()


TRADING_SENSORS = [strategy_deployments, drift_rebalance]
TRADING_SCHEDULES = [rebalance_schedule]
TRADING_JOBS = [emergency_stop]
