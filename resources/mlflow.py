"""MLflow tracking as a Dagster resource (our own thin resource, not dagster-mlflow)."""

import dagster as dg

from zvt_pipelines.tracking.tracker import MlflowTracker


class MlflowTracking(dg.ConfigurableResource):
    """Where backtests and sweeps are recorded: MLFLOW_TRACKING_URI, or SQLite under ZVT_HOME."""

    tracking_uri: str
    zvt_home: str

    def tracker(self) -> MlflowTracker:
        """The core tracker for this target."""
        return MlflowTracker(self.tracking_uri, self.zvt_home)
