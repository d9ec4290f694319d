"""Data-quality rules for candle frames: the rule table, the result types and the pandas engine.

Every rule yields a `CheckResult`. A failed *error* rule means the candles must not flow into
signals and orders (the Dagster checks block on it); a failed *warning* rule (a large price
jump) is reported but lets the data through. `gx_suite` runs the same rules through Great
Expectations on the same derived columns, so both engines report alike.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd

from zvt_pipelines.errors import ConfigError, DataError
from zvt_pipelines.model.candles import CANDLE_COLUMNS, PRICE_COLUMNS, TS_DTYPE
from zvt_pipelines.model.timeframe import timeframe_ms

MAX_EXAMPLES = 5
MAD_TO_SIGMA = 1.4826  # a normal distribution's sigma per unit of median absolute deviation
MEAN_AD_TO_SIGMA = 1.2533  # sqrt(pi / 2): its sigma per unit of mean absolute deviation
_WEEK_ORIGIN_MS = 4 * 86_400_000  # weekly candles open on Mondays; 1970-01-05 is the first


class Severity(StrEnum):
    """How a failed rule is treated downstream."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Rule:
    """One named quality rule; `columns` are the values shown in its examples."""

    name: str
    severity: Severity
    description: str
    columns: tuple[str, ...]


RULES: tuple[Rule, ...] = (
    Rule("no_nulls", Severity.ERROR, "no null value in any column", CANDLE_COLUMNS[1:]),
    Rule("ts_unique", Severity.ERROR, "each open time appears once", ()),
    Rule("ts_strictly_increasing", Severity.ERROR, "open times strictly increase", ()),
    Rule("ts_on_grid", Severity.ERROR, "open times are multiples of the timeframe", ()),
    Rule("ts_in_range", Severity.ERROR, "open times lie in the window [start, end)", ()),
    Rule("missing_candles", Severity.ERROR, "missing candles within tolerance", ()),
    Rule(
        "high_ge_open_close", Severity.ERROR, "high >= max(open, close)", ("open", "high", "close")
    ),
    Rule("low_le_open_close", Severity.ERROR, "low <= min(open, close)", ("open", "low", "close")),
    Rule("high_ge_low", Severity.ERROR, "high >= low", ("high", "low")),
    Rule("prices_positive", Severity.ERROR, "open, high, low, close > 0", PRICE_COLUMNS),
    Rule("volume_non_negative", Severity.ERROR, "volume >= 0", ("volume",)),
    Rule(
        "large_jumps", Severity.WARNING, "no extreme close-to-close jump", ("close", "return_abs_z")
    ),
)
RULES_BY_NAME: dict[str, Rule] = {rule.name: rule for rule in RULES}


