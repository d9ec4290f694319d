"""Every channel end to end with its real client library against a local fake on 127.0.0.1."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.fakes.slack_api import FakeSlack
from tests.fakes.smtp_sink import SmtpSink
from tests.fakes.smtp_tls import TlsSmtpServer
from tests.fakes.twilio_api import FakeTwilio
from tests.fakes.webhook_sink import RecordingServer, signature_valid
from zvt_pipelines.alerts.alert import Alert, AlertType, Severity
from zvt_pipelines.alerts.channels.base import Message
from zvt_pipelines.alerts.channels.discord import DiscordChannel
from zvt_pipelines.alerts.channels.email import EmailChannel
from zvt_pipelines.alerts.channels.push import PushChannel
from zvt_pipelines.alerts.channels.registry import channels_from_env
from zvt_pipelines.alerts.channels.slack import SlackChannel
from zvt_pipelines.alerts.channels.sms import SmsChannel
from zvt_pipelines.alerts.channels.webhook import WebhookChannel, verify, webhook_body
from zvt_pipelines.alerts.charts import price_chart_png
from zvt_pipelines.errors import AlertConfigError, ChannelError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def alert() -> Alert:
    return Alert(
        type=AlertType.PRICE_THRESHOLD,
        severity=Severity.CRITICAL,
        title="BTC/USDT crossed above 50000",
        body="BTC/USDT moved from 49900 to 50100, crossing above 50000.",
        at=datetime(2024, 3, 4, 12, 0, tzinfo=UTC),
        condition="cross_up@50000",
        instrument="BTC/USDT",
        value=50100.0,
        threshold=50000.0,
        recent_prices=(49500.0, 49700.0, 49900.0, 50100.0),
    )


def test_email_is_html_with_the_chart_inline(alert):
    chart = price_chart_png(alert)
    assert chart is not None and chart.startswith(PNG_MAGIC)
    with SmtpSink() as sink:
        channel = EmailChannel(
            host="127.0.0.1",
            port=sink.port,
            sender="zvt@example.org",
            recipients=["ops@example.org"],
            starttls=False,
        )
        channel.send(Message(alert, 7, "", chart))
    [envelope] = sink.received
    assert envelope.recipients == ["ops@example.org"]
    mail = envelope.message
    assert "BTC/USDT crossed above 50000" in mail["Subject"]
    html_part = mail.get_body(preferencelist=("html",))
    html = html_part.get_content()
    image = next(p for p in mail.walk() if p.get_content_type() == "image/png")
    cid = image["Content-ID"].strip("<>")
    assert f'src="cid:{cid}"' in html
    assert image.get_content() == chart
    assert "50100" in mail.get_body(preferencelist=("plain",)).get_content()


def test_slack_chat_post_message_with_blocks(alert):
    with FakeSlack() as slack:
        SlackChannel(token=slack.token, channel="#alerts", base_url=slack.api_base).send(
            Message(alert)
        )
        [posted] = slack.posted
    assert posted["channel"] == "#alerts"
    assert posted["text"].startswith("[CRITICAL] BTC/USDT crossed above 50000")
    assert [b["type"] for b in posted["blocks"]] == ["header", "section", "context"]
    assert "value 50100 vs 50000" in posted["blocks"][2]["elements"][0]["text"]


def test_slack_bad_token_is_not_retryable(alert):
    with FakeSlack() as slack:
        channel = SlackChannel(token="xoxb-wrong", channel="#alerts", base_url=slack.api_base)
        with pytest.raises(ChannelError, match="invalid_auth") as raised:
            channel.send(Message(alert))
    assert raised.value.retryable is False
    assert "xoxb-wrong" not in str(raised.value)


def test_sms_through_the_twilio_sdk(alert):
    with FakeTwilio() as twilio:
        channel = SmsChannel(
            account_sid=twilio.account_sid,
            auth_token=twilio.auth_token,
            sender="+15550000000",
            recipients=["+15551112222", "+15553334444"],
            base_url=twilio.base_url,
        )
        channel.send(Message(alert))
        messages = twilio.messages
    assert [m["To"] for m in messages] == ["+15551112222", "+15553334444"]
    assert all(m["From"] == "+15550000000" for m in messages)
    assert messages[0]["Body"].startswith("[CRITICAL] BTC/USDT crossed above 50000")
    assert len(messages[0]["Body"]) <= 160


def test_sms_wrong_credentials_fail_without_retry(alert):
    with FakeTwilio() as twilio:
        channel = SmsChannel(
            account_sid=twilio.account_sid,
            auth_token="wrong",
            sender="+1",
            recipients=["+2"],
            base_url=twilio.base_url,
        )
        with pytest.raises(ChannelError, match="401") as raised:
            channel.send(Message(alert))
    assert raised.value.retryable is False


def test_webhook_payload_is_signed_and_verifiable(alert):
    with RecordingServer() as sink:
        WebhookChannel(url=f"{sink.base_url}/hook", secret="s3cret").send(Message(alert, 42))
    [received] = sink.accepted
    assert received.path == "/hook"
    assert signature_valid("s3cret", received)
    assert not signature_valid("other", received)
    assert verify("s3cret", received.body, received.headers["X-ZVT-Signature"])
    payload = received.json()
    assert payload["alert_id"] == 42
    assert payload["dedup_key"] == "price_threshold:BTC/USDT:cross_up@50000"
    assert payload["recent_prices"] == [49500.0, 49700.0, 49900.0, 50100.0]
    assert received.body == webhook_body(Message(alert, 42))


def test_webhook_server_errors_are_retryable_client_errors_are_not(alert):
    with RecordingServer() as sink:
        channel = WebhookChannel(url=f"{sink.base_url}/hook", secret="s")
        sink.fail_next(500, 404)
        with pytest.raises(ChannelError, match="HTTP 500") as first:
            channel.send(Message(alert))
        with pytest.raises(ChannelError, match="HTTP 404") as second:
            channel.send(Message(alert))
    assert first.value.retryable and not second.value.retryable
    unreachable = WebhookChannel(url="http://127.0.0.1:9/hook", secret="s", timeout=1)
    with pytest.raises(ChannelError, match="cannot reach") as third:
        unreachable.send(Message(alert))
    assert third.value.retryable


def test_discord_webhook_content_and_embed(alert):
    with RecordingServer() as discord:
        url = f"{discord.base_url}/api/webhooks/123/token-abc"
        DiscordChannel(webhook_url=url).send(Message(alert))
    [received] = discord.accepted
    payload = received.json()
    assert received.path == "/api/webhooks/123/token-abc"
    assert payload["content"].startswith("[CRITICAL]")
    [embed] = payload["embeds"]
    assert embed["title"] == alert.title and embed["color"] == 0xE74C3C
    assert {"name": "instrument", "value": "BTC/USDT", "inline": True} in embed["fields"]


def test_push_to_an_ntfy_topic(alert):
    with RecordingServer() as ntfy:
        PushChannel(url=f"{ntfy.base_url}/zvt-alerts", token="tk").send(Message(alert))
    [received] = ntfy.accepted
    assert received.path == "/zvt-alerts"
    assert received.headers["Title"] == alert.title
    assert received.headers["Priority"] == "5"
    assert received.headers["Authorization"] == "Bearer tk"
    assert received.body.decode() == alert.body


def test_channels_from_env_builds_what_is_configured_and_names_what_is_missing():
    env = {
        "ZVT_SLACK_TOKEN": "xoxb-1",
        "ZVT_SLACK_CHANNEL": "#a",
        "ZVT_WEBHOOK_URL": "http://127.0.0.1:1/h",
        "ZVT_WEBHOOK_SECRET": "s",
    }
    channels = channels_from_env(env)
    assert sorted(channels) == ["slack", "webhook"]
    assert "xoxb-1" not in repr(channels["slack"]) and "'s'" not in repr(channels["webhook"])
    with pytest.raises(AlertConfigError, match="ZVT_TWILIO_AUTH_TOKEN, ZVT_TWILIO_FROM"):
        channels_from_env({"ZVT_TWILIO_ACCOUNT_SID": "AC1", "ZVT_TWILIO_TO": "+1"})
    with pytest.raises(AlertConfigError, match="ZVT_SMTP_PORT='abc'"):
        channels_from_env(
            {
                "ZVT_SMTP_HOST": "h",
                "ZVT_ALERT_EMAIL_FROM": "a",
                "ZVT_ALERT_EMAIL_TO": "b",
                "ZVT_SMTP_PORT": "abc",
            }
        )
    assert json.dumps(sorted(channels_from_env({}))) == "[]"


def test_cli_functions_send_a_test_alert_and_list_it(tmp_path):
    from zvt_pipelines.alerts.services import format_alert_rows, list_alerts, send_test_alert
    from zvt_pipelines.storage.database import Database

    db = Database(f"sqlite:///{tmp_path}/zvt.db")
    db.upgrade()
    with pytest.raises(AlertConfigError, match="set ZVT_SLACK_TOKEN"):
        send_test_alert(db, "slack", env={})
    with FakeSlack() as slack:
        env = {
            "ZVT_SLACK_TOKEN": slack.token,
            "ZVT_SLACK_CHANNEL": "#ops",
            "ZVT_SLACK_BASE_URL": slack.api_base,
        }
        report = send_test_alert(db, "slack", env=env)
        assert report.delivered == ["slack"] and len(slack.posted) == 1
    [row] = list_alerts(db)
    assert row.deliveries == "slack=delivered"
    assert "zvt test alert on slack" in format_alert_rows([row])
    db.dispose()


SMTP_USER, SMTP_PASSWORD = "alerts@example.org", "s3cret-Pass"


def smtp_env(server: TlsSmtpServer, password: str = SMTP_PASSWORD, **extra: str) -> dict:
    """The environment a user sets for email alerts over STARTTLS with a login."""
    return {
        "ZVT_SMTP_HOST": "127.0.0.1",
        "ZVT_SMTP_PORT": str(server.port),
        "ZVT_ALERT_EMAIL_FROM": "zvt@example.org",
        "ZVT_ALERT_EMAIL_TO": "ops@example.org, risk@example.org",
        "ZVT_SMTP_USER": SMTP_USER,
        "ZVT_SMTP_PASSWORD": password,
        "ZVT_SMTP_TIMEOUT": "10",
    } | extra


@pytest.fixture
def tls_smtp(tmp_path, monkeypatch):
    """A STARTTLS-only SMTP server with one account; the client trusts its throwaway CA
    through SSL_CERT_FILE, read by `ssl.create_default_context()` as OpenSSL documents."""
    with TlsSmtpServer(tmp_path, SMTP_USER, SMTP_PASSWORD) as server:
        monkeypatch.setenv("SSL_CERT_FILE", str(server.ca_file))
        yield server


def test_email_over_starttls_with_login_arrives(alert, tls_smtp):
    channel = channels_from_env(smtp_env(tls_smtp))["email"]
    assert channel.starttls and "s3cret" not in repr(channel)
    channel.send(Message(alert, 1, "", None))
    [delivery] = tls_smtp.received
    assert delivery.login == SMTP_USER and delivery.cipher is not None  # over TLS, logged in
    assert delivery.recipients == ["ops@example.org", "risk@example.org"]
    assert "BTC/USDT crossed above 50000" in delivery.message["Subject"]
    assert tls_smtp.accounts.attempts  # the server checked the password


def test_email_wrong_password_is_a_login_error_not_retried(alert, tls_smtp):
    channel = channels_from_env(smtp_env(tls_smtp, password="wrong"))["email"]
    with pytest.raises(ChannelError) as caught:
        channel.send(Message(alert, 1, "", None))
    assert str(caught.value) == "channel 'email': SMTP login refused (535)"
    assert caught.value.retryable is False and tls_smtp.received == []


def test_email_without_starttls_is_refused_by_a_server_that_requires_it(alert, tls_smtp):
    env = smtp_env(tls_smtp, ZVT_SMTP_STARTTLS="false")
    env.pop("ZVT_SMTP_USER")
    with pytest.raises(ChannelError, match="SMTP 530") as caught:
        channels_from_env(env)["email"].send(Message(alert, 1, "", None))
    assert caught.value.retryable is False and tls_smtp.received == []


def test_email_refuses_a_server_certificate_it_does_not_trust(alert, tls_smtp, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_smtp.ca_file.with_name("missing.pem")))
    with pytest.raises(ChannelError, match="CERTIFICATE_VERIFY_FAILED"):
        channels_from_env(smtp_env(tls_smtp))["email"].send(Message(alert, 1, "", None))
    assert tls_smtp.received == []
