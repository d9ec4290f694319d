"""Per-user alert preferences (channels, quiet hours in a timezone, minimum priority,
instruments, contact addresses), loaded from YAML or a dict and validated with pydantic.

Example::

    users:
      - name: alice
        channels: [slack, sms]
        min_severity: warning
        instruments: [BTC/USDT]
        quiet_hours: {start: "22:00", end: "07:00", timezone: Europe/Berlin}
        contacts: {sms: "+15550001111"}
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from zvt_pipelines.alerts.alert import Alert, Severity
from zvt_pipelines.alerts.config_errors import config_error
from zvt_pipelines.alerts.routing import CHANNEL_NAMES
from zvt_pipelines.errors import AlertConfigError


class QuietHours(BaseModel):
    """A daily span in a timezone when only CRITICAL alerts (if `allow_critical`) get through."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    start: time
    end: time
    timezone: str = "UTC"
    allow_critical: bool = True

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r}") from None
        return value

    def contains(self, moment: datetime) -> bool:
        """True when `moment` falls inside the quiet span (spans may wrap past midnight)."""
        local = moment.astimezone(ZoneInfo(self.timezone)).time()
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


class UserPreferences(BaseModel):
    """One user's alert preferences; `contacts` maps a channel to this user's address on it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    channels: list[str]
    min_severity: Severity = Severity.INFO
    quiet_hours: QuietHours | None = None
    instruments: list[str] | None = None
    contacts: dict[str, str] = {}

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c not in CHANNEL_NAMES]
        if unknown:
            raise ValueError(f"unknown channel(s) {unknown}; expected from {list(CHANNEL_NAMES)}")
        return value

    @field_validator("min_severity", mode="before")
    @classmethod
    def _severity(cls, value: Any) -> Severity:
        try:
            return Severity.parse(value)
        except AlertConfigError as exc:
            raise ValueError(str(exc)) from None

    def wants(self, alert: Alert, channel: str, now: datetime) -> bool:
        """Whether this user receives `alert` on `channel` at `now`.

        Alerts without an instrument (portfolio, system) pass the instrument filter.
        """
        if channel not in self.channels or alert.severity < self.min_severity:
            return False
        if (
            self.instruments is not None
            and alert.instrument is not None
            and alert.instrument not in self.instruments
        ):
            return False
        if self.quiet_hours is not None and self.quiet_hours.contains(now):
            return self.quiet_hours.allow_critical and alert.severity >= Severity.CRITICAL
        return True


class _PreferencesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    users: list[UserPreferences]


def load_preferences(source: Mapping[str, Any] | str | Path) -> list[UserPreferences]:
    """Users from a mapping `{users: [...]}`, a YAML file path, or YAML text.

    A bad field raises AlertConfigError naming the key path and the offending value.
    """
    name = "alert preferences"
    if isinstance(source, Path) or (
        isinstance(source, str) and "\n" not in source and source.endswith((".yaml", ".yml"))
    ):
        path = Path(source)
        name = str(path)
        try:
            source = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise AlertConfigError(f"{name}: cannot be read ({exc})") from None
    elif isinstance(source, str):
        try:
            source = yaml.safe_load(source)
        except yaml.YAMLError as exc:
            raise AlertConfigError(f"{name}: not valid YAML ({exc})") from None
    if not isinstance(source, Mapping):
        raise AlertConfigError(f"{name}: expected a mapping with a 'users' list, got {source!r}")
    try:
        return _PreferencesFile.model_validate(dict(source)).users
    except ValidationError as exc:
        raise config_error(name, exc) from None
