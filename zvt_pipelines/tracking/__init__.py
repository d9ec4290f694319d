"""Experiment tracking: backtests and optimisation sweeps recorded as MLflow runs.

mlflow itself is imported only when a run is recorded (it takes seconds to import).
"""

from zvt_pipelines.tracking.mlflow_tracker import (
    PARAM_VALUE_LIMIT,
    Sweep,
    TrackingTarget,
    data_fingerprint,
    experiment_name,
    flatten_params,
    result_metrics,
    start_sweep,
    track_backtest,
    tracked_optimize,
)

__all__ = [
    "PARAM_VALUE_LIMIT",
    "Sweep",
    "TrackingTarget",
    "data_fingerprint",
    "experiment_name",
    "flatten_params",
    "result_metrics",
    "start_sweep",
    "track_backtest",
    "tracked_optimize",
]
