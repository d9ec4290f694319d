"""The risk sensor alerts each new breach once, through the dispatcher to a local webhook.

Book: strategy beta (capital 10,000, daily loss limit 100) bought 2 ETH @ 2,000 (fee 4) and
sold them @ 1,900 (fee 3.8): PnL −207.8, measured against capital on its first day, so its
daily loss limit is broken. ETH closes flat at 2,000, so beta is flat, holds no exposure and
its equal-weight benchmark returned 0 (−2.078 % is within the 5 % underperformance tolerance):
the daily loss is the only breach.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import dagster as dg
import pytest
import yaml

from resources.alerting import AlertingResource
from resources.database import TradingDatabase
from resources.strategies import StrategiesResource
from sensors.risk import RISK_SENSORS, portfolio_risk_breaches
from tests.fakes.webhook_sink import RecordingServer
from tests.portfolio_book import STRATEGIES, add_daily_candles, add_fill, new_database, utc
from zvt_pipelines.portfolio.position_store import save_positions
from zvt_pipelines.portfolio.positions import PositionSnapshot
from zvt_pipelines.storage.performance import record_performance

BETA = {**STRATEGIES[1], "risk_limits": {"daily_loss_limit": 100}}


@pytest.fixture
def webhook():
    with RecordingServer() as server:
        yield server


def touch_positions(db, at: str) -> None:
    """What a rebalance leaves behind: beta's (flat) ETH position, updated at `at`."""
    save_positions(
        db,
        [
            PositionSnapshot(
                venue="sim_a",
                symbol="ETH/USDT",
                strategy="beta",
                quantity=Decimal(0),
                average_entry_price=None,
                realized_pnl=Decimal("-207.8"),
                unrealized_pnl=Decimal(0),
                mark_price=Decimal(2000),
                fees_paid=Decimal("7.8"),
                margin_used=Decimal(0),
                leverage=Decimal(1),
                accounting_method="FIFO",
                updated_at=utc(at),
            )
        ],
    )


def test_breach_is_sent_once_cleared_and_sent_again(tmp_path, webhook):
    url, db = new_database(tmp_path)
    add_daily_candles(db, "sim_a", "ETH/USDT", "2024-01-01", [2_000.0] * 30)
    add_fill(db, "beta", "sim_a", "ETH/USDT", "buy", "2", "2000", "4", "2024-01-11")
    add_fill(db, "beta", "sim_a", "ETH/USDT", "sell", "2", "1900", "3.8", "2024-01-13")
    path = tmp_path / "strategies.yaml"
    path.write_text(yaml.safe_dump({"strategies": [BETA]}))
    resources = {
        "database": TradingDatabase(url=url),
        "strategies": StrategiesResource(config_path=str(path)),
        "alerting": AlertingResource(
            database_url=url,
            webhook_url=f"{webhook.base_url}/hook",
            webhook_secret="risk-secret",
            retry_initial_delay=0.0,
            # no cooldown: this test is about the sensor's active set, not the (durable)
            # throttle, which would fold the re-breach at 00:50 into a digest
            cooldown_minutes=0.0,
            info_mode="immediate",
            **{
                f"{level}_channels": ["webhook"]
                for level in ("critical", "high", "warning", "info")
            },
        ),
    }
    assert [portfolio_risk_breaches] == RISK_SENSORS

    def tick(instance, cursor):
        context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
        return portfolio_risk_breaches(context), context.cursor

    with dg.instance_for_test() as instance:
        result, cursor = tick(instance, None)
        assert isinstance(result, dg.SkipReason)  # no positions stored yet: nothing to check
        assert webhook.requests == []

        touch_positions(db, "2024-01-31 00:00")
        result, cursor = tick(instance, cursor)
        assert isinstance(result, dg.RunRequest)
        assert result.run_key == "portfolio_analytics:2024-01-31T00:00:00+00:00|1"
        for _ in range(3):  # the same state, evaluated again: nothing new to say
            again, cursor = tick(instance, cursor)
            assert isinstance(again, dg.SkipReason)
        [first] = [r.json() for r in webhook.accepted]
        assert first["type"] == "portfolio_risk" and first["severity"] == "critical"
        assert first["condition"] == "daily_loss:strategy:beta/critical"
        assert first["value"] == pytest.approx(-207.8) and first["threshold"] == -100.0

        # yesterday's stored PnL was −200, so today lost only 7.8: the breach clears
        record_performance(
            db,
            scope="strategy",
            name="beta",
            day=date(2024, 1, 30),
            total_value=Decimal(9_800),
            metrics={},
            details={"capital": "10000", "pnl": "-200"},
        )
        touch_positions(db, "2024-01-31 00:30")
        result, cursor = tick(instance, cursor)
        assert isinstance(result, dg.RunRequest) and len(webhook.accepted) == 1
        assert '"active": {}' in cursor

        # another losing round trip (−203.8): today's loss 211.6 breaks the limit again
        add_fill(db, "beta", "sim_a", "ETH/USDT", "buy", "1", "2000", "2", "2024-01-31 00:40")
        add_fill(db, "beta", "sim_a", "ETH/USDT", "sell", "1", "1800", "1.8", "2024-01-31 00:45")
        touch_positions(db, "2024-01-31 00:50")
        result, cursor = tick(instance, cursor)
        again, cursor = tick(instance, cursor)
        assert isinstance(result, dg.RunRequest) and isinstance(again, dg.SkipReason)
    alerts = [r.json() for r in webhook.accepted]
    assert [a["condition"] for a in alerts] == ["daily_loss:strategy:beta/critical"] * 2
    assert alerts[1]["value"] == pytest.approx(-211.6)
    assert alerts[1]["at"] == "2024-01-31T00:50:00+00:00"
