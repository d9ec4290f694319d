"""The dispatcher over a real database (SQLite and PostgreSQL) and local channel fakes:
retries, a channel that stays down, exactly-once re-delivery, throttling and digests."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.fakes.slack_api import FakeSlack
from tests.fakes.smtp_sink import SmtpSink
from tests.fakes.twilio_api import FakeTwilio
from tests.fakes.webhook_sink import RecordingServer, signature_valid
from zvt_pipelines.alerts.alert import Alert, AlertType, Severity
from zvt_pipelines.alerts.channels.email import EmailChannel
from zvt_pipelines.alerts.channels.slack import SlackChannel
from zvt_pipelines.alerts.channels.sms import SmsChannel
from zvt_pipelines.alerts.channels.webhook import WebhookChannel
from zvt_pipelines.alerts.dispatcher import Dispatcher, RetryPolicy
from zvt_pipelines.alerts.preferences import load_preferences
from zvt_pipelines.alerts.routing import RoutingTable
from zvt_pipelines.alerts.store import AlertStore, DeliveryStatus
from zvt_pipelines.alerts.throttle import Throttle

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
SECRET = "hook-secret"
BOTH = RoutingTable.from_mapping({"info": {"channels": ["webhook", "slack"]}})
NO_WAIT = RetryPolicy(attempts=3, initial_delay=0.0)


@pytest.fixture
def webhook():
    with RecordingServer() as server:
        yield server


@pytest.fixture
def slack():
    with FakeSlack() as fake:
        yield fake


def channels(webhook: RecordingServer, slack: FakeSlack) -> dict:
    return {
        "webhook": WebhookChannel(url=f"{webhook.base_url}/hook", secret=SECRET, timeout=2),
        "slack": SlackChannel(token=slack.token, channel="#alerts", base_url=slack.api_base),
    }


def make_alert(
    condition: str = "cross_up@100", severity: Severity = Severity.CRITICAL, at: datetime = T0
) -> Alert:
    return Alert(
        AlertType.PRICE_THRESHOLD,
        severity,
        f"BTC {condition}",
        "body",
        at,
        condition,
        instrument="BTC/USDT",
        value=101.0,
        threshold=100.0,
        recent_prices=(98.0, 99.0, 101.0),
    )


def statuses(store: AlertStore) -> dict[str, tuple[DeliveryStatus, int]]:
    return {d.channel: (d.status, d.attempts) for d in store.deliveries()}


def test_migration_0002_creates_the_alert_tables(db):
    tables = set(sa.inspect(db.engine).get_table_names())
    assert {"alerts", "alert_deliveries"} <= tables
    columns = {c["name"] for c in sa.inspect(db.engine).get_columns("alert_deliveries")}
    assert {"alert_id", "channel", "status", "attempts", "last_error", "delivered_at"} <= columns


def test_alert_is_stored_and_delivered_on_every_routed_channel(db, webhook, slack):
    store = AlertStore(db)
    with Dispatcher(store, channels(webhook, slack), routing=BOTH, charts=False) as dispatcher:
        report = dispatcher.submit(make_alert())
    assert sorted(report.delivered) == ["slack", "webhook"] and not report.failed
    [(alert_id, stored)] = store.recent_alerts()
    assert stored == make_alert() and alert_id == report.alert_id
    assert statuses(store) == {
        "webhook": (DeliveryStatus.DELIVERED, 1),
        "slack": (DeliveryStatus.DELIVERED, 1),
    }
    [hook] = webhook.accepted
    assert signature_valid(SECRET, hook) and hook.json()["alert_id"] == alert_id
    assert len(slack.posted) == 1


def test_500_then_200_is_delivered_exactly_once(db, webhook, slack):
    webhook.fail_next(500)
    slack.server.fail_next(500)
    store = AlertStore(db)
    with Dispatcher(store, channels(webhook, slack), routing=BOTH, retry=NO_WAIT) as dispatcher:
        report = dispatcher.submit(make_alert())
        assert sorted(report.delivered) == ["slack", "webhook"]
        assert [r.status for r in webhook.requests] == [500, 200]
        assert statuses(store) == {
            "webhook": (DeliveryStatus.DELIVERED, 2),
            "slack": (DeliveryStatus.DELIVERED, 2),
        }
        assert dispatcher.retry_undelivered().delivered == []
        assert dispatcher.submit(make_alert()).duplicate  # the same occurrence again
    assert len(webhook.accepted) == 1 and len(slack.posted) == 1


def test_channel_down_stays_undelivered_others_delivered_then_retry_sends_once(db, webhook, slack):
    webhook.down = True
    store = AlertStore(db)
    policy = RetryPolicy(attempts=3, initial_delay=0.1, factor=2.0)
    with Dispatcher(store, channels(webhook, slack), routing=BOTH, retry=policy) as dispatcher:
        report = dispatcher.submit(make_alert())
        assert report.delivered == ["slack"]
        assert "HTTP 503" in report.failed["webhook"]
        # the down channel's backoff (0.1 s + 0.2 s) did not hold Slack up
        assert slack.server.requests[0].at < webhook.requests[-1].at
        status = {d.channel: d for d in store.deliveries()}
        assert status["webhook"].status is DeliveryStatus.FAILED
        assert status["webhook"].attempts == 3 and "503" in status["webhook"].last_error
        assert status["slack"].status is DeliveryStatus.DELIVERED
        assert len(webhook.requests) == 3 and webhook.accepted == []

        webhook.down = False
        again = dispatcher.retry_undelivered()
        assert again.delivered == [f"{report.alert_id}/webhook"]
        assert dispatcher.retry_undelivered().delivered == []
    assert len(webhook.accepted) == 1 and len(slack.posted) == 1
    assert {d.status for d in store.deliveries()} == {DeliveryStatus.DELIVERED}


def test_concurrent_retries_deliver_each_alert_once(db, webhook, slack):
    webhook.down = True
    store = AlertStore(db)
    one_try = RetryPolicy(attempts=1)
    with (
        Dispatcher(store, channels(webhook, slack), routing=BOTH, retry=one_try) as first,
        Dispatcher(store, channels(webhook, slack), routing=BOTH, retry=one_try) as second,
    ):
        for i in range(5):
            first.submit(make_alert(at=T0 + timedelta(minutes=i)))
        webhook.down = False
        runs = [threading.Thread(target=d.retry_undelivered) for d in (first, second, first)]
        for run in runs:
            run.start()
        for run in runs:
            run.join()
    ids = sorted(r.json()["alert_id"] for r in webhook.accepted)
    assert len(ids) == 5 and len(set(ids)) == 5


def test_throttled_storm_through_the_dispatcher_is_one_alert_plus_one_digest(db, webhook, slack):
    clock_now = [T0]
    throttle = Throttle(cooldown=timedelta(hours=1), clock=lambda: clock_now[0])
    store = AlertStore(db)
    routing = RoutingTable.from_mapping({"info": {"channels": ["webhook"]}})
    with Dispatcher(
        store, channels(webhook, slack), routing=routing, throttle=throttle, charts=False
    ) as dispatcher:
        for i in range(2_000):
            clock_now[0] = T0 + timedelta(seconds=i)
            dispatcher.submit(make_alert(at=clock_now[0]))
        assert dispatcher.submit(make_alert("cross_up@200")).delivered == ["webhook"]
        assert dispatcher.flush() == []  # window still open
        clock_now[0] = T0 + timedelta(hours=1)
        [digest] = dispatcher.flush()
        assert digest.delivered == ["webhook"]
    bodies = [r.json() for r in webhook.accepted]
    assert [b["condition"] for b in bodies] == [
        "cross_up@100",
        "cross_up@200",
        "digest/cross_up@100",
    ]
    assert bodies[-1]["fields"]["suppressed_count"] == 1_999
    # every suppressed repeat is stored too (2,000 + the other key + the digest)
    assert store.count_alerts() == 2_002
    assert len(store.deliveries([DeliveryStatus.SUPPRESSED], limit=5_000)) == 1_999


def test_info_alerts_wait_for_the_email_digest(db):
    store = AlertStore(db)
    routing = RoutingTable.from_mapping({"info": {"channels": ["email"], "mode": "digest"}})
    with SmtpSink() as sink:
        email = EmailChannel(
            host="127.0.0.1",
            port=sink.port,
            sender="zvt@x.org",
            recipients=["ops@x.org"],
            starttls=False,
        )
        with Dispatcher(store, {"email": email}, routing=routing) as dispatcher:
            for i in range(3):
                report = dispatcher.submit(make_alert(f"c{i}", Severity.INFO))
                assert report.queued == ["email"] and report.delivered == []
            assert sink.received == []
            [flushed] = dispatcher.flush()
            assert flushed.delivered == ["email"]
            assert dispatcher.flush() == []
    [mail] = sink.received
    assert "Digest: 3 alerts" in mail.message["Subject"]
    assert {d.status for d in store.deliveries()} == {DeliveryStatus.DELIVERED}


def test_user_preferences_pick_recipients(db):
    prefs = load_preferences(
        "users:\n"
        "  - {name: alice, channels: [sms], contacts: {sms: '+15550001111'}}\n"
        "  - {name: bob, channels: [sms], min_severity: critical, contacts: {sms: '+15550002222'}}\n"
    )
    store = AlertStore(db)
    routing = RoutingTable.from_mapping({"info": {"channels": ["sms"]}})
    with FakeTwilio() as twilio:
        sms = SmsChannel(
            account_sid=twilio.account_sid,
            auth_token=twilio.auth_token,
            sender="+15550000000",
            base_url=twilio.base_url,
        )
        with Dispatcher(store, {"sms": sms}, routing=routing, users=prefs) as dispatcher:
            dispatcher.submit(make_alert("warn", Severity.WARNING))
            dispatcher.submit(make_alert("crit", Severity.CRITICAL))
        sent = [(m["To"], m["Body"].split()[1]) for m in twilio.messages]
    assert sorted(sent) == [
        ("+15550001111", "BTC"),
        ("+15550001111", "BTC"),
        ("+15550002222", "BTC"),
    ]
    assert {d.recipient for d in store.deliveries()} == {"+15550001111", "+15550002222"}
