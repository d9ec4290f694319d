"""What every channel receives and the protocol it implements, plus env-var helpers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from zvt_pipelines.alerts.alert import Alert
from zvt_pipelines.errors import AlertConfigError


@dataclass(frozen=True)
class Message:
    """One alert addressed to one recipient ('' = the channel's configured default)."""

    alert: Alert
    alert_id: int | None = None
    recipient: str = ""
    chart_png: bytes | None = None


class Channel(Protocol):
    """A way out. `send` raises ChannelError (with `retryable`) when delivery fails."""

    name: str
    supports_chart: bool

    def send(self, message: Message) -> None: ...


def require(env: Mapping[str, str], *names: str) -> dict[str, str]:
    """The named variables, or AlertConfigError listing those missing (never their values)."""
    missing = [n for n in names if not env.get(n)]
    if missing:
        raise AlertConfigError(f"missing environment variable(s): {', '.join(missing)}")
    return {n: env[n] for n in names}


def float_env(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise AlertConfigError(f"environment variable {name}={raw!r}: expected a number") from None
