"""Throttling numbers, priority routing and user preferences, with a hand-driven clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from zvt_pipelines.alerts.alert import Alert, AlertType, Severity
from zvt_pipelines.alerts.digest import queued_digest, suppressed_digest
from zvt_pipelines.alerts.preferences import load_preferences
from zvt_pipelines.alerts.routing import DEFAULT_ROUTING, Mode, RoutingTable
from zvt_pipelines.alerts.throttle import Throttle
from zvt_pipelines.errors import AlertConfigError

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


class ManualClock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def make_alert(
    condition: str = "cross_up@100",
    severity: Severity = Severity.WARNING,
    instrument: str | None = "BTC/USDT",
    at: datetime = T0,
) -> Alert:
    return Alert(
        AlertType.PRICE_THRESHOLD,
        severity,
        f"title {condition}",
        "body",
        at,
        condition,
        instrument=instrument,
    )


def test_ten_thousand_triggers_of_one_key_in_an_hour_give_one_alert_and_one_digest():
    clock = ManualClock()
    throttle = Throttle(cooldown=timedelta(hours=1), clock=clock)
    passed = 0
    for i in range(10_000):
        clock.now = T0 + timedelta(seconds=i * 0.36)  # spread over 3,600 s
        passed += throttle.admit("slack", "", make_alert(at=clock.now))
    assert passed == 1
    assert throttle.due() == []  # the window is still open
    clock.now = T0 + timedelta(hours=1)
    [digest] = throttle.due()
    assert digest.count == 9_999 and digest.channel == "slack"
    assert digest.first_at == T0 + timedelta(seconds=0.36)
    assert throttle.due() == []  # handed out once
    text = suppressed_digest(digest)
    assert text.fields["suppressed_count"] == 9_999
    assert text.title.startswith("9999 more suppressed")


def test_distinct_keys_and_channels_are_not_suppressed():
    throttle = Throttle(cooldown=timedelta(hours=1), clock=ManualClock())
    keys = [make_alert(condition=f"cross_up@{level}") for level in range(100)]
    assert all(throttle.admit("slack", "", a) for a in keys)
    assert throttle.admit("sms", "", keys[0])  # same key, other channel
    assert throttle.admit("slack", "+1555", keys[0])  # same key, other recipient
    assert not throttle.admit("slack", "", keys[0])


def test_per_channel_cooldown_and_reopening_after_the_window():
    clock = ManualClock()
    throttle = Throttle(
        cooldown=timedelta(hours=1), cooldowns={"sms": timedelta(minutes=5)}, clock=clock
    )
    alert = make_alert()
    assert throttle.admit("sms", "", alert) and throttle.admit("slack", "", alert)
    clock.advance(minutes=1)
    assert not throttle.admit("sms", "", alert)
    clock.advance(minutes=5)
    assert throttle.admit("sms", "", alert)  # sms window elapsed, the suppressed one goes to due()
    assert not throttle.admit("slack", "", alert)
    assert [(s.channel, s.count) for s in throttle.due()] == [("sms", 1)]


def test_default_routing_by_priority_and_configured_routes():
    assert DEFAULT_ROUTING.route_for(make_alert(severity=Severity.CRITICAL)).channels == (
        "sms",
        "slack",
    )
    info = DEFAULT_ROUTING.route_for(make_alert(severity=Severity.INFO))
    assert info.channels == ("email",) and info.mode is Mode.DIGEST
    table = RoutingTable.from_mapping(
        {"high": {"channels": ["webhook"]}, "info": {"channels": ["push"], "mode": "digest"}}
    )
    assert table.route_for(make_alert(severity=Severity.CRITICAL)).channels == ("webhook",)
    assert table.route_for(make_alert(severity=Severity.WARNING)).channels == ("push",)
    with pytest.raises(AlertConfigError, match=r"critical\.channels = \['pager'\]"):
        RoutingTable.from_mapping({"critical": {"channels": ["pager"]}})
    with pytest.raises(AlertConfigError, match="urgent"):
        RoutingTable.from_mapping({"urgent": {"channels": ["sms"]}})


PREFERENCES = """
users:
  - name: alice
    channels: [slack, sms]
    min_severity: warning
    instruments: [BTC/USDT]
    quiet_hours: {start: "22:00", end: "07:00", timezone: Europe/Berlin}
    contacts: {sms: "+15550001111"}
  - name: bob
    channels: [email]
