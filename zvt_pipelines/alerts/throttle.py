"""Throttling: one alert per dedup key and channel per cooldown, with a count of the rest.

The first trigger of a key on a channel opens a window and passes; later triggers inside the
cooldown are suppressed and counted. When the window has elapsed, `due()` hands back one
`Suppressed` summary per window that swallowed anything, which the dispatcher sends as a
digest. So 10,000 triggers of one key in an hour (cooldown one hour) give one alert plus one
digest; distinct keys have independent windows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from zvt_pipelines.alerts.alert import Alert
from zvt_pipelines.alerts.clock import Clock, utc_now
from zvt_pipelines.errors import AlertConfigError


@dataclass(frozen=True)
class Suppressed:
    """What one throttle window swallowed on one channel (and recipient)."""

    channel: str
    recipient: str
    dedup_key: str
    count: int
    first_at: datetime
    last_at: datetime
    sample: Alert
    window_id: int | None = None  # the stored window (`StoredThrottle`), None in memory


@dataclass
class _Window:
    opened: datetime
    count: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None
    sample: Alert | None = field(default=None, repr=False)


def check_cooldowns(cooldown: timedelta, cooldowns: Mapping[str, timedelta] | None) -> None:
    """Refuse a negative cooldown, naming the channel ('default' for the general one)."""
    for name, value in {"default": cooldown, **(cooldowns or {})}.items():
        if value < timedelta(0):
            raise AlertConfigError(f"cooldown for {name!r} {value!r}: must not be negative")


class Throttle:
    """Cooldown per (channel, recipient, dedup key); `cooldowns` overrides it per channel."""

    def __init__(
        self,
        cooldown: timedelta = timedelta(minutes=15),
        cooldowns: Mapping[str, timedelta] | None = None,
        clock: Clock = utc_now,
    ) -> None:
        check_cooldowns(cooldown, cooldowns)
        self.cooldown = cooldown
        self.cooldowns = dict(cooldowns or {})
        self.clock = clock
        self._windows: dict[tuple[str, str, str], _Window] = {}
        self._closed: list[Suppressed] = []

    def cooldown_for(self, channel: str) -> timedelta:
        return self.cooldowns.get(channel, self.cooldown)

    def admit(self, channel: str, recipient: str, alert: Alert) -> bool:
        """True when the alert may go out on this channel now; otherwise it is counted."""
        now = self.clock()
        key = (channel, recipient, alert.dedup_key)
        window = self._windows.get(key)
        if window is None or now - window.opened >= self.cooldown_for(channel):
            if window is not None and window.count:
                self._closed.append(self._summary(key, window))
            self._windows[key] = _Window(opened=now)
            return True
        window.count += 1
        window.first_at = window.first_at or now
        window.last_at = now
        window.sample = alert
        return False

    def due(self) -> list[Suppressed]:
        """Summaries of every elapsed window that suppressed something; expired windows are dropped."""
        now = self.clock()
        ready, self._closed = self._closed, []
        for key, window in list(self._windows.items()):
            if now - window.opened >= self.cooldown_for(key[0]):
                if window.count:
                    ready.append(self._summary(key, window))
                del self._windows[key]
        return ready

    def pending_count(self) -> int:
        """How many triggers are suppressed in windows that are still open."""
        return sum(w.count for w in self._windows.values())

    def digested(self, suppressed: Suppressed) -> None:
        """Nothing to forget: `due` already dropped the window (see `StoredThrottle`)."""

    @staticmethod
    def _summary(key: tuple[str, str, str], window: _Window) -> Suppressed:
        assert window.sample is not None and window.first_at and window.last_at
        return Suppressed(
            channel=key[0],
            recipient=key[1],
            dedup_key=key[2],
            count=window.count,
            first_at=window.first_at,
            last_at=window.last_at,
            sample=window.sample,
        )