@dataclass(frozen=True)
class QualitySettings:
    """Tolerances of the suite.

    `max_missing_fraction` defaults to 0.25 of the window's expected candles (6 hours of a
    UTC day, at any timeframe). Binance's scheduled maintenance leaves up to 6 hours with no
    candle (2020-02-19: 5 h, 2019-03-12: 6 h); the exchange did not trade then, so the
    remaining candles still describe the market. Incidents leave more (2018-06-26 and the
    2019-05-15 hack: 10 h, 2018-02-08: 23 of 24 h) and must stop downstream. Of Binance
    BTC/USDT's ~3,060 UTC days, 7 exceed 6 missing hours. A 1d candle has no slack: the
    floor of 0.25 x 1 is 0 missing.

    `jump_sigma`: a close-to-close log return further than this many robust standard
    deviations (median absolute deviation x 1.4826) from the window's median return is a
    warning. 8 sigma is essentially impossible for a normal distribution, yet real 1m returns
    are fat-tailed, so it stays a warning.
    """

    timeframe: str = "1m"
    max_missing_fraction: float = 0.25
    jump_sigma: float = 8.0

    def __post_init__(self) -> None:
        timeframe_ms(self.timeframe)
        if not 0.0 <= self.max_missing_fraction <= 1.0:
            raise ConfigError(
                f"max_missing_fraction {self.max_missing_fraction!r}: must be in [0, 1]"
            )
        if not self.jump_sigma > 0.0:
            raise ConfigError(f"jump_sigma {self.jump_sigma!r}: must be > 0")

    def allowed_missing(self, expected_candles: int) -> int:
        """How many of `expected_candles` may be missing (floor, so 1 expected allows 0)."""
        return math.floor(self.max_missing_fraction * expected_candles + 1e-9)


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one rule: `examples` shows a few offending rows or missing open times.

    `failing_count` counts offending rows (cells for no_nulls and prices_positive); for
    missing_candles it is the number missing, which passes while within tolerance.
    `rows` holds the frame positions of the first offending rows (what `examples` shows).
    """

    name: str
    passed: bool
    severity: Severity
    failing_count: int
    examples: tuple[str, ...]
    description: str
    rows: tuple[int, ...] = ()


@dataclass(frozen=True)
class QualityReport:
    """All rule outcomes for one candle frame over one window."""

    engine: str
    timeframe: str
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    row_count: int
    expected_candles: int
    missing_candles: int
    checks: tuple[CheckResult, ...]

    @property
    def passed(self) -> bool:
        """True when no error rule failed (warnings allowed)."""
        return not self.errors

    @property
    def errors(self) -> tuple[CheckResult, ...]:
        """Failed rules of error severity."""
        return tuple(c for c in self.checks if not c.passed and c.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[CheckResult, ...]:
        """Failed rules of warning severity."""
        return tuple(c for c in self.checks if not c.passed and c.severity is Severity.WARNING)

    def check(self, name: str) -> CheckResult:
        """The result of the rule called `name`."""
        for result in self.checks:
            if result.name == name:
                return result
        raise KeyError(f"no quality rule named {name!r}; rules: {[c.name for c in self.checks]}")

    def as_metadata(self) -> dict[str, str | int | float | bool]:
        """A flat dict of plain values for Dagster check metadata."""
        fraction = self.missing_candles / self.expected_candles if self.expected_candles else 0.0
        metadata: dict[str, str | int | float | bool] = {
            "passed": self.passed,
            "engine": self.engine,
            "timeframe": self.timeframe,
            "window_start": self.start.isoformat() if self.start is not None else "",
            "window_end": self.end.isoformat() if self.end is not None else "",
            "rows": self.row_count,
            "expected_candles": self.expected_candles,
            "missing_candles": self.missing_candles,
            "missing_fraction": round(fraction, 6),
            "failed_errors": ", ".join(c.name for c in self.errors),
            "failed_warnings": ", ".join(c.name for c in self.warnings),
        }
        for result in self.checks:
            metadata[f"{result.name}.passed"] = result.passed
            metadata[f"{result.name}.failing_count"] = result.failing_count
            if result.examples:
                metadata[f"{result.name}.examples"] = "; ".join(result.examples)
        return metadata


@dataclass(frozen=True)
class PreparedCandles:
    """A candle frame normalised for checking, with the derived columns both engines test.

    Derived columns: `ts_ms` (open time in ms), `grid_offset_ms` (open time modulo the
    timeframe), `grid_slot` (candle number on the grid when on it and inside the window),
    `max_open_close`, `min_open_close` and `return_abs_z` (robust |z| of the log return
    into each candle). Each is NaN where an input is null, so nulls are reported once.
    """

    frame: pd.DataFrame
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    start_ms: int
    end_ms: int
    expected_candles: int
    allowed_missing: int
    first_slot: int
    step_ms: int
    origin_ms: int
    jump_sigma: float
    return_sigma: float


def prepare_candles(
    frame: pd.DataFrame,
    settings: QualitySettings,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
) -> PreparedCandles:
    """Normalise `frame` and compute the derived columns and the window of expected candles."""
    missing = [c for c in CANDLE_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            f"candle frame: missing column(s) {missing}; expected {list(CANDLE_COLUMNS)}"
        )
    if (start is None) != (end is None):
        raise ConfigError(
            f"quality window: give both start and end or neither (start={start!r}, end={end!r})"
        )
    data = frame[list(CANDLE_COLUMNS)].reset_index(drop=True)
    try:
        data["ts"] = data["ts"].astype(TS_DTYPE)
        for column in CANDLE_COLUMNS[1:]:
            data[column] = data[column].astype("float64")
    except (TypeError, ValueError) as exc:
        raise DataError(f"candle frame: cannot convert to the candle schema ({exc})") from exc

    step = timeframe_ms(settings.timeframe)
    origin = _WEEK_ORIGIN_MS if settings.timeframe.endswith("w") else 0
    raw_ms = data["ts"].to_numpy(dtype="datetime64[ms]").astype("int64").astype("float64")
    ts_ms = pd.Series(raw_ms, index=data.index).where(data["ts"].notna())
    window_start, window_end = _window(start, end)
    if window_start is not None:
        start_ms, end_ms = window_start.value // 1_000_000, window_end.value // 1_000_000
    elif ts_ms.notna().any():
        start_ms, end_ms = int(ts_ms.min()), int(ts_ms.max()) + 1
    else:
        start_ms = end_ms = 0
    first_slot = -((origin - start_ms) // step)  # ceiling division
    last_slot = (end_ms - 1 - origin) // step
    expected = max(0, last_slot - first_slot + 1)

    data["ts_ms"] = ts_ms
    data["grid_offset_ms"] = (ts_ms - origin) % step
    in_window = (ts_ms >= start_ms) & (ts_ms < end_ms) & (data["grid_offset_ms"] == 0)
    data["grid_slot"] = ((ts_ms - origin) // step).where(in_window)
    data["max_open_close"] = np.maximum(data["open"], data["close"])
    data["min_open_close"] = np.minimum(data["open"], data["close"])
    abs_z, sigma = _robust_abs_z(data["close"])
    data["return_abs_z"] = abs_z
    return PreparedCandles(
        frame=data,
        start=window_start,
        end=window_end,
        start_ms=start_ms,
        end_ms=end_ms,
        expected_candles=expected,
        allowed_missing=settings.allowed_missing(expected),
        first_slot=first_slot,
        step_ms=step,
        origin_ms=origin,
        jump_sigma=settings.jump_sigma,
        return_sigma=sigma,
    )


def check_candles(
    frame: pd.DataFrame,
    settings: QualitySettings,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
) -> QualityReport:
    """Run every rule on `frame` with pandas; the window is [start, end) or first..last candle."""
    prepared = prepare_candles(frame, settings, start, end)
    data = prepared.frame
    ts = data["ts"].dropna()
    ts_diff = ts.diff()
    nulls = data[list(CANDLE_COLUMNS)].isna()
    row_failures = {
        "ts_unique": ts.index[ts.duplicated(keep=False)],
        "ts_strictly_increasing": ts_diff.index[ts_diff <= pd.Timedelta(0)],
        "ts_on_grid": data.index[data["grid_offset_ms"] > 0],
        "ts_in_range": data.index[
            (data["ts_ms"] < prepared.start_ms) | (data["ts_ms"] >= prepared.end_ms)
        ],
        "high_ge_open_close": data.index[data["high"] < data["max_open_close"]],
        "low_le_open_close": data.index[data["low"] > data["min_open_close"]],
        "high_ge_low": data.index[data["high"] < data["low"]],
        "volume_non_negative": data.index[data["volume"] < 0],
        "large_jumps": data.index[data["return_abs_z"] > prepared.jump_sigma],
    }
    # NaN compares False above, so a null is only ever reported by no_nulls.
    failures = {name: (len(rows), rows) for name, rows in row_failures.items()}
    non_positive = data[list(PRICE_COLUMNS)] <= 0
    for name, cells in (("no_nulls", nulls), ("prices_positive", non_positive)):
        failures[name] = (int(cells.to_numpy().sum()), data.index[cells.any(axis=1)])
    results = [
        missing_result(prepared, int(data["grid_slot"].nunique()))
        if rule.name == "missing_candles"
        else row_result(prepared, rule.name, *failures[rule.name])
        for rule in RULES
    ]
    return build_report("pandas", settings, prepared, results)


def row_result(
    prepared: PreparedCandles,
    name: str,
    failing_count: int,
    rows: Iterable[int],
) -> CheckResult:
    """The result of a row rule: it passes when no row (or cell) fails."""
    rule = RULES_BY_NAME[name]
    first_rows = tuple(int(i) for i in sorted(rows)[:MAX_EXAMPLES])
    examples = tuple(_describe_row(prepared.frame, i, rule.columns) for i in first_rows)
    description = rule.description
    if name == "large_jumps":
        description += (
            f": |log return - median| <= {prepared.jump_sigma:g} x robust sigma "
            f"({prepared.return_sigma:.3g})"
        )
    return CheckResult(
        name, failing_count == 0, rule.severity, failing_count, examples, description, first_rows
    )


def missing_result(prepared: PreparedCandles, present_candles: int) -> CheckResult:
    """The missing-candles result, given how many grid slots of the window hold a candle."""
    rule = RULES_BY_NAME["missing_candles"]
    missing = prepared.expected_candles - present_candles
    expected, allowed = prepared.expected_candles, prepared.allowed_missing
    detail = f"{missing} of {expected} expected candles missing (allowed {allowed})"
    if present_candles == 0 and prepared.expected_candles > 0:
        detail = f"no candle at all in the window: {detail}"
    return CheckResult(
        rule.name,
        missing <= prepared.allowed_missing,
        rule.severity,
        missing,
        _missing_examples(prepared),
        f"{rule.description}: {detail}",
    )


def build_report(
    engine: str,
    settings: QualitySettings,
    prepared: PreparedCandles,
    results: Iterable[CheckResult],
) -> QualityReport:
    """Assemble a report from results given in rule order."""
    results = tuple(results)
    if tuple(r.name for r in results) != tuple(rule.name for rule in RULES):
        raise ValueError(
            f"{engine}: results {[r.name for r in results]} do not follow the rule table"
        )
    return QualityReport(
        engine=engine,
        timeframe=settings.timeframe,
        start=prepared.start,
        end=prepared.end,
        row_count=len(prepared.frame),
        expected_candles=prepared.expected_candles,
        missing_candles=next(r.failing_count for r in results if r.name == "missing_candles"),
        checks=results,
    )


def _window(start: object, end: object) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    if start is None:
        return None, None
    bounds = []
    for label, value in (("start", start), ("end", end)):
        stamp = pd.Timestamp(value)
        if stamp.tzinfo is None:
            raise ConfigError(f"quality window {label} {value!r}: must be timezone-aware (UTC)")
        bounds.append(stamp.tz_convert("UTC"))
    if bounds[0] >= bounds[1]:
        raise ConfigError(f"quality window: start {bounds[0]} must be before end {bounds[1]}")
    return bounds[0], bounds[1]


def _robust_abs_z(close: pd.Series) -> tuple[pd.Series, float]:
    """|log return - median| / robust sigma for each candle, and that sigma.

    Sigma is the larger of 1.4826 x MAD and 1.2533 x mean absolute deviation. The MAD alone
    collapses when most closes repeat: on a quiet day (BTC/USDT 1m, 2025-06-28) more than
    half the minutes closed unchanged, the MAD sigma was 2.8e-7 and half the day would have
    been "jumps". One spike barely moves the mean deviation (by spike / rows), so it still
    stands out. Returns touching a null or non-positive close are NaN.
    """
    returns = np.log(close.where(close > 0)).diff()
    valid = returns.dropna()
    if valid.empty:
        return returns, 0.0
    deviation = (returns - valid.median()).abs()
    sigma = max(
        MAD_TO_SIGMA * float(deviation.median()), MEAN_AD_TO_SIGMA * float(deviation.mean())
    )
    if sigma == 0.0:  # every return equals the median: nothing jumps
        return deviation, 0.0
    return deviation / sigma, sigma


def _describe_row(frame: pd.DataFrame, row: int, columns: tuple[str, ...]) -> str:
    stamp = frame.at[row, "ts"]
    label = _iso(stamp) if not pd.isna(stamp) else f"row {row} (no ts)"
    values = " ".join(f"{c}={frame.at[row, c]:.10g}" for c in columns)
    return f"{label} {values}".strip()


def _missing_examples(prepared: PreparedCandles) -> tuple[str, ...]:
    if prepared.expected_candles == 0:
        return ()
    slots = np.arange(prepared.first_slot, prepared.first_slot + prepared.expected_candles)
    present = prepared.frame["grid_slot"].dropna().to_numpy(dtype="int64")
    absent = np.setdiff1d(slots, present, assume_unique=False)[:MAX_EXAMPLES]
    open_ms = prepared.origin_ms + absent * prepared.step_ms
    return tuple(_iso(pd.Timestamp(int(ms), unit="ms", tz="UTC")) for ms in open_ms)


def _iso(stamp: pd.Timestamp) -> str:
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
