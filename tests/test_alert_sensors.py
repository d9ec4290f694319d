"""The Dagster alert sensors: a deliberately failing job reaches the local webhook through the
run-failure sensor; the market sensor alerts once per new candle with a cursor."""

from __future__ import annotations

import textwrap

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from resources.alerting import AlertingResource, build_alerting_resource
from resources.database import TradingDatabase
from resources.markets import MarketsResource
from sensors.alerts import (
    ALERT_SENSORS,
    alert_delivery_upkeep,
    alert_on_run_failure,
    market_data_alerts,
)
from tests.fakes.webhook_sink import RecordingServer, signature_valid
from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.market_data import replace_candles

SECRET = "sensor-secret"
BASE_URL = "http://dagster.example:3000"


@pytest.fixture
def webhook():
    with RecordingServer() as server:
        yield server


def alerting_for(db_url: str, webhook: RecordingServer, **overrides) -> AlertingResource:
    everything_to_webhook = {
        f"{level}_channels": ["webhook"] for level in ("critical", "high", "warning", "info")
    }
    return AlertingResource(
        database_url=db_url,
        dagster_base_url=BASE_URL,
        webhook_url=f"{webhook.base_url}/hook",
        webhook_secret=SECRET,
        info_mode="immediate",
        retry_initial_delay=0.0,
        **{**everything_to_webhook, **overrides},
    )


@dg.op
def explode() -> None:
    raise RuntimeError("boom: the exchange returned garbage")


@dg.job
def doomed_job() -> None:
    explode()


def test_failed_run_is_alerted_with_job_run_id_error_and_link(tmp_path, webhook):
    alerting = alerting_for(f"sqlite:///{tmp_path}/zvt.db", webhook)
    with dg.instance_for_test() as instance:
        result = doomed_job.execute_in_process(instance=instance, raise_on_error=False)
        assert not result.success
        context = dg.build_run_status_sensor_context(
            sensor_name="alert_on_run_failure",
            dagster_instance=instance,
            dagster_run=result.dagster_run,
            dagster_event=result.get_run_failure_event(),
            resources={"alerting": alerting},
        ).for_run_failure()
        alert_on_run_failure(context)
        alert_on_run_failure(context)  # evaluated twice: the stored occurrence is not resent
    [received] = webhook.accepted
    assert signature_valid(SECRET, received)
    payload = received.json()
    run_id = result.run_id
    assert payload["type"] == "system_error" and payload["severity"] == "critical"
    assert "doomed_job" in payload["title"] and run_id in payload["title"]
    assert payload["fields"]["run_id"] == run_id
    assert payload["fields"]["link"] == f"{BASE_URL}/runs/{run_id}"
    assert "boom: the exchange returned garbage" in payload["body"]


def write_markets(tmp_path) -> str:
    path = tmp_path / "markets.yaml"
    path.write_text(
        textwrap.dedent(
            """
            start_date: "2024-01-01"
            timeframe: 1m
            venues:
              sim_a: {kind: simulated}
            instruments:
              - sim_a:BTC/USDT
            """
        )
    )
    return str(path)


def candles(close: list[float], volume: list[float]) -> pd.DataFrame:
    ts = pd.date_range("2024-01-01", periods=len(close), freq="min", tz="UTC")
    close_arr = np.asarray(close, dtype=float)
    return pd.DataFrame(
        {
            "ts": ts.astype("datetime64[ms, UTC]"),
            "open": close_arr,
            "high": close_arr,
            "low": close_arr,
            "close": close_arr,
            "volume": np.asarray(volume, dtype=float),
        }
    )


