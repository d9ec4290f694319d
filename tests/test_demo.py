"""README's first command: `zvt demo` runs the whole loop on embedded defaults."""

from __future__ import annotations

import os
import subprocess
import sys

import sqlalchemy as sa
from mlflow.tracking import MlflowClient

from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.market_data import count_candles


def test_demo_runs_the_loop_and_leaves_its_state_under_zvt_home(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DAGSTER_HOME", "ZVT_DATABASE_URL", "MLFLOW_TRACKING_URI")
    }
    env["ZVT_HOME"] = str(tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "zvt_pipelines.cli", "demo", "--days", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "FAILED" not in out.stdout
    db = Database(f"sqlite:///{tmp_path}/zvt.db")
    # one day of 1m candles for each of the four default instruments, and its views
    assert count_candles(db, timeframe="1m") == 4 * 1440
    assert count_candles(db, timeframe="1h") == 4 * 24
    with db.engine.connect() as conn:
        deployed = conn.execute(sa.text("select count(*) from strategy_status")).scalar()
        scopes = set(
            conn.execute(sa.text("select distinct scope from strategy_performance")).scalars()
        )
    assert deployed >= 5 and {"portfolio", "backtest"} <= scopes
    runs = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db").search_runs(
        [
            e.experiment_id
            for e in MlflowClient(f"sqlite:///{tmp_path}/mlflow.db").search_experiments()
        ]
    )
    assert len(runs) >= 1
    assert (tmp_path / "dagster").is_dir()
    assert "make ui" in out.stdout
