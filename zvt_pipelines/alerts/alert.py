"""The alert value: what happened, how urgent it is, and the context that explains it."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from types import MappingProxyType
from typing import Any

from zvt_pipelines.errors import AlertConfigError

MAX_KEY_LENGTH = 200


class AlertType(StrEnum):
    """What kind of condition raised the alert."""

    PRICE_THRESHOLD = "price_threshold"
    VOLUME_SPIKE = "volume_spike"
    TECHNICAL_SIGNAL = "technical_signal"
    PORTFOLIO_RISK = "portfolio_risk"
    ORDER_EXECUTION = "order_execution"
    SYSTEM_ERROR = "system_error"


class Severity(IntEnum):
    """Priority score: a higher number is more urgent, so routes and filters compare with >=."""

    INFO = 10
    WARNING = 20
    HIGH = 30
    CRITICAL = 40

    @classmethod
    def parse(cls, value: str | int | Severity) -> Severity:
        """A severity from its name ('critical') or score (40); anything else is a config error."""
        if isinstance(value, Severity):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            try:
                return cls(value)
            except ValueError:
                pass
        elif isinstance(value, str) and value.upper() in cls.__members__:
            return cls[value.upper()]
        names = ", ".join(m.name.lower() for m in cls)
        raise AlertConfigError(f"severity {value!r}: expected one of {names}")


def _json_safe(value: Any) -> Any:
    """Plain JSON values (non-finite floats become None) so the context stores anywhere."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


@dataclass(frozen=True)
class Alert:
    """One alert, immutable once raised.

    `condition` names the condition that fired (e.g. 'cross_up@50000'); with the type and
    the instrument it forms the `dedup_key`, which is the same every time that condition
    fires again, so throttling can fold repeats. `fingerprint` adds the event time and
    identifies this one occurrence, so storing it twice is a no-op.
    """

    type: AlertType
    severity: Severity
    title: str
    body: str
    at: datetime
    condition: str
    instrument: str | None = None
    value: float | None = None
    threshold: float | None = None
    recent_prices: tuple[float, ...] = ()
    positions: tuple[str, ...] = ()
    fields: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError(f"alert time {self.at!r}: must be timezone-aware (UTC)")
        object.__setattr__(self, "at", self.at.astimezone(UTC))
        object.__setattr__(self, "type", AlertType(self.type))
        object.__setattr__(self, "severity", Severity.parse(self.severity))
        object.__setattr__(self, "recent_prices", tuple(float(p) for p in self.recent_prices))
        object.__setattr__(self, "positions", tuple(self.positions))
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))

    @property
    def dedup_key(self) -> str:
        """Stable identity of the condition: type, instrument and condition name."""
        key = f"{self.type.value}:{self.instrument or '-'}:{self.condition}"
        if len(key) <= MAX_KEY_LENGTH:
            return key
        return key[: MAX_KEY_LENGTH - 17] + ":" + hashlib.sha256(key.encode()).hexdigest()[:16]

    @property
    def fingerprint(self) -> str:
        """Identity of this occurrence (dedup key plus event time), 64 hex characters."""
        return hashlib.sha256(f"{self.dedup_key}|{self.at.isoformat()}".encode()).hexdigest()

    def context(self) -> dict[str, Any]:
        """The explaining context as plain JSON values (what the `alerts.context` column holds)."""
        return _json_safe(
            {
                "condition": self.condition,
                "at": self.at,
                "instrument": self.instrument,
                "value": self.value,
                "threshold": self.threshold,
                "recent_prices": list(self.recent_prices),
                "positions": list(self.positions),
                "fields": dict(self.fields),
            }
        )

    def summary(self) -> str:
        """One line: severity, title and, when known, value against threshold."""
        line = f"[{self.severity.name}] {self.title}"
        if self.value is not None and self.threshold is not None:
            line += f" (value {self.value:g} vs threshold {self.threshold:g})"
        return line

    def to_json(self) -> dict[str, Any]:
        """The alert as a JSON object, the payload webhook consumers receive."""
        return {
            "type": self.type.value,
            "severity": self.severity.name.lower(),
            "priority": int(self.severity),
            "title": self.title,
            "body": self.body,
            "dedup_key": self.dedup_key,
            "fingerprint": self.fingerprint,
            **self.context(),
        }

    @classmethod
    def from_stored(
        cls,
        *,
        type: str,
        severity: int,
        title: str,
        body: str,
        context: Mapping[str, Any],
    ) -> Alert:
        """Rebuild an alert from the columns of its stored row."""
        return cls(
            type=AlertType(type),
            severity=Severity(severity),
            title=title,
            body=body,
            at=datetime.fromisoformat(context["at"]),
            condition=context["condition"],
            instrument=context.get("instrument"),
            value=context.get("value"),
            threshold=context.get("threshold"),
            recent_prices=tuple(p for p in context.get("recent_prices", ()) if p is not None),
            positions=tuple(context.get("positions", ())),
            fields=context.get("fields", {}),
        )


def tail(prices: Sequence[float], count: int = 50) -> tuple[float, ...]:
    """The last `count` prices, as the `recent_prices` context of an alert."""
    return tuple(float(p) for p in prices[max(0, len(prices) - count) :])
