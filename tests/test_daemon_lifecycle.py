"""The real thing: `dagster-daemon` runs the code location while the strategies file is edited.

A strategy is deployed, retuned and removed by editing the file; the daemon's sensor picks
each change up and launches the runs itself, with no restart. Slow (the daemon ticks every
30 s), so it runs once with three edits.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from tests.conftest import REPO
from tests.trading_support import candle_database, fixed_weight, write_strategies
from zvt_pipelines.storage.models import CryptoPosition
from zvt_pipelines.trading.lifecycle import Status, statuses

DAEMON = Path(sys.executable).with_name("dagster-daemon")
DEADLINE = 240


def wait_for(condition, what: str, deadline: float):
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(2)
    pytest.fail(f"timed out waiting for {what}")


@pytest.mark.slow
def test_daemon_deploys_retunes_and_stops_from_file_edits(tmp_path):
    db = candle_database(tmp_path)
    strategies = write_strategies(tmp_path / "strategies.yaml", [fixed_weight("alpha", weight=0.2)])
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "ZVT_HOME": str(tmp_path),
        "ZVT_DATABASE_URL": db.url,
        "ZVT_STRATEGIES": str(strategies),
    }
    daemon = subprocess.Popen(
        [str(DAEMON), "run", "-w", "workspace.yaml"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + DEADLINE
    os.environ["DAGSTER_HOME"], previous = str(home), os.environ.get("DAGSTER_HOME")
    try:
        with dg.DagsterInstance.get() as instance:

            def succeeded_rebalances():
                runs = instance.get_run_records(
                    dg.RunsFilter(job_name="rebalance", statuses=[dg.DagsterRunStatus.SUCCESS])
                )
                return sorted(r.dagster_run.tags.get("dagster/run_key", "") for r in runs)

            first = wait_for(lambda: succeeded_rebalances(), "the deployment run", deadline)
            assert first[0].startswith("deploy-alpha-")
            with db.transaction() as session:
                before = session.scalars(sa.select(CryptoPosition.quantity)).one()

            write_strategies(strategies, [fixed_weight("alpha", weight=0.4)])
            wait_for(lambda: len(succeeded_rebalances()) >= 2, "the retuned run", deadline)
            with db.transaction() as session:
                after = session.scalars(sa.select(CryptoPosition.quantity)).one()
            assert after > before * Decimal("1.9")  # the daemon's run used the new weight

            write_strategies(strategies, [fixed_weight("beta", weight=0.1)])
            wait_for(lambda: statuses(db).get("alpha") is Status.STOPPED, "alpha stopped", deadline)
            assert "beta" in instance.get_dynamic_partitions("strategies")
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)
        if previous is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = previous
