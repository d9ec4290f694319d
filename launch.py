"""Run the code location's jobs in-process against the local Dagster instance.

Used by `zvt demo`: the runs land in the same instance the UI (`make ui`) shows, so
every demo run, its asset materialisations and check results can be browsed there.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import dagster as dg


@dataclass(frozen=True)
class PartitionRun:
    """The outcome of one partitioned run."""

    partition: str
    run_id: str
    success: bool
    failed_checks: tuple[str, ...]


def run_market_data(
    defs: dg.Definitions,
    days: Sequence[str],
    instruments: Sequence[str],
    instance: dg.DagsterInstance,
    on_progress: Callable[[PartitionRun], None] = lambda _: None,
) -> list[PartitionRun]:
    """Materialise the market data job for every day × instrument, one run each."""
    from assets.partitions import partition_key

    job = defs.resolve_job_def("market_data")
    results = []
    for day in days:
        for instrument in instruments:
            key = partition_key(day, instrument)
            result = job.execute_in_process(
                partition_key=key, instance=instance, raise_on_error=False
            )
            failed = tuple(
                f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
                for evaluation in (
                    event.event_specific_data
                    for event in result.all_events
                    if event.event_type_value == "ASSET_CHECK_EVALUATION"
                )
                if not evaluation.passed
            )
            outcome = PartitionRun(f"{day} {instrument}", result.run_id, result.success, failed)
            on_progress(outcome)
            results.append(outcome)
    return results
