"""Priority routing: which channels an alert of a given severity goes to, now or in a digest.

A route applies to alerts at or above its `min_severity`; the most specific (highest) route
that applies wins. The default sends CRITICAL to SMS and Slack at once, HIGH to Slack and
email, WARNING to Slack, and INFO into an email digest.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from zvt_pipelines.alerts.alert import Alert, Severity
from zvt_pipelines.alerts.config_errors import config_error

CHANNEL_NAMES = ("email", "slack", "discord", "sms", "webhook", "push")


class Mode(StrEnum):
    """Send at once, or queue for the next digest."""

    IMMEDIATE = "immediate"
    DIGEST = "digest"


@dataclass(frozen=True)
class Route:
    min_severity: Severity
    channels: tuple[str, ...]
    mode: Mode = Mode.IMMEDIATE


class _RouteModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channels: list[str]
    mode: Mode = Mode.IMMEDIATE

    @field_validator("channels")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c not in CHANNEL_NAMES]
        if unknown:
            raise ValueError(f"unknown channel(s) {unknown}; expected from {list(CHANNEL_NAMES)}")
        return value


class _RoutingModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    info: _RouteModel | None = None
    warning: _RouteModel | None = None
    high: _RouteModel | None = None
    critical: _RouteModel | None = None


class RoutingTable:
    """Severity-ordered routes; `routes_for(alert)` gives the winning route's channels and mode."""

    def __init__(self, routes: list[Route]) -> None:
        self.routes = sorted(routes, key=lambda r: r.min_severity, reverse=True)

    def route_for(self, alert: Alert) -> Route | None:
        """The highest route whose minimum the alert meets, or None (the alert is only stored)."""
        return next((r for r in self.routes if alert.severity >= r.min_severity), None)

    def channels_for(self, severity: Severity) -> tuple[str, ...]:
        """The channels of the route an alert of `severity` takes (empty when none applies)."""
        route = next((r for r in self.routes if r.min_severity <= severity), None)
        return route.channels if route else ()

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> RoutingTable:
        """Build from `{severity: {channels: [...], mode: immediate|digest}}`, validated."""
        try:
            model = _RoutingModel.model_validate(dict(config))
        except ValidationError as exc:
            raise config_error("alert routing", exc) from None
        routes = [
            Route(Severity.parse(name), tuple(route.channels), route.mode)
            for name, route in model
            if route is not None
        ]
        return cls(routes)


DEFAULT_ROUTING = RoutingTable(
    [
        Route(Severity.CRITICAL, ("sms", "slack")),
        Route(Severity.HIGH, ("slack", "email")),
        Route(Severity.WARNING, ("slack",)),
        Route(Severity.INFO, ("email",), Mode.DIGEST),
    ]
)


def critical_fallback(routing: RoutingTable, configured: Collection[str]) -> list[str] | None:
    """The channels a critical alert falls back to when none of its routed channels is
    configured (every configured one, sorted); None when a routed channel is configured."""
    if any(c in configured for c in routing.channels_for(Severity.CRITICAL)):
        return None
    return sorted(configured)
