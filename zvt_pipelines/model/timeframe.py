"""Candle timeframes (`1m`, `1h`, `1d`, ...) as exact durations."""

from __future__ import annotations

import re

from zvt_pipelines.errors import BadTimeframe

_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_PATTERN = re.compile(r"^([1-9][0-9]*)([mhdw])$")


def timeframe_ms(timeframe: str) -> int:
    """Length of one candle in milliseconds; raise BadTimeframe naming the value."""
    match = _PATTERN.match(timeframe or "")
    if not match:
        raise BadTimeframe(
            f"timeframe {timeframe!r}: expected a number and one of m, h, d, w (e.g. '1m', '4h')"
        )
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


def pandas_freq(timeframe: str) -> str:
    """The pandas offset alias for a timeframe, e.g. `1h` -> `1h`, `1m` -> `1min`."""
    timeframe_ms(timeframe)
    number, unit = timeframe[:-1], timeframe[-1]
    return number + {"m": "min", "h": "h", "d": "D", "w": "W-MON"}[unit]
