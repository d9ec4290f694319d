"""Alerts survive restarts: throttle windows and suppressed alerts live in the database, so a
new dispatcher (a restart, or the next sensor tick) neither re-sends inside the cooldown nor
loses the digest; a critical alert never goes nowhere (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from resources.alerting import AlertingResource
from tests.fakes.smtp_sink import SmtpSink
from tests.fakes.webhook_sink import RecordingServer
from zvt_pipelines.alerts.alert import Alert, AlertType, Severity
from zvt_pipelines.alerts.channels.webhook import WebhookChannel
from zvt_pipelines.alerts.dispatcher import Dispatcher, RetryPolicy
from zvt_pipelines.alerts.routing import RoutingTable
from zvt_pipelines.alerts.services import check_alerting
from zvt_pipelines.alerts.store import AlertStore, DeliveryStatus
from zvt_pipelines.alerts.throttle_store import StoredThrottle
from zvt_pipelines.cli import app

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
TO_WEBHOOK = RoutingTable.from_mapping({"info": {"channels": ["webhook"]}})


@pytest.fixture
def webhook():
    with RecordingServer() as server:
        yield server


def make_alert(at: datetime, severity: Severity = Severity.WARNING) -> Alert:
    return Alert(
        AlertType.PRICE_THRESHOLD,
        severity,
        "BTC crossed 100",
        f"price at {at:%H:%M}",
        at,
        "cross_up@100",
        instrument="BTC/USDT",
        value=101.0,
        threshold=100.0,
    )


def restart(db, webhook: RecordingServer, now: datetime) -> Dispatcher:
    """A brand-new dispatcher, store and throttle over the same database (= a new process)."""
    channel = WebhookChannel(url=f"{webhook.base_url}/hook", secret="s", timeout=2)
    return Dispatcher(
        AlertStore(db, clock=lambda: now),
        {"webhook": channel},
        routing=TO_WEBHOOK,
        throttle=StoredThrottle(db, cooldown=HOUR, clock=lambda: now),
        retry=RetryPolicy(attempts=1, initial_delay=0.0),
        clock=lambda: now,
        charts=False,
    )


def test_a_restart_inside_the_cooldown_neither_resends_nor_loses_the_digest(db, webhook):
    """12:00 sent; 12:10 and 12:20 (two later processes) suppressed and stored; 13:05 a fourth
    process finds the window closed (12:00 + 1 h) and sends one digest counting 2 repeats."""
    with restart(db, webhook, T0) as first:
        assert first.submit(make_alert(T0)).delivered == ["webhook"]
    for minutes in (10, 20):
        at = T0 + timedelta(minutes=minutes)
        with restart(db, webhook, at) as later:
            report = later.submit(make_alert(at))
            assert report.delivered == [] and report.suppressed == ["webhook"]
            assert report.alert_id is not None  # the suppressed alert is stored
            assert later.flush() == []  # the window is still open
    assert len(webhook.accepted) == 1
    closed = T0 + timedelta(minutes=65)
    with restart(db, webhook, closed) as fourth:
        assert fourth.throttle.pending_count() == 0  # nothing open any more
        [digest] = fourth.flush()
        assert digest.delivered == ["webhook"]
    with restart(db, webhook, closed) as fifth:
        assert fifth.flush() == []  # the digest went out once
    bodies = [r.json() for r in webhook.accepted]
    assert [b["condition"] for b in bodies] == ["cross_up@100", "digest/cross_up@100"]
    assert bodies[1]["fields"]["suppressed_count"] == 2
    assert bodies[1]["fields"]["first_at"] == (T0 + timedelta(minutes=10)).isoformat()
    assert bodies[1]["fields"]["last_at"] == (T0 + timedelta(minutes=20)).isoformat()
    assert "price at 12:20" in bodies[1]["body"]  # the latest suppressed alert is quoted
    suppressed = AlertStore(db).deliveries([DeliveryStatus.SUPPRESSED])
    assert sorted(d.alert.at for d in suppressed) == [
        T0 + timedelta(minutes=10),
        T0 + timedelta(minutes=20),
    ]


def test_after_the_cooldown_the_key_alerts_again_and_the_old_digest_still_goes(db, webhook):
    """12:00 sent, 12:30 suppressed; 13:30 (window closed, digest not yet flushed) the key fires
    again: it is sent at once, and the next flush still delivers the 12:00 window's digest."""
    with restart(db, webhook, T0) as dispatcher:
        dispatcher.submit(make_alert(T0))
    with restart(db, webhook, T0 + timedelta(minutes=30)) as dispatcher:
        dispatcher.submit(make_alert(T0 + timedelta(minutes=30)))
    late = T0 + timedelta(minutes=90)
    with restart(db, webhook, late) as dispatcher:
        assert dispatcher.submit(make_alert(late)).delivered == ["webhook"]
        [digest] = dispatcher.flush()
        assert digest.delivered == ["webhook"]
    bodies = [r.json() for r in webhook.accepted]
    assert [b["condition"] for b in bodies] == [
        "cross_up@100",
        "cross_up@100",
        "digest/cross_up@100",
    ]
    assert bodies[2]["fields"]["suppressed_count"] == 1


