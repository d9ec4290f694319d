"""Chart patterns: double top/bottom and head-and-shoulders (plain and inverse).

How they are found, on log closes so every tolerance is a percentage:

1. **Pivots.** Bar i is a swing high when its close is >= the `order` closes before it and
   > the `order` closes after it (swing lows alike). A pivot is therefore only known `order`
   bars later, and no pattern is confirmed earlier than that.
2. **Double top.** Two consecutive swing highs within `tolerance` of each other, with the
   lowest close between them at least `min_depth` below the lower peak. That low is the
   neckline. The pattern is confirmed on the first bar (from `order` bars after the second
   peak, within `max_wait` bars) whose close is below the neckline, provided no close in
   between rose more than `tolerance` above the higher peak.
3. **Head and shoulders.** Three consecutive swing highs where the middle one (head) is at
   least `min_depth` above both others (shoulders) and the shoulders are within `tolerance`
   of each other. The neckline is the straight line through the lowest closes between
   left shoulder and head and between head and right shoulder; confirmation is the first
   close below it, with the same timing and invalidation rules (above the head).
4. **Bottoms** (double bottom, inverse head and shoulders) are the same search on the
   negated log closes.

The alert is stamped with the confirming bar, never a pivot bar, so it uses no future data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from zvt_pipelines.alerts.alert import Alert, AlertType, Severity
from zvt_pipelines.alerts.rules import column, recent, timestamps
from zvt_pipelines.errors import AlertConfigError

PatternKind = Literal[
    "double_top", "double_bottom", "head_and_shoulders", "inverse_head_and_shoulders"
]
_BEARISH = {"double_top": "double_bottom", "head_and_shoulders": "inverse_head_and_shoulders"}


@dataclass(frozen=True)
class PatternMatch:
    """A confirmed pattern: its pivot bars, the neckline price at confirmation, the confirming bar."""

    kind: PatternKind
    pivots: tuple[int, ...]
    neckline: float
    confirmed_at: int


def swing_highs(values: np.ndarray, order: int) -> np.ndarray:
    """Indices of swing highs: >= the `order` values before, > the `order` values after."""
    if values.size < 2 * order + 1:
        return np.empty(0, dtype=int)
    windows = sliding_window_view(values, 2 * order + 1)
    centre = windows[:, order]
    left = windows[:, :order].max(axis=1)
    right = windows[:, order + 1 :].max(axis=1)
    return np.flatnonzero((centre >= left) & (centre > right)) + order


def _confirm(
    x: np.ndarray, last_pivot: int, order: int, max_wait: int, neck, ceiling: float
) -> int | None:
    """First bar from `last_pivot + order` whose value is below the neckline, or None."""
    for j in range(last_pivot + 1, min(x.size, last_pivot + max_wait + 1)):
        if x[j] > ceiling:
            return None
        if j >= last_pivot + order and x[j] < neck(j):
            return j
    return None


def find_tops(
    x: np.ndarray, order: int, tolerance: float, min_depth: float, max_wait: int
) -> tuple[list[PatternMatch], list[PatternMatch]]:
    """Double tops and head-and-shoulders tops in log values `x`."""
    tol, depth = np.log1p(tolerance), np.log1p(min_depth)
    peaks = swing_highs(x, order)
    doubles, heads = [], []
    for a, b in zip(peaks[:-1], peaks[1:], strict=True):
        trough = a + int(np.argmin(x[a : b + 1]))
        if abs(x[a] - x[b]) <= tol and min(x[a], x[b]) - x[trough] >= depth:
            neck = float(x[trough])
            j = _confirm(x, b, order, max_wait, lambda _j, n=neck: n, max(x[a], x[b]) + tol)
            if j is not None:
                doubles.append(PatternMatch("double_top", (int(a), int(b)), neck, j))
    for left, head, right in zip(peaks[:-2], peaks[1:-1], peaks[2:], strict=True):
        if not (x[head] - max(x[left], x[right]) >= depth and abs(x[left] - x[right]) <= tol):
            continue
        t1 = left + int(np.argmin(x[left : head + 1]))
        t2 = head + int(np.argmin(x[head : right + 1]))
        slope = (x[t2] - x[t1]) / (t2 - t1)

        def neck(j: int, t1: int = t1, slope: float = slope) -> float:
            return float(x[t1] + slope * (j - t1))

        j = _confirm(x, right, order, max_wait, neck, float(x[head]))
        if j is not None:
            pivots = (int(left), int(head), int(right))
            heads.append(PatternMatch("head_and_shoulders", pivots, neck(j), j))
    return doubles, heads


def find_patterns(
    close: np.ndarray,
    order: int = 5,
    tolerance: float = 0.02,
    min_depth: float = 0.03,
    max_wait: int | None = None,
) -> list[PatternMatch]:
    """Every confirmed pattern of the four kinds in `close`, ordered by confirming bar."""
    if order < 1 or not 0 <= tolerance < min_depth:
        raise AlertConfigError(
            f"pattern order={order!r}, tolerance={tolerance!r}, min_depth={min_depth!r}: "
            "need order >= 1 and 0 <= tolerance < min_depth"
        )
    wait = 4 * order if max_wait is None else max_wait
    x = np.log(close)
    matches = []
    for sign in (1.0, -1.0):
        doubles, heads = find_tops(sign * x, order, tolerance, min_depth, wait)
        for match in doubles + heads:
            kind = match.kind if sign > 0 else _BEARISH[match.kind]
            neck = float(np.exp(sign * match.neckline))
            matches.append(PatternMatch(kind, match.pivots, neck, match.confirmed_at))
    return sorted(matches, key=lambda m: m.confirmed_at)


@dataclass(frozen=True)
class ChartPattern:
    """Alert when one of `kinds` is confirmed (see the module docstring for the definitions)."""

    kinds: tuple[PatternKind, ...] = (
        "double_top",
        "double_bottom",
        "head_and_shoulders",
        "inverse_head_and_shoulders",
    )
    order: int = 5
    tolerance: float = 0.02
    min_depth: float = 0.03
    severity: Severity = Severity.WARNING

    def evaluate(self, frame: pd.DataFrame, instrument: str) -> list[Alert]:
        close = column(frame, "close")
        matches = [
            m
            for m in find_patterns(close, self.order, self.tolerance, self.min_depth)
            if m.kind in self.kinds
        ]
        ts = timestamps(frame) if matches else []
        return [
            Alert(
                type=AlertType.TECHNICAL_SIGNAL,
                severity=self.severity,
                title=f"{instrument}: {m.kind.replace('_', ' ')} confirmed",
                body=f"{m.kind.replace('_', ' ')} with pivots at "
                f"{', '.join(f'{close[p]:g}' for p in m.pivots)}; close {close[m.confirmed_at]:g} "
                f"broke the neckline {m.neckline:g}.",
                at=ts[m.confirmed_at].to_pydatetime(),
                condition=m.kind,
                instrument=instrument,
                value=float(close[m.confirmed_at]),
                threshold=m.neckline,
                recent_prices=recent(close, m.confirmed_at),
                fields={"pivots": [ts[p].isoformat() for p in m.pivots]},
            )
            for m in matches
        ]
