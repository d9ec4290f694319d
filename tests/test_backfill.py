"""A date-range backfill launched through the UI's GraphQL API, run by the daemon."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.test_code_location import free_port
from tests.test_market_data_assets import write_markets
from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.market_data import count_candles

BIN = Path(sys.executable).parent
LAUNCH = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}"""
STATUS = "query Status($id: String!) { partitionBackfillOrError(backfillId: $id) { ... on PartitionBackfill { status } } }"


def graphql(port: int, query: str, variables: dict) -> dict:
    body = json.dumps({"query": query, "variables": variables}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


@pytest.mark.slow
def test_ui_backfill_of_two_days_stores_both(tmp_path, shared_data):
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    markets = write_markets(tmp_path, shared_data, ["binance:BTC/USDT"])
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "ZVT_HOME": str(tmp_path),
        "ZVT_MARKETS": str(markets),
    }
    env.pop("ZVT_DATABASE_URL", None)
    port = free_port()
    processes = [
        subprocess.Popen(
            [
                str(BIN / "dagster-webserver"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-w",
                "workspace.yaml",
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
    ]
    database = Database(f"sqlite:///{tmp_path}/zvt.db")
    try:
        deadline, launched = time.monotonic() + 240, None
        params = {
            "selector": {
                "partitionSetName": "market_data_partition_set",
                "repositorySelector": {
                    "repositoryLocationName": "zvt_pipelines",
                    "repositoryName": "__repository__",
                },
            },
            "partitionNames": ["2025-06-10|binance:BTC/USDT", "2025-06-11|binance:BTC/USDT"],
        }
        while launched is None and time.monotonic() < deadline:
            time.sleep(2)
            try:
                launched = graphql(port, LAUNCH, {"params": params})["data"][
                    "launchPartitionBackfill"
                ]
            except (OSError, KeyError, TypeError):
                continue
        assert launched is not None and launched["__typename"] == "LaunchBackfillSuccess", launched
        status = None
        while time.monotonic() < deadline:
            time.sleep(3)
            status = graphql(port, STATUS, {"id": launched["backfillId"]})["data"][
                "partitionBackfillOrError"
            ]["status"]
            if status in (
                "COMPLETED",
                "COMPLETED_SUCCESS",
                "COMPLETED_FAILED",
                "FAILED",
                "CANCELED",
            ):
                break
        assert status in ("COMPLETED", "COMPLETED_SUCCESS"), status
        deadline = time.monotonic() + 60  # the last run may still be writing its views
        while count_candles(database, timeframe="1d") < 2 and time.monotonic() < deadline:
            time.sleep(2)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=60)
    assert count_candles(database, timeframe="1m") == 2 * 1440
    assert count_candles(database, timeframe="1h") == 2 * 24
    assert count_candles(database, timeframe="1d") == 2
