"""Run the code location's jobs in-process against the local Dagster instance.

Used by `zvt demo`: the runs land in the same instance the UI (`make ui`) shows, so
every demo run, its asset materialisations and check results can be browsed there.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import dagster as dg

from assets.partitions import partition_key

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


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
