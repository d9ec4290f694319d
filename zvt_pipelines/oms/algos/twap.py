"""Schedule-driven parents (TWAP here, VWAP in `vwap.py`): amounts due at fixed times.

At each tick the parent works out the cumulative amount due by `now` from its schedule. If a
new slice fell due while the previous child is still open, that child is cancelled and its
unfilled part rolls into the next child once the venue confirms the cancel. With no child open,
the parent sends `due - committed`, so a slice that was denied or left unfilled is caught up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from zvt_pipelines.errors import InvalidOrder
from zvt_pipelines.model.orders import Side
from zvt_pipelines.oms.algos.base import ExecutionAlgo, split_by_weights


@dataclass(frozen=True)
class Slice:
    """An amount due at a time."""

    at: datetime
    amount: Decimal


def slice_times(start: datetime, duration: timedelta, interval: timedelta) -> list[datetime]:
    """`start, start + interval, ...` : duration / interval slices (a whole number is required)."""
    if start.tzinfo is None:
        raise InvalidOrder(f"schedule start {start!r}: must be timezone-aware UTC")
    if interval <= timedelta(0) or duration <= timedelta(0) or duration % interval:
        raise InvalidOrder(
            f"schedule of {duration} every {interval}: both positive, duration a whole number of intervals"
        )
    return [start + i * interval for i in range(duration // interval)]


class ScheduledAlgo(ExecutionAlgo):
    """A parent that follows a fixed schedule of slices (see the module docstring)."""

    def __init__(
        self,
        parent_id: str,
        symbol: str,
        side: Side | str,
        amount: Decimal,
        *,
        schedule: list[Slice],
        **kwargs: Any,
    ) -> None:
        super().__init__(parent_id, symbol, side, amount, **kwargs)
        if not schedule or sum((s.amount for s in schedule), Decimal(0)) != amount:
            raise InvalidOrder(f"parent {parent_id}: schedule must add up to {amount}")
        self.schedule = tuple(schedule)
        self._due_slices = 0

    def due_by(self, now: datetime) -> Decimal:
        """Cumulative amount the schedule wants done by `now`."""
        return sum((s.amount for s in self.schedule if s.at <= now), Decimal(0))

    def on_tick(self, now: datetime, market_state: Mapping[str, Any] | None = None) -> list[str]:
        if not self._start_if_due(now, self.schedule[0].at):
            return []
        due_slices = sum(1 for s in self.schedule if s.at <= now)
        if due_slices > self._due_slices and self.live_children:
            self._cancel_live()
        self._due_slices = due_slices
        if self.live_children:
            return []
        wanted = self.due_by(now) - self.committed
        if wanted <= 0:
            return []
        sent = self._send(now, wanted, market_state)
        return [sent] if sent else []


def twap(
    parent_id: str,
    symbol: str,
    side: Side | str,
    amount: Decimal,
    *,
    start: datetime,
    duration: timedelta,
    interval: timedelta,
    **kwargs: Any,
) -> ScheduledAlgo:
    """Time-weighted: `amount` in equal slices every `interval` over `duration` from `start`.

    Slices are multiples of `amount_step`; the last one takes the rounding remainder. Other
    keyword arguments (venue, sink, amount_step, order_type, ...) go to `ExecutionAlgo`.
    """
    times = slice_times(start, duration, interval)
    sizes = split_by_weights(amount, [Decimal(1)] * len(times), kwargs["amount_step"])
    schedule = [Slice(at, size) for at, size in zip(times, sizes, strict=True)]
    return ScheduledAlgo(parent_id, symbol, side, amount, schedule=schedule, **kwargs)
