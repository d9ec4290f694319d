"""One MLflow target and the calls that record there: what the Dagster MLflow resource hands
to the assets, so they never build clients or environments themselves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zvt_pipelines.backtest.result import BacktestResult
from zvt_pipelines.tracking.mlflow_tracker import Sweep, start_sweep, track_backtest


@dataclass(frozen=True)
class MlflowTracker:
    """Records backtests and sweeps at `tracking_uri` (local stores live under `zvt_home`)."""

    tracking_uri: str
    zvt_home: str

    def _env(self) -> dict[str, str]:
        return {"ZVT_HOME": self.zvt_home, "MLFLOW_TRACKING_URI": self.tracking_uri}

    def track_backtest(self, result: BacktestResult, **run: Any) -> str:
        """`tracking.track_backtest` at this target; returns the run id."""
        return track_backtest(result, env=self._env(), **run)

    def start_sweep(self, **sweep: Any) -> Sweep:
        """`tracking.start_sweep` at this target: the open parent run."""
        return start_sweep(env=self._env(), **sweep)

    def sweep(self, experiment_id: str, parent_run_id: str) -> Sweep:
        """The sweep already opened as `parent_run_id`, to log trials to or finish it."""
        from mlflow.tracking import MlflowClient

        return Sweep(MlflowClient(self.tracking_uri), experiment_id, parent_run_id)