"""


def test_preferences_filter_by_channel_priority_instrument_and_quiet_hours():
    alice, bob = load_preferences(PREFERENCES)
    assert alice.min_severity is Severity.WARNING and bob.min_severity is Severity.INFO
    day = datetime(2024, 6, 1, 10, 0, tzinfo=UTC)  # 12:00 in Berlin (CEST)
    night = datetime(2024, 6, 1, 21, 30, tzinfo=UTC)  # 23:30 in Berlin
    warning = make_alert()
    assert alice.wants(warning, "slack", day)
    assert not alice.wants(warning, "email", day)  # not her channel
    assert not alice.wants(make_alert(severity=Severity.INFO), "slack", day)
    assert not alice.wants(make_alert(instrument="ETH/USDT"), "slack", day)
    assert alice.wants(make_alert(instrument=None), "slack", day)  # portfolio/system alerts
    assert not alice.wants(warning, "slack", night)
    assert alice.wants(make_alert(severity=Severity.CRITICAL), "sms", night)
    assert QuietWrap.check(alice)


class QuietWrap:
    @staticmethod
    def check(user) -> bool:
        """22:00-07:00 wraps midnight: 06:59 is quiet, 07:00 is not (Berlin time)."""
        berlin_0659 = datetime(2024, 6, 2, 4, 59, tzinfo=UTC)
        berlin_0700 = datetime(2024, 6, 2, 5, 0, tzinfo=UTC)
        return user.quiet_hours.contains(berlin_0659) and not user.quiet_hours.contains(berlin_0700)


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        (
            "users: [{name: a, channels: [slack], min_severity: urgent}]",
            r"users\.0\.min_severity = 'urgent'",
        ),
        ("users: [{name: a, channels: [pager]}]", r"users\.0\.channels = \['pager'\]"),
        (
            "users: [{name: a, channels: [sms], quiet_hours: {start: '22:00', end: '07:00', "
            "timezone: Mars/Olympus}}]",
            r"users\.0\.quiet_hours\.timezone = 'Mars/Olympus'",
        ),
        ("users: [{name: a, channels: [sms], colour: red}]", r"users\.0\.colour = 'red'"),
        ("- just a list", "expected a mapping"),
    ],
)
def test_bad_preferences_name_the_key_and_value(yaml_text, message):
    with pytest.raises(AlertConfigError, match=message):
        load_preferences(yaml_text + "\n")


def test_preferences_file_and_queued_digest(tmp_path):
    path = tmp_path / "prefs.yaml"
    path.write_text(PREFERENCES)
    assert [u.name for u in load_preferences(path)] == ["alice", "bob"]
    alerts = [make_alert("a", Severity.INFO), make_alert("b", Severity.HIGH)]
    digest = queued_digest(alerts, T0)
    assert digest.title == "Digest: 2 alerts" and digest.severity is Severity.HIGH
    assert digest.body.splitlines()[0].endswith("[HIGH] title b")


def test_the_window_closes_exactly_at_the_cooldown():
    """Cooldown 15 min from 12:00: 12:14:59.999999 is still inside (suppressed, nothing due);
    12:15:00 exactly is outside: the alert passes again and the one suppressed before is
    handed out as a summary."""
    clock = ManualClock()
    throttle = Throttle(cooldown=timedelta(minutes=15), clock=clock)
    alert = make_alert()
    assert throttle.admit("email", "", alert)
    clock.now = T0 + timedelta(minutes=15) - timedelta(microseconds=1)
    assert not throttle.admit("email", "", alert)
    assert throttle.due() == [] and throttle.pending_count() == 1
    clock.now = T0 + timedelta(minutes=15)
    assert throttle.admit("email", "", alert)
    [summary] = throttle.due()
    assert (summary.count, summary.first_at, summary.last_at) == (
        1,
        T0 + timedelta(minutes=15) - timedelta(microseconds=1),
        T0 + timedelta(minutes=15) - timedelta(microseconds=1),
    )
    assert throttle.pending_count() == 0


def test_due_closes_each_channel_at_its_own_cooldown():
    """sms cools down in 5 min, the default in 60: at exactly 12:05 only the sms window is
    due (one suppressed trigger); the slack window stays open and keeps counting."""
    clock = ManualClock()
    throttle = Throttle(
        cooldown=timedelta(hours=1), cooldowns={"sms": timedelta(minutes=5)}, clock=clock
    )
    alert = make_alert()
    for channel in ("sms", "slack"):
        assert throttle.admit(channel, "+1555", alert)
    clock.advance(minutes=1)
    assert not throttle.admit("sms", "+1555", alert)
    assert not throttle.admit("slack", "+1555", alert)
    clock.now = T0 + timedelta(minutes=5)
    [summary] = throttle.due()
    assert (summary.channel, summary.recipient, summary.count) == ("sms", "+1555", 1)
    assert summary.dedup_key == alert.dedup_key and summary.sample == alert
    assert throttle.pending_count() == 1  # slack's window is still open
    assert throttle.cooldown_for("sms") == timedelta(minutes=5)
    assert throttle.cooldown_for("slack") == timedelta(hours=1)


def test_zero_cooldown_passes_everything_and_negative_is_refused():
    clock = ManualClock()
    throttle = Throttle(cooldown=timedelta(0), clock=clock)
    assert all(throttle.admit("slack", "", make_alert()) for _ in range(3))
    assert throttle.due() == []
    with pytest.raises(AlertConfigError, match=r"cooldown for 'sms' datetime.timedelta\(days=-1"):
        Throttle(cooldowns={"sms": timedelta(seconds=-1)})
    with pytest.raises(AlertConfigError, match="cooldown for 'default'"):
        Throttle(cooldown=timedelta(seconds=-1))