def test_market_sensor_alerts_new_candles_once(tmp_path, webhook):
    url = f"sqlite:///{tmp_path}/zvt.db"
    db = Database(url)
    db.upgrade()
    day = pd.Timestamp("2024-01-01", tz="UTC")
    close, volume = [100.0] * 200, [10.0, 12.0] * 100
    replace_candles(
        db, "sim_a", "BTC/USDT", "1m", candles(close, volume), day, day + pd.Timedelta(days=1)
    )
    resources = {
        "database": TradingDatabase(url=url),
        "markets": MarketsResource(config_path=write_markets(tmp_path)),
        "alerting": alerting_for(url, webhook, percent_window=10, volume_window=20, volume_z=6.0),
    }
    with dg.instance_for_test() as instance:
        first = dg.build_sensor_context(instance=instance, resources=resources)
        market_data_alerts(first)
        assert webhook.requests == []  # a calm market: nothing to say
        cursor = first.cursor
        assert "sim_a:BTC/USDT" in cursor

        # bar 205 jumps 7 % on 10x volume: one percent-move alert and one volume spike
        close += [100.0] * 5 + [107.0] * 5
        volume += [10.0, 12.0, 10.0, 12.0, 10.0, 120.0, 12.0, 10.0, 12.0, 10.0]
        replace_candles(
            db, "sim_a", "BTC/USDT", "1m", candles(close, volume), day, day + pd.Timedelta(days=1)
        )
        second = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
        market_data_alerts(second)
        conditions = sorted(r.json()["condition"] for r in webhook.accepted)
        assert conditions == ["move_up>=0.05/10", "volume_z>=6/20"]
        assert {r.json()["at"] for r in webhook.accepted} == {"2024-01-01T03:25:00+00:00"}

        # the same tick evaluated again from the old cursor alerts nothing new
        again = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
        market_data_alerts(again)
        assert len(webhook.accepted) == 2
        assert again.cursor == second.cursor
    db.dispose()


def test_resource_wires_only_set_variables_as_env_vars(tmp_path):
    env = {
        "ZVT_SLACK_TOKEN": "xoxb-secret",
        "ZVT_SLACK_CHANNEL": "#ops",
        "ZVT_DAGSTER_URL": "http://d",
    }
    resource = build_alerting_resource(f"sqlite:///{tmp_path}/zvt.db", env)
    assert resource.slack_token == dg.EnvVar("ZVT_SLACK_TOKEN")
    assert resource.dagster_base_url == dg.EnvVar("ZVT_DAGSTER_URL")
    assert resource.twilio_auth_token is None and resource.webhook_url is None


def test_definitions_with_the_alert_sensors_load(tmp_path, webhook):
    url = f"sqlite:///{tmp_path}/zvt.db"
    defs = dg.Definitions(
        jobs=[doomed_job],
        sensors=ALERT_SENSORS,
        resources={
            "database": TradingDatabase(url=url),
            "markets": MarketsResource(config_path=write_markets(tmp_path)),
            "alerting": alerting_for(url, webhook),
        },
    )
    dg.Definitions.validate_loadable(defs)
    assert {s.name for s in ALERT_SENSORS} == {
        "alert_on_run_failure",
        "market_data_alerts",
        "alert_delivery_upkeep",
    }


def test_upkeep_sensor_retries_what_a_down_webhook_missed(tmp_path, webhook):
    from zvt_pipelines.alerts.event_alerts import system_error

    alerting = alerting_for(f"sqlite:///{tmp_path}/zvt.db", webhook, retry_attempts=1)
    webhook.down = True
    with alerting.dispatcher() as dispatcher:
        alert = system_error("job x", "boom", pd.Timestamp("2024-01-01", tz="UTC").to_pydatetime())
        assert "HTTP 503" in dispatcher.submit(alert).failed["webhook"]
    webhook.down = False
    with dg.instance_for_test() as instance:
        result = alert_delivery_upkeep(
            dg.build_sensor_context(instance=instance, resources={"alerting": alerting})
        )
        assert "1 retried alert(s) delivered" in result.skip_message
        alert_delivery_upkeep(
            dg.build_sensor_context(instance=instance, resources={"alerting": alerting})
        )
    assert len(webhook.accepted) == 1
