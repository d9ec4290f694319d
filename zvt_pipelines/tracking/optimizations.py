"""Read a recorded optimisation (an MLflow sweep parent run) back for the overfitting gate."""

from __future__ import annotations

from collections.abc import Mapping

from zvt_pipelines.errors import ConfigError
from zvt_pipelines.tracking.mlflow_tracker import TrackingTarget
from zvt_pipelines.trading.overfitting_gate import OptimizationRecord


def read_optimization(
    run_id: str, tracking_uri: str | None = None, env: Mapping[str, str] | None = None
) -> OptimizationRecord:
    """The sweep parent run `run_id`: its family, `deflated_sharpe`, `pbo` and `best.*`
    params. A ConfigError names the id when it is not an optimisation of this store."""
    from mlflow.exceptions import MlflowException

    target = TrackingTarget.resolve(tracking_uri, env)
    try:
        run = target.client().get_run(run_id)
    except MlflowException:
        raise ConfigError(
            f"optimization {run_id!r}: no such MLflow run in {target.tracking_uri}"
        ) from None
    if "zvt.sweep" not in run.data.tags:
        raise ConfigError(f"optimization {run_id!r}: an MLflow run, but not an optimisation")
    metrics = run.data.metrics
    return OptimizationRecord(
        run_id=run_id,
        strategy=run.data.tags.get("zvt.strategy"),
        deflated_sharpe=metrics.get("deflated_sharpe"),
        pbo=metrics.get("pbo"),
        best_params={
            key.removeprefix("best."): value
            for key, value in run.data.params.items()
            if key.startswith("best.")
        },
    )
