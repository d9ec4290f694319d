"""The dispatcher: stores each alert, routes it, throttles it and delivers it on every channel.

Flow of `submit(alert)`:
1. an occurrence already stored (same fingerprint) is ignored, so re-evaluating a tick never
   alerts twice;
2. routing picks channels by severity (immediate or digest), a critical alert falling back
   to every configured channel when none of its own is; user preferences pick the
   recipients on them; the throttle folds repeats of a dedup key per channel;
3. the alert and one delivery row per target (`suppressed` where the throttle held it back)
   are stored in one transaction;
4. immediate deliveries run in parallel, each with its own retry/backoff policy, so a channel
   that is down delays nobody else. What stays undelivered is stored as failed and
   `retry_undelivered()` sends it later; a conditional claim makes every delivery go out once.

`flush()` sends the throttle digests of elapsed windows and the queued (digest-routed) alerts.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from zvt_pipelines.alerts.alert import Alert, Severity
from zvt_pipelines.alerts.channels.base import Channel, Message
from zvt_pipelines.alerts.charts import price_chart_png
from zvt_pipelines.alerts.clock import Clock, utc_now
from zvt_pipelines.alerts.digest import queued_digest, suppressed_digest
from zvt_pipelines.alerts.preferences import UserPreferences
from zvt_pipelines.alerts.routing import DEFAULT_ROUTING, Mode, RoutingTable
from zvt_pipelines.alerts.store import AlertStore, DeliveryStatus, StoredDelivery, Target
from zvt_pipelines.alerts.throttle import Throttle
from zvt_pipelines.alerts.throttle_store import StoredThrottle
from zvt_pipelines.errors import AlertConfigError, ChannelError

log = logging.getLogger(__name__)
_NOT_CLAIMED = "not claimed: another sender owns this delivery"


@dataclass(frozen=True)
class RetryPolicy:
    """`attempts` tries with exponential backoff: initial_delay, x factor, capped at max_delay."""

    attempts: int = 3
    initial_delay: float = 0.2
    factor: float = 2.0
    max_delay: float = 5.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.initial_delay < 0 or self.factor < 1:
            raise AlertConfigError(
                f"retry policy attempts={self.attempts!r}, initial_delay={self.initial_delay!r}, "
                f"factor={self.factor!r}: need attempts >= 1, delay >= 0, factor >= 1"
            )

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        return min(self.max_delay, self.initial_delay * self.factor ** (attempt - 1))


@dataclass
class DispatchReport:
    """What happened to one alert: targets are named `channel` or `channel:recipient`."""

    alert_id: int | None = None
    duplicate: bool = False
    delivered: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    queued: list[str] = field(default_factory=list)
    suppressed: list[str] = field(default_factory=list)


def _label(channel: str, recipient: str) -> str:
    return f"{channel}:{recipient}" if recipient else channel


class Dispatcher:
    """Routes, throttles, stores and delivers alerts over the configured channels."""

    def __init__(
        self,
        store: AlertStore,
        channels: Mapping[str, Channel],
        *,
        routing: RoutingTable = DEFAULT_ROUTING,
        throttle: Throttle | StoredThrottle | None = None,
        users: Sequence[UserPreferences] = (),
        retry: RetryPolicy = RetryPolicy(),
        retries: Mapping[str, RetryPolicy] | None = None,
        clock: Clock = utc_now,
        sleep: Callable[[float], None] = time.sleep,
        charts: bool = True,
    ) -> None:
        self.store = store
        self.channels = dict(channels)
        self.routing = routing
        self.throttle = throttle
        self.users = list(users)
        self.retry = retry
        self.retries = dict(retries or {})
        self.clock = clock
        self.sleep = sleep
        self.charts = charts
        self._pool = ThreadPoolExecutor(
            max_workers=max(4, 2 * len(self.channels)), thread_name_prefix="zvt-alerts"
        )

    def close(self) -> None:
        """Stop the delivery threads (waits for deliveries in flight)."""
        self._pool.shutdown(wait=True)

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def targets(self, alert: Alert) -> list[Target]:
        """Where the alert goes: routed channels that are configured, per interested user.

        A critical alert whose routed channels are none of the configured ones goes to every
        configured channel instead (see `routing.critical_fallback`), so it is never dropped.
        """
        route = self.routing.route_for(alert)
        if route is None:
            return []
        queued = route.mode is Mode.DIGEST
        now = self.clock()
        channels = [c for c in route.channels if c in self.channels]
        if not channels and alert.severity >= Severity.CRITICAL:
            channels = sorted(self.channels)
        found: dict[tuple[str, str], Target] = {}
        for channel in channels:
            if not self.users:
                found[(channel, "")] = Target(channel, "", queued)
            for user in self.users:
                if user.wants(alert, channel, now):
                    recipient = user.contacts.get(channel, "")
                    found[(channel, recipient)] = Target(channel, recipient, queued)
        return list(found.values())

    def submit(self, alert: Alert) -> DispatchReport:
        """Store and deliver one alert (see the module docstring); never raises for a channel."""
        report = DispatchReport()
        if self.store.exists(alert):
            report.duplicate = True
            return report
        targets, suppressed = [], []
        for target in self.targets(alert):
            if self.throttle is None or self.throttle.admit(
                target.channel, target.recipient, alert
            ):
                targets.append(target)
            else:
                suppressed.append(target)
        report.suppressed = [_label(t.channel, t.recipient) for t in suppressed]
        stored = self.store.add(alert, targets, suppressed)
        if stored is None:
            report.duplicate = True
            return report
        report.alert_id, delivery_ids = stored
        report.queued = [_label(t.channel, t.recipient) for t in targets if t.queued]
        now_ids = [(d, t) for d, t in zip(delivery_ids, targets, strict=True) if not t.queued]
        chart = self._chart(alert, [t.channel for _, t in now_ids])
        jobs = [
            (
                t,
                self._pool.submit(
                    self._deliver, d, t.channel, Message(alert, report.alert_id, t.recipient, chart)
                ),
            )
            for d, t in now_ids
        ]
        for target, job in jobs:
            error = job.result()
            label = _label(target.channel, target.recipient)
            if error is None:
                report.delivered.append(label)
            elif error != _NOT_CLAIMED:
                report.failed[label] = error
        return report

    def flush(self) -> list[DispatchReport]:
        """Send throttle digests of elapsed windows, then one digest per queued channel/recipient."""
        reports = []
        for suppressed in self.throttle.due() if self.throttle else []:
            digest = suppressed_digest(suppressed)
            target = Target(suppressed.channel, suppressed.recipient)
            reports.append(self._submit_to(digest, [target]))
            self.throttle.digested(suppressed)
        groups: dict[tuple[str, str], list[StoredDelivery]] = defaultdict(list)
        for row in self.store.deliveries([DeliveryStatus.QUEUED]):
            groups[(row.channel, row.recipient)].append(row)
        for (channel, recipient), rows in groups.items():
            reports.append(self._send_digest(channel, recipient, rows))
        return reports

    def retry_undelivered(self) -> DispatchReport:
        """Try every pending or failed delivery again (each goes out at most once)."""
        report = DispatchReport()
        rows = self.store.deliveries(
            [DeliveryStatus.PENDING, DeliveryStatus.FAILED, DeliveryStatus.SENDING]
        )
        rows = [r for r in rows if r.channel in self.channels]
        jobs = [
            (
                r,
                self._pool.submit(
                    self._deliver,
                    r.delivery_id,
                    r.channel,
                    Message(r.alert, r.alert_id, r.recipient, self._chart(r.alert, [r.channel])),
                ),
            )
            for r in rows
        ]
        for row, job in jobs:
            error = job.result()
            label = f"{row.alert_id}/{_label(row.channel, row.recipient)}"
            if error is None:
                report.delivered.append(label)
            elif error != _NOT_CLAIMED:
                report.failed[label] = error
        return report

    def _submit_to(self, alert: Alert, targets: list[Target]) -> DispatchReport:
        """Store and deliver an alert to fixed targets, bypassing routing and the throttle."""
        report = DispatchReport()
        stored = self.store.add(alert, targets)
        if stored is None:
            report.duplicate = True
            return report
        report.alert_id, ids = stored
        chart = self._chart(alert, [t.channel for t in targets])
        for delivery_id, target in zip(ids, targets, strict=True):
            message = Message(alert, report.alert_id, target.recipient, chart)
            error = self._deliver(delivery_id, target.channel, message)
            label = _label(target.channel, target.recipient)
            if error is None:
                report.delivered.append(label)
            else:
                report.failed[label] = error
        return report

    def _send_digest(
        self, channel: str, recipient: str, rows: list[StoredDelivery]
    ) -> DispatchReport:
        report = DispatchReport()
        label = _label(channel, recipient)
        owned = set(self.store.claim_queued([r.delivery_id for r in rows]))
        alerts = [r.alert for r in rows if r.delivery_id in owned]
        if not alerts or channel not in self.channels:
            return report
        digest = queued_digest(alerts, self.clock())
        attempts, error = self._send_with_retries(channel, Message(digest, None, recipient, None))
        self.store.finish(sorted(owned), attempts, error, requeue=error is not None)
        if error is None:
            report.delivered.append(label)
        else:
            report.failed[label] = error
        return report

    def _chart(self, alert: Alert, channels: list[str]) -> bytes | None:
        wanted = any(getattr(self.channels.get(c), "supports_chart", False) for c in channels)
        return price_chart_png(alert) if self.charts and wanted else None

    def _deliver(self, delivery_id: int, channel: str, message: Message) -> str | None:
        """Claim, send with retries and record one delivery; the error text, or None when sent."""
        if not self.store.claim(delivery_id):
            return _NOT_CLAIMED
        attempts, error = self._send_with_retries(channel, message)
        self.store.finish([delivery_id], attempts, error)
        return error

    def _send_with_retries(self, channel: str, message: Message) -> tuple[int, str | None]:
        """(attempts made, last error or None) after trying the channel per its retry policy."""
        policy = self.retries.get(channel, self.retry)
        error = None
        for attempt in range(1, policy.attempts + 1):
            try:
                self.channels[channel].send(message)
                return attempt, None
            except ChannelError as exc:
                error = str(exc)
                log.warning(
                    "alert delivery attempt %d/%d failed: %s", attempt, policy.attempts, error
                )
                if not exc.retryable:
                    return attempt, error
            except Exception as exc:  # noqa: BLE001 - a broken channel must not stop the others
                log.exception("channel %r raised unexpectedly", channel)
                return attempt, f"channel {channel!r}: {type(exc).__name__}: {exc}"
            if attempt < policy.attempts:
                self.sleep(policy.delay(attempt))
        return policy.attempts, error
