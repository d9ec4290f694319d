"""The one gate candles pass before they are used or stored: the quality rules as a one-line error.

The candle-file reader (`zvt backtest`, file venues, `zvt ingest --file`) and `ingest_range`
(`zvt ingest` and the Dagster candle asset) call `validate_candles`, so a file, an ingest and a
partition are judged by the rules of the asset's blocking check (`quality.py`). A failed error
rule raises `BadCandles` naming the source, the row, the field and the value, before anything
is written. Missing candles beyond the tolerance (gaps) are a logged warning here: the candles
present are true, and the asset's check still blocks downstream use of a gappy partition.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd

from zvt_pipelines.data.quality import (
    RULES,
    CheckResult,
    QualityReport,
    QualitySettings,
    check_candles,
)
from zvt_pipelines.errors import BadCandles
from zvt_pipelines.model.candles import CANDLE_COLUMNS, PRICE_COLUMNS, TS_DTYPE

log = logging.getLogger(__name__)

MINUTE_MS = 60_000
WEEK_MS = 7 * 86_400_000
_UNIT_MS = (("d", 86_400_000), ("h", 3_600_000), ("m", MINUTE_MS))
_TIME_RULES = ("ts_unique", "ts_strictly_increasing", "ts_on_grid", "ts_in_range")
_CELL_RULES = ("no_nulls", "prices_positive")

RowLabel = Callable[[int], str]
# the rule table's order, except that high < low (which always breaks an open/close rule
# too) is named before the open/close rules: it is the plainer fault
_ORDER = {rule.name: float(i) for i, rule in enumerate(RULES)}
_ORDER["high_ge_low"] = _ORDER["high_ge_open_close"] - 0.5


def infer_timeframe(frame: pd.DataFrame, source: str) -> str:
    """The timeframe of a candle frame: its most common spacing between distinct open times.

    The most common spacing, not the smallest, so a stray off-grid candle is reported by the
    grid rule instead of silently changing the timeframe. One candle (no spacing) reads as 1m.
    """
    ms = np.unique(frame["ts"].dropna().astype(TS_DTYPE).astype("int64").to_numpy())
    steps = np.diff(ms)
    if len(steps) == 0:
        return "1m"
    values, counts = np.unique(steps, return_counts=True)
    step = int(values[np.argmax(counts)])  # on a tie, the smaller spacing
    if step % MINUTE_MS:
        raise BadCandles(
            f"{source}: candles are mostly {step} ms apart, not a whole number of minutes; "
            "expected a timeframe such as 1m, 1h or 1d"
        )
    if step == WEEK_MS:
        return "1w"
    unit, unit_ms = next((u, ms_) for u, ms_ in _UNIT_MS if step % ms_ == 0)
    return f"{step // unit_ms}{unit}"


def validate_candles(
    frame: pd.DataFrame,
    source: str,
    timeframe: str | None = None,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    row_label: RowLabel | None = None,
) -> QualityReport:
    """Run the quality rules on `frame`; raise `BadCandles` at the first failed error rule.

    `source` names the data in messages (a file, a venue and market); `timeframe` defaults to
    the frame's inferred spacing; the window is [start, end) or first..last candle;
    `row_label(position)` names a row (e.g. the file line) in messages.
    """
    timeframe = timeframe or infer_timeframe(frame, source)
    report = check_candles(frame, QualitySettings(timeframe=timeframe), start, end)
    fatal = sorted(
        (r for r in report.errors if r.name != "missing_candles"), key=lambda r: _ORDER[r.name]
    )
    if fatal:
        raise BadCandles(_message(source, fatal[0], frame, row_label))
    gaps = report.check("missing_candles")
    if not gaps.passed:
        expected = report.expected_candles
        allowed = QualitySettings(timeframe=timeframe).allowed_missing(expected)
        log.warning(
            "%s: gaps: %d of %d expected %s candles missing (tolerance %d); first missing %s",
            source,
            gaps.failing_count,
            expected,
            timeframe,
            allowed,
            ", ".join(gaps.examples[:3]),
        )
    return report


def _message(
    source: str, result: CheckResult, frame: pd.DataFrame, row_label: RowLabel | None
) -> str:
    """`<source>: line 4 (2024-01-01T03:00:00Z): high=99 low=100 breaks high_ge_low (...)`."""
    row = result.rows[0]
    record = frame.iloc[row]
    label = row_label or (lambda position: f"row {position + 1}")
    fields = ", ".join(f"{name}={_show(record[name])}" for name in _bad_fields(result, record))
    also = ""
    if result.name == "ts_unique":
        twins = np.flatnonzero((frame["ts"] == record["ts"]).to_numpy())
        also = "; also at " + ", ".join(label(int(i)) for i in twins if i != row)
    count = result.failing_count
    unit = "value" if result.name in _CELL_RULES else "candle"
    return (
        f"{source}: {label(row)} ({_show(record['ts'])}): {fields} breaks {result.name} "
        f"({result.description}){also}; {count} {unit}{'s' if count > 1 else ''} in all"
    )


def _bad_fields(result: CheckResult, record: pd.Series) -> tuple[str, ...]:
    """The fields that make a row fail its rule (for cell rules, only the offending cells)."""
    if result.name in _TIME_RULES:
        return ("ts",)
    if result.name == "no_nulls":
        return tuple(name for name in CANDLE_COLUMNS[1:] if pd.isna(record[name]))
    if result.name == "prices_positive":
        return tuple(name for name in PRICE_COLUMNS if record[name] <= 0)
    if result.name == "volume_non_negative":
        return ("volume",)
    pairs = {
        "high_ge_open_close": ("high", "open", "close"),
        "low_le_open_close": ("low", "open", "close"),
        "high_ge_low": ("high", "low"),
    }
    return pairs.get(result.name, ("open", "high", "low", "close", "volume"))


def _show(value: object) -> str:
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, float | np.floating):
        return f"{float(value):.10g}"
    return repr(value)
