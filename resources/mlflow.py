"""MLflow tracking as a Dagster resource (our own thin resource, not dagster-mlflow)."""

import dagster as dg


class MlflowTracking(dg.ConfigurableResource):
    """Where backtests and sweeps are recorded: MLFLOW_TRACKING_URI, or SQLite under ZVT_HOME."""

    tracking_uri: str
    zvt_home: str

    def env(self) -> dict[str, str]:
        """The environment the core tracker resolves its target from."""
        return {"ZVT_HOME": self.zvt_home, "MLFLOW_TRACKING_URI": self.tracking_uri}
