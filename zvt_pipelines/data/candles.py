"""The candle frame every part of the core exchanges, and conversions into and out of it.

A candle frame is a pandas DataFrame with columns `ts` (open time, datetime64[ms, UTC]),
`open`, `high`, `low`, `close`, `volume` (float64, volume in the base asset), sorted by `ts`.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from zvt_pipelines.data.gate import validate_candles
from zvt_pipelines.errors import BadCandles, DataError
from zvt_pipelines.model.candles import CANDLE_COLUMNS, PRICE_COLUMNS, TS_DTYPE, empty_candles
from zvt_pipelines.model.timeframe import pandas_freq

log = logging.getLogger(__name__)

FILE_COLUMNS = ("timestamp", *PRICE_COLUMNS, "volume")
_EPOCH_MS_RANGE = (946_684_800_000, 4_102_444_800_000)  # 2000-01-01 .. 2100-01-01 UTC
_MS_PER_UNIT = {"ms": 1.0, "s": 1_000.0, "us": 1e-3, "ns": 1e-6}
_UNIT_NAMES = {"ms": "milliseconds", "s": "seconds", "us": "microseconds", "ns": "nanoseconds"}


def candles_from_ohlcv(rows: Sequence[Sequence[float]]) -> pd.DataFrame:
    """Build a candle frame from ccxt `fetch_ohlcv` rows `[ms, o, h, l, c, v]`."""
    if len(rows) == 0:
        return empty_candles()
    array = np.asarray(rows, dtype="float64")
    if array.ndim != 2 or array.shape[1] != 6:
        raise DataError(
            f"ohlcv rows: expected 6 columns [ms, o, h, l, c, v], got shape {array.shape}"
        )
    frame = pd.DataFrame(array[:, 1:], columns=list(CANDLE_COLUMNS[1:]))
    frame.insert(
        0, "ts", pd.to_datetime(array[:, 0].astype("int64"), unit="ms", utc=True).astype(TS_DTYPE)
    )
    return frame


def candles_to_ohlcv(frame: pd.DataFrame) -> list[list[float]]:
    """The ccxt `fetch_ohlcv` rows `[ms, o, h, l, c, v]` of a candle frame."""
    ms = frame["ts"].astype(TS_DTYPE).astype("int64").to_numpy()
    values = frame[list(CANDLE_COLUMNS[1:])].to_numpy(dtype="float64")
    return [[int(t), *map(float, row)] for t, row in zip(ms, values, strict=True)]


def read_candle_file(path: str | Path) -> pd.DataFrame:
    """Read a candle file (`timestamp,open,high,low,close,volume`, UTC epoch open time) and
    pass it through the quality gate (`gate.validate_candles`).

    CSV, gzip'd CSV and Parquet are accepted. The timestamp unit is detected from the first
    row's magnitude (seconds, milliseconds, microseconds or nanoseconds of a date between 2000
    and 2100; every row must then be in that unit). Unsorted rows are sorted, with a logged
    warning. Anything else wrong (an unreadable or truncated file, a non-number, a duplicate
    open time, high < low, ...) is a `DataError` naming the file, the line, the field and the
    value.
    """
    path = Path(path)
    source = f"candle file {str(path)!r}"
    if not path.is_file():
        raise DataError(f"{source}: no such file")
    parquet = path.suffix == ".parquet"
    raw = _read_table(path, source, parquet)
    missing = [c for c in FILE_COLUMNS if c not in raw.columns]
    if missing:
        raise DataError(
            f"{source}: missing column(s) {missing}; expected header {','.join(FILE_COLUMNS)}"
        )

    def label(position: int) -> str:  # where a user finds the row in the file
        return f"row {position + 1}" if parquet else f"line {position + 2}"

    millis = epoch_millis(raw["timestamp"], source, label)
    order = np.argsort(millis, kind="stable")
    if len(millis) and (np.diff(millis) < 0).any():
        back = int(np.flatnonzero(np.diff(millis) < 0)[0]) + 1
        log.warning(
            "%s: rows are not in time order (%s opens before %s); sorted by timestamp",
            source,
            label(back),
            label(back - 1),
        )
    frame = pd.DataFrame({"ts": pd.to_datetime(millis[order], unit="ms", utc=True)})
    frame["ts"] = frame["ts"].astype(TS_DTYPE)
    for column in CANDLE_COLUMNS[1:]:
        frame[column] = _numbers(raw[column], column, source, label).to_numpy()[order]

    validate_candles(frame, source, row_label=lambda row: label(int(order[row])))
    return frame


def _read_table(path: Path, source: str, parquet: bool) -> pd.DataFrame:
    """The file's table, or a DataError saying why it cannot be read (truncated, binary, ...)."""
    try:
        return pd.read_parquet(path) if parquet else pd.read_csv(path)
    except EOFError:
        raise DataError(
            f"{source}: truncated: the compressed data ends before its end marker "
            "(an interrupted download or copy?)"
        ) from None
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{source}: not a text CSV file (binary byte {exc.object[exc.start]:#04x} at "
            f"offset {exc.start}); expected header {','.join(FILE_COLUMNS)}"
        ) from None
    except (ValueError, OSError, zlib.error) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{source}: cannot be read ({reason})") from None


def epoch_millis(values: pd.Series, source: str, label: Callable[[int], str]) -> np.ndarray:
    """Open times as int64 UTC epoch milliseconds, the unit detected from the first value.

    A value is read in the unit (s, ms, us, ns) that puts the first row between 2000 and 2100;
    a row outside that range in the same unit, a fraction of a millisecond or a non-number is
    a `BadCandles` error naming the row and the value.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        stamps = pd.to_datetime(values, utc=True)
        if stamps.isna().any():
            row = int(np.flatnonzero(stamps.isna().to_numpy())[0])
            raise BadCandles(f"{source}: {label(row)}: timestamp is empty")
        return stamps.astype(TS_DTYPE).astype("int64").to_numpy()
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.isna().any():
        row = int(np.flatnonzero(numbers.isna().to_numpy())[0])
        raise BadCandles(
            f"{source}: {label(row)}: timestamp={_cell(values.iloc[row])} is not an epoch time number"
        )
    if numbers.empty:
        return np.array([], dtype="int64")
    first = float(numbers.iloc[0])
    unit = next((u for u, scale in _MS_PER_UNIT.items() if _in_epoch_range(first * scale)), None)
    if unit is None:
        raise BadCandles(
            f"{source}: {label(0)}: timestamp={_cell(values.iloc[0])} is no epoch time in seconds, "
            "milliseconds, microseconds or nanoseconds between 2000 and 2100"
        )
    if pd.api.types.is_integer_dtype(numbers) and unit in ("us", "ns"):
        divisor = round(1 / _MS_PER_UNIT[unit])
        raw = numbers.to_numpy(dtype="int64")
        millis, fraction = raw // divisor, raw % divisor != 0
    else:
        scaled = numbers.to_numpy(dtype="float64") * _MS_PER_UNIT[unit]
        millis, fraction = np.round(scaled), np.abs(scaled - np.round(scaled)) > 1e-3
    outside = ~_in_epoch_range(millis)
    if outside.any() or fraction.any():
        row = int(np.flatnonzero(outside | fraction)[0])
        why = (
            f"not in the unit of {label(0)} ({_UNIT_NAMES[unit]}) between 2000 and 2100"
            if outside[row]
            else "not a whole millisecond"
        )
        raise BadCandles(f"{source}: {label(row)}: timestamp={_cell(values.iloc[row])} is {why}")
    if unit != "ms":
        log.warning(
            "%s: timestamps read as epoch %s (from their magnitude)", source, _UNIT_NAMES[unit]
        )
    return millis.astype("int64")


def _cell(value: object) -> str:
    """A file cell as the user wrote it: numbers bare, text quoted."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _in_epoch_range(millis: float | np.ndarray) -> bool | np.ndarray:
    return (millis >= _EPOCH_MS_RANGE[0]) & (millis < _EPOCH_MS_RANGE[1])


def _numbers(values: pd.Series, column: str, source: str, label: Callable[[int], str]) -> pd.Series:
    """A value column as float64; text that is not a number is a BadCandles error naming it."""
    numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    bad = numbers.isna() & values.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise BadCandles(
            f"{source}: {label(row)}: {column}={_cell(values.iloc[row])} is not a number"
        )
    return numbers


def slice_candles(frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Candles whose open time lies in [start, end)."""
    mask = (frame["ts"] >= start) & (frame["ts"] < end)
    return frame.loc[mask].reset_index(drop=True)


def resample_candles(frame: pd.DataFrame, timeframe: str) -> pd.DataFrame:
    """Aggregate candles to a coarser timeframe, labelled by open time (UTC).

    Open is the first open, high the max, low the min, close the last close and volume
    the sum of the candles inside each period. Periods with no candle are left out,
    never filled.
    """
    if frame.empty:
        return empty_candles()
    grouped = frame.set_index("ts").resample(pandas_freq(timeframe), label="left", closed="left")
    result = grouped.agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    )
    counts = grouped["close"].count()
    result = result.loc[counts > 0].reset_index()
    result["ts"] = result["ts"].astype(TS_DTYPE)
    return result[list(CANDLE_COLUMNS)]
