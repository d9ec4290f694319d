"""Run the code location's jobs in-process against the local Dagster instance.

Used by `zvt demo`, which starts `python launch.py --days N` with the project root (the
checkout, or the `zvt_project/` folder of a built wheel) as the working directory and on
PYTHONPATH, so the core never imports this layer. The runs land in the same instance the UI
(`make ui`) shows, so every demo run, its materialisations and check results can be browsed there.
"""

import argparse
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg

from assets.partitions import partition_key

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
EMBEDDED_INSTANCE = Path(__file__).with_name("dagster.embedded.yaml")


def ensure_instance_config(dagster_home: Path) -> None:
    """Give a new DAGSTER_HOME the embedded instance settings (SQLite storage, one
    in-progress rebalance per strategy); an existing dagster.yaml is the user's and kept."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    instance_yaml = dagster_home / "dagster.yaml"
    if not instance_yaml.exists():
        shutil.copyfile(EMBEDDED_INSTANCE, instance_yaml)


@dataclass(frozen=True)
class PartitionRun:
    """The outcome of one partitioned run: failed checks split by severity."""

    partition: str
    run_id: str
    success: bool
    failed_checks: tuple[str, ...]
    warned_checks: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.success and not self.failed_checks


def check_outcomes(result: dg.ExecuteInProcessResult) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Names of the checks that failed with severity ERROR, and of those that only warned."""
    failed, warned = [], []
    for event in result.all_events:
        if event.event_type_value != "ASSET_CHECK_EVALUATION":
            continue
        evaluation = event.event_specific_data
        if evaluation.passed:
            continue
        name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
        (failed if evaluation.severity == dg.AssetCheckSeverity.ERROR else warned).append(name)
    return tuple(failed), tuple(warned)


def run_market_data(
    defs: dg.Definitions,
    days: Sequence[str],
    instruments: Sequence[str],
    instance: dg.DagsterInstance,
    on_progress: Callable[[PartitionRun], None] = lambda _: None,
) -> list[PartitionRun]:
    """Materialise the market data job for every day × instrument, one run each."""
    job = defs.resolve_job_def("market_data")
    results = []
    for day in days:
        for instrument in instruments:
            result = job.execute_in_process(
                partition_key=partition_key(day, instrument),
                instance=instance,
                run_config=QUIET,
                raise_on_error=False,
            )
            failed, warned = check_outcomes(result)
            outcome = PartitionRun(
                f"{day} {instrument}", result.run_id, result.success, failed, warned
            )
            on_progress(outcome)
            results.append(outcome)
    return results


def deploy_strategies(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    on_progress: Callable[[str, dg.ExecuteInProcessResult], None],
) -> list[dg.ExecuteInProcessResult]:
    """Tick the deployment sensor once and run the rebalances it asks for, as the daemon would."""
    sensor = defs.resolve_sensor_def("strategy_deployments")
    result = sensor(dg.build_sensor_context(instance=instance, resources=defs.resources))
    for request in result.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    job = defs.resolve_job_def("rebalance")
    runs = []
    for request in result.run_requests:
        run = job.execute_in_process(
            partition_key=request.partition_key,
            instance=instance,
            run_config=QUIET,
            tags={"dagster/sensor_name": "strategy_deployments"},
            raise_on_error=False,
        )
        on_progress(request.partition_key, run)
        runs.append(run)
    return runs


def run_job(
    defs: dg.Definitions, instance: dg.DagsterInstance, name: str, run_config: dict | None = None
):
    """Run one unpartitioned job in-process against the instance."""
    config = {**QUIET, **(run_config or {})}
    return defs.resolve_job_def(name).execute_in_process(
        instance=instance, run_config=config, raise_on_error=False
    )


def run_demo(days: int, echo: Callable[[str], None]) -> list[str]:
    """The demo: market data for the last `days` complete UTC days, strategy deployment and
    rebalances, analytics and a tracked backtest; returns the names of the failed steps."""
    from definitions import defs
    from zvt_pipelines.markets import load_markets_config
    from zvt_pipelines.settings import Settings

    settings = Settings.from_env()
    markets = load_markets_config(settings.markets_path)
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    first = max(markets.start_date, yesterday - timedelta(days=days - 1))
    day_keys = [
        (first + timedelta(days=i)).isoformat() for i in range((yesterday - first).days + 1)
    ]
    echo(f"\n1. market data: {markets.timeframe} candles (+ 1h, 1d views, GX checks) for")
    echo(f"   days        {', '.join(day_keys)}")
    echo(f"   instruments {', '.join(markets.instruments)}")

    def progress(run: PartitionRun) -> None:
        notes = [f"failed: {', '.join(run.failed_checks)}"] if run.failed_checks else []
        notes += [f"warning: {', '.join(run.warned_checks)}"] if run.warned_checks else []
        echo(
            f"  [{'ok' if run.ok else 'FAILED':>6}] {run.partition:<28} run {run.run_id[:8]}  {'; '.join(notes)}".rstrip()
        )

    failures: list[str] = []
    with dg.DagsterInstance.get() as instance:
        runs = run_market_data(defs, day_keys, markets.instruments, instance, progress)
        failures += [run.partition for run in runs if not run.ok]
        echo(
            f"\n2. strategies from {settings.strategies_path.name}: deploy and rebalance on the simulated venues"
        )

        def traded(name: str, run: Any) -> None:
            if not run.success:
                failures.append(name)
                echo(f"  [FAILED] {name}")
                return
            orders = run.output_for_node("executed_orders")
            sent = len(orders.orders) if orders is not None else 0
            filled = (
                orders.count("FILLED", "SETTLED", "PARTIALLY_FILLED") if orders is not None else 0
            )
            echo(
                f"  [    ok] {name:<24} orders sent {sent}, filled {filled}   run {run.run_id[:8]}"
            )

        deploy_strategies(defs, instance, traded)
        available = {job.name for job in defs.resolve_all_job_defs()}
        steps = (
            (
                "portfolio_analytics",
                "portfolio performance, risk, attribution and execution quality",
            ),
            ("backtest", "a backtest of the demo strategy, recorded in MLflow"),
        )
        for number, (job_name, title) in enumerate(
            (s for s in steps if s[0] in available), start=3
        ):
            echo(f"\n{number}. {title}")
            run = run_job(defs, instance, job_name)
            echo(f"  [{'ok' if run.success else 'FAILED':>6}] {job_name:<24} run {run.run_id[:8]}")
            if not run.success:
                failures.append(job_name)
    return failures


def main(argv: Sequence[str] | None = None) -> int:
    """`python launch.py --days N`: the demo against DAGSTER_HOME; exit status 1 if a step failed."""
    parser = argparse.ArgumentParser(description=run_demo.__doc__)
    parser.add_argument("--days", type=int, default=3)
    args = parser.parse_args(argv)
    ensure_instance_config(Path(os.environ["DAGSTER_HOME"]))
    failures = run_demo(args.days, lambda line: print(line, flush=True))
    if failures:
        print(f"failed steps: {', '.join(failures)}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
