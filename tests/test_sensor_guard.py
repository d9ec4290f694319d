"""Sensors never die silently: a failing tick stores a system alert, sends it (throttled) and
still fails in Dagster with the error; the guard also fits sensors without an alerting
resource."""

from __future__ import annotations

import dagster as dg
import pytest

from resources.alerting import AlertingResource
from resources.database import TradingDatabase
from resources.markets import MarketsResource
from sensors.alerts import market_data_alerts
from sensors.guard import alert_on_failure
from tests.fakes.webhook_sink import RecordingServer
from zvt_pipelines.alerts.store import AlertStore, DeliveryStatus
from zvt_pipelines.errors import ConfigError
from zvt_pipelines.storage.database import Database


@pytest.fixture
def webhook():
    with RecordingServer() as server:
        yield server


def alerting_for(url: str, webhook: RecordingServer) -> AlertingResource:
    return AlertingResource(
        database_url=url,
        webhook_url=f"{webhook.base_url}/hook",
        webhook_secret="s",
        high_channels=["webhook"],
        critical_channels=["webhook"],
        retry_initial_delay=0.0,
    )


def test_a_failing_sensor_alerts_once_per_cooldown_and_fails_its_tick(tmp_path, webhook):
    """The markets file is missing: both ticks raise the ConfigError (the UI shows a failed
    tick); both failures are stored, the first is sent and the second suppressed."""
    url = f"sqlite:///{tmp_path}/zvt.db"
    resources = {
        "database": TradingDatabase(url=url),
        "markets": MarketsResource(config_path=str(tmp_path / "missing.yaml")),
        "alerting": alerting_for(url, webhook),
    }
    with dg.instance_for_test() as instance:
        for _ in range(2):
            context = dg.build_sensor_context(instance=instance, resources=resources)
            with pytest.raises(ConfigError, match="missing.yaml"):
                market_data_alerts(context)
            assert context.cursor is None  # nothing was processed, nothing skipped over
    [sent] = webhook.accepted
    payload = sent.json()
    assert payload["type"] == "system_error" and payload["severity"] == "high"
    assert payload["title"] == "sensor market_data_alerts failed: ConfigError"
    assert "missing.yaml" in payload["body"]
    db = Database(url)
    stored = AlertStore(db).deliveries()
    assert [d.status for d in stored] == [DeliveryStatus.DELIVERED, DeliveryStatus.SUPPRESSED]
    db.dispose()


@dg.sensor(name="always_broken", minimum_interval_seconds=60)
@alert_on_failure("always_broken")
def always_broken(context: dg.SensorEvaluationContext, database: TradingDatabase):
    raise ZeroDivisionError("float division by zero")


def test_the_guard_adds_the_alerting_resource_to_a_sensor_without_one(tmp_path, webhook):
    url = f"sqlite:///{tmp_path}/zvt.db"
    assert always_broken.required_resource_keys == {"database", "alerting"}
    defs = dg.Definitions(
        sensors=[always_broken],
        resources={"database": TradingDatabase(url=url), "alerting": alerting_for(url, webhook)},
    )
    with dg.instance_for_test() as instance:
        dg.Definitions.validate_loadable(defs)
        context = dg.build_sensor_context(
            instance=instance,
            resources={
                "database": TradingDatabase(url=url),
                "alerting": alerting_for(url, webhook),
            },
        )
        with pytest.raises(ZeroDivisionError):
            always_broken(context)
    [sent] = webhook.accepted
    assert sent.json()["title"] == "sensor always_broken failed: ZeroDivisionError"


def test_a_sensor_whose_alert_cannot_be_stored_still_fails_with_its_own_error(tmp_path):
    """The alerting database URL is unusable: the sensor's ZeroDivisionError still surfaces."""
    broken = AlertingResource(database_url="nosuchdialect://x")
    url = f"sqlite:///{tmp_path}/zvt.db"
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance,
            resources={"database": TradingDatabase(url=url), "alerting": broken},
        )
        with pytest.raises(ZeroDivisionError):
            always_broken(context)