def test_two_resource_instances_share_the_cooldown(db, webhook):
    """Two `AlertingResource`s (two sensor ticks or processes): the second one's repeat of the
    same key inside the 15-minute cooldown is stored as suppressed, not sent."""

    def resource() -> AlertingResource:
        return AlertingResource(
            database_url=db.url,
            webhook_url=f"{webhook.base_url}/hook",
            webhook_secret="s",
            warning_channels=["webhook"],
            retry_initial_delay=0.0,
        )

    now = datetime.now(UTC)
    with resource().dispatcher() as tick_1:
        assert tick_1.submit(make_alert(now)).delivered == ["webhook"]
    with resource().dispatcher() as tick_2:
        report = tick_2.submit(make_alert(now + timedelta(seconds=1)))
    assert report.suppressed == ["webhook"] and report.delivered == []
    assert len(webhook.accepted) == 1


def test_a_critical_alert_reaches_email_and_webhook_when_sms_and_slack_are_not_configured(
    db, webhook
):
    """Default routing sends CRITICAL to sms + slack; with only email and webhook configured
    it falls back to both, through the resource the sensors use."""
    with SmtpSink() as sink:
        alerting = AlertingResource(
            database_url=db.url,
            smtp_host="127.0.0.1",
            smtp_port=str(sink.port),
            smtp_starttls="false",
            email_from="zvt@example.org",
            email_to="ops@example.org",
            webhook_url=f"{webhook.base_url}/hook",
            webhook_secret="s",
            retry_initial_delay=0.0,
        )
        with alerting.dispatcher() as dispatcher:
            report = dispatcher.submit(make_alert(T0, Severity.CRITICAL))
            # a WARNING still follows its own route (slack only): not configured, not sent
            warning = dispatcher.submit(make_alert(T0 + HOUR, Severity.WARNING))
        assert sorted(report.delivered) == ["email", "webhook"]
        assert warning.delivered == [] and warning.alert_id is not None
        [mail] = sink.received
    assert "BTC crossed 100" in mail.message["Subject"]
    [hook] = webhook.accepted
    assert hook.json()["severity"] == "critical"


def test_alerts_check_warns_about_the_critical_fallback():
    env = {
        "ZVT_SMTP_HOST": "127.0.0.1",
        "ZVT_ALERT_EMAIL_FROM": "zvt@example.org",
        "ZVT_ALERT_EMAIL_TO": "ops@example.org",
        "ZVT_WEBHOOK_URL": "http://127.0.0.1:9/hook",
        "ZVT_WEBHOOK_SECRET": "s",
    }
    check = check_alerting(env)
    assert check.configured == ["email", "webhook"]
    assert check.critical_channels == ["sms", "slack"]
    assert check.critical_fallback == ["email", "webhook"]
    [warning] = check.warnings
    assert "none of which is configured" in warning and "email, webhook" in warning
    with_slack = check_alerting({**env, "ZVT_SLACK_TOKEN": "xoxb-1", "ZVT_SLACK_CHANNEL": "#ops"})
    assert with_slack.warnings == [] and with_slack.critical_targets == ["slack"]

    result = CliRunner().invoke(app, ["alerts", "check", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["critical_fallback"] == ["email", "webhook"]
    text = CliRunner().invoke(app, ["alerts", "check"], env=env)
    assert text.exit_code == 0
    assert text.stderr.startswith("warning: critical alerts route to sms, slack")
    assert "critical alerts go to: email, webhook" in text.stdout


def test_alerts_check_fails_when_no_channel_is_configured(monkeypatch):
    for name in ("ZVT_SMTP_HOST", "ZVT_SLACK_TOKEN", "ZVT_WEBHOOK_URL", "ZVT_NTFY_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("ZVT_DISCORD_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("ZVT_TWILIO_ACCOUNT_SID", raising=False)
    result = CliRunner().invoke(app, ["alerts", "check"])
    assert result.exit_code == 1
    assert "no alert channel is configured" in result.stderr


def test_concurrent_admits_of_one_key_send_it_once(db):
    """Eight threads (own connections, like eight processes) admit the same key at the same
    moment: exactly one opens the window, the other seven are counted in it."""
    throttle = StoredThrottle(db, cooldown=HOUR, clock=lambda: T0)
    barrier = threading.Barrier(8)
    results: list[bool] = []

    def admit() -> None:
        barrier.wait()
        results.append(throttle.admit("webhook", "", make_alert(T0)))

    threads = [threading.Thread(target=admit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]
    assert throttle.pending_count() == 7
