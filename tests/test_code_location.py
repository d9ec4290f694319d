"""The code location as a user runs it: `dagster definitions validate`, the webserver's asset
graph over GraphQL, and the Dagster instance on dagster-postgres."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from tests.conftest import REPO

DAGSTER = Path(sys.executable).with_name("dagster")
WEBSERVER = Path(sys.executable).with_name("dagster-webserver")


def env_for(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "dagster"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return {**os.environ, "DAGSTER_HOME": str(home), "ZVT_HOME": str(tmp_path)}


def test_definitions_validate(tmp_path):
    out = subprocess.run(
        [str(DAGSTER), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO,
        env=env_for(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Validation successful" in out.stdout + out.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_webserver_serves_the_partitioned_asset_graph(tmp_path):
    port = free_port()
    server = subprocess.Popen(
        [str(WEBSERVER), "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"],
        cwd=REPO,
        env=env_for(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    query = {"query": "{ assetNodes { assetKey { path } isPartitioned groupName } }"}
    try:
        deadline, nodes = time.monotonic() + 120, None
        while time.monotonic() < deadline and nodes is None:
            time.sleep(1)
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/graphql",
                    data=json.dumps(query).encode(),
                    headers={"Content-Type": "application/json"},
                )
                with urllib.request.urlopen(request, timeout=10) as response:
                    nodes = json.load(response)["data"]["assetNodes"]
            except (OSError, KeyError, TypeError):
                continue
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert nodes is not None, "the webserver did not answer within 120 s"
    partitioned = {"/".join(n["assetKey"]["path"]): n["isPartitioned"] for n in nodes}
    assert partitioned["ohlcv_1m"] and partitioned["ohlcv_1h"] and partitioned["strategy_signals"]
    assert partitioned["strategy_backtest"] is False


def test_runs_and_partitions_are_stored_in_dagster_postgres(tmp_path, scratch_pg_url, shared_data):
    """The production instance layout (dagster.yaml → dagster-postgres) holds runs, events and
    dynamic partitions."""
    from assets.partitions import partition_key
    from definitions import build_definitions
    from tests.test_market_data_assets import settings_for, write_markets

    settings = settings_for(tmp_path, write_markets(tmp_path, shared_data, ["binance:BTC/USDT"]))
    defs = build_definitions(settings)
    overrides = {"storage": {"postgres": {"postgres_url": scratch_pg_url}}}
    with dg.instance_for_test(overrides=overrides) as instance:
        result = defs.resolve_job_def("market_data").execute_in_process(
            partition_key=partition_key("2025-06-10", "binance:BTC/USDT"), instance=instance
        )
        assert result.success
        instance.add_dynamic_partitions("strategies", ["alpha"])
    engine = sa.create_engine(scratch_pg_url)
    with engine.connect() as conn:
        runs = conn.execute(
            sa.text("select count(*) from runs where run_id = :r"), {"r": result.run_id}
        ).scalar()
        partitions = (
            conn.execute(sa.text("select partition from dynamic_partitions")).scalars().all()
        )
        materialized = conn.execute(
            sa.text(
                "select count(*) from event_logs where run_id = :r and dagster_event_type = 'ASSET_MATERIALIZATION'"
            ),
            {"r": result.run_id},
        ).scalar()
    engine.dispose()
    assert runs == 1 and partitions == ["alpha"] and materialized == 3
