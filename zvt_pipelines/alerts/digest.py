"""Digest alerts: one message that stands for many (suppressed repeats or queued low-priority alerts)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from zvt_pipelines.alerts.alert import Alert
from zvt_pipelines.alerts.throttle import Suppressed

MAX_LINES = 50


def suppressed_digest(suppressed: Suppressed) -> Alert:
    """The digest of one throttle window: how many repeats of the key were held back, and when."""
    sample = suppressed.sample
    return Alert(
        type=sample.type,
        severity=sample.severity,
        title=f"{suppressed.count} more suppressed: {sample.title}",
        body=f"{suppressed.count} further alerts '{suppressed.dedup_key}' were suppressed between "
        f"{suppressed.first_at.isoformat()} and {suppressed.last_at.isoformat()}. "
        f"Latest: {sample.body}",
        at=suppressed.last_at,
        condition=f"digest/{sample.condition}",
        instrument=sample.instrument,
        value=sample.value,
        threshold=sample.threshold,
        recent_prices=sample.recent_prices,
        positions=sample.positions,
        fields={
            "suppressed_count": suppressed.count,
            "suppressed_key": suppressed.dedup_key,
            "first_at": suppressed.first_at.isoformat(),
            "last_at": suppressed.last_at.isoformat(),
        },
    )


def queued_digest(alerts: Sequence[Alert], at: datetime) -> Alert:
    """One digest alert listing queued alerts (most severe first), stamped `at`."""
    if not alerts:
        raise ValueError("a digest needs at least one alert")
    ordered = sorted(alerts, key=lambda a: (-a.severity, a.at))
    lines = [f"- {a.at:%Y-%m-%d %H:%M} {a.summary()}" for a in ordered[:MAX_LINES]]
    if len(ordered) > MAX_LINES:
        lines.append(f"... and {len(ordered) - MAX_LINES} more")
    top = ordered[0]
    return Alert(
        type=top.type,
        severity=top.severity,
        title=f"Digest: {len(alerts)} alert{'s' if len(alerts) != 1 else ''}",
        body="\n".join(lines),
        at=at,
        condition=f"queued_digest/{at.isoformat()}",
        fields={"count": len(alerts), "titles": [a.title for a in ordered[:MAX_LINES]]},
    )
