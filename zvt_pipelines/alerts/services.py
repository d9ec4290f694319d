"""What the `zvt alerts ...` CLI commands do: send a test alert, list stored alerts, check the
channel configuration against the routing."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from zvt_pipelines.alerts.alert import Alert, AlertType, Severity
from zvt_pipelines.alerts.channels.registry import MARKERS, channels_from_env
from zvt_pipelines.alerts.clock import utc_now
from zvt_pipelines.alerts.dispatcher import Dispatcher, DispatchReport
from zvt_pipelines.alerts.routing import DEFAULT_ROUTING, Route, RoutingTable, critical_fallback
from zvt_pipelines.alerts.store import AlertStore
from zvt_pipelines.errors import AlertConfigError
from zvt_pipelines.storage import alert_models  # noqa: F401 - registers the alert tables
from zvt_pipelines.storage.database import Database


def send_test_alert(
    db: Database, channel: str, env: Mapping[str, str] = os.environ
) -> DispatchReport:
    """Store and send one INFO test alert on `channel` only, bypassing routing and throttling.

    Raises AlertConfigError naming the variable to set when the channel is not configured.
    """
    if channel not in MARKERS:
        raise AlertConfigError(f"channel {channel!r}: expected one of {sorted(MARKERS)}")
    channels = channels_from_env(env)
    if channel not in channels:
        raise AlertConfigError(
            f"channel {channel!r} is not configured: set {MARKERS[channel][0]} (see README)"
        )
    now = utc_now()
    alert = Alert(
        type=AlertType.SYSTEM_ERROR,
        severity=Severity.INFO,
        title=f"zvt test alert on {channel}",
        body=f"This is a test of the {channel} alert channel, sent at {now.isoformat()}.",
        at=now,
        condition=f"test/{channel}",
        fields={"test": True},
    )
    routing = RoutingTable([Route(Severity.INFO, (channel,))])
    with Dispatcher(AlertStore(db), {channel: channels[channel]}, routing=routing) as dispatcher:
        return dispatcher.submit(alert)


@dataclass(frozen=True)
class AlertRow:
    """One stored alert with a compact delivery summary, as `zvt alerts list` prints it."""

    alert_id: int
    alert: Alert
    deliveries: str


def list_alerts(db: Database, limit: int = 20) -> list[AlertRow]:
    """The newest `limit` stored alerts with 'channel=status' for each delivery."""
    store = AlertStore(db)
    rows = []
    for alert_id, alert in store.recent_alerts(limit):
        deliveries = store.deliveries(alert_id=alert_id)
        summary = ", ".join(
            f"{d.channel}{':' + d.recipient if d.recipient else ''}={d.status.value}"
            for d in deliveries
        )
        rows.append(AlertRow(alert_id, alert, summary or "-"))
    return rows


def format_alert_rows(rows: list[AlertRow]) -> str:
    """A plain-text table: id, time, severity, type, title, deliveries."""
    if not rows:
        return "no alerts stored"
    lines = [f"{'id':>6}  {'at (UTC)':19}  {'severity':8}  {'type':16}  title  [deliveries]"]
    for row in rows:
        a = row.alert
        lines.append(
            f"{row.alert_id:>6}  {a.at:%Y-%m-%d %H:%M:%S}  {a.severity.name:8}  "
            f"{a.type.value:16}  {a.title}  [{row.deliveries}]"
        )
    return "\n".join(lines)


@dataclass(frozen=True)
class AlertingCheck:
    """What `zvt alerts check` reports: configured channels, critical routing and warnings."""

    configured: list[str]
    critical_channels: list[str]
    critical_fallback: list[str] | None
    warnings: list[str]

    @property
    def ok(self) -> bool:
        """True when a critical alert reaches at least one channel."""
        return bool(self.configured)

    @property
    def critical_targets(self) -> list[str]:
        """The configured channels a critical alert actually reaches."""
        if self.critical_fallback is not None:
            return self.critical_fallback
        return [c for c in self.critical_channels if c in self.configured]

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "configured": self.configured,
            "critical_channels": self.critical_channels,
            "critical_fallback": self.critical_fallback,
            "critical_targets": self.critical_targets,
            "warnings": self.warnings,
        }


def check_alerting(
    env: Mapping[str, str] = os.environ, routing: RoutingTable = DEFAULT_ROUTING
) -> AlertingCheck:
    """Check the channel configuration against the routing: a critical alert must reach someone.

    Warns when no critical channel is configured (critical alerts then fall back to every
    configured channel) and when no channel is configured at all (alerts are only stored).
    """
    configured = sorted(channels_from_env(env))
    routed = list(routing.channels_for(Severity.CRITICAL))
    fallback = critical_fallback(routing, configured)
    warnings = []
    if not configured:
        warnings.append(
            "no alert channel is configured: alerts are stored but reach nobody "
            "(set e.g. ZVT_SMTP_HOST or ZVT_WEBHOOK_URL, see README)"
        )
    elif fallback is not None:
        warnings.append(
            f"critical alerts route to {', '.join(routed) or 'no channel'}, none of which is "
            f"configured: they fall back to every configured channel ({', '.join(fallback)})"
        )
    return AlertingCheck(configured, routed, fallback if configured else None, warnings)
