"""The candle frame every part of the core exchanges, and conversions into and out of it.

A candle frame is a pandas DataFrame with columns `ts` (open time, datetime64[ms, UTC]),
`open`, `high`, `low`, `close`, `volume` (float64, volume in the base asset), sorted by `ts`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from zvt_pipelines.errors import DataError
from zvt_pipelines.model.timeframe import pandas_freq

PRICE_COLUMNS = ("open", "high", "low", "close")
CANDLE_COLUMNS = ("ts", *PRICE_COLUMNS, "volume")
FILE_COLUMNS = ("timestamp", *PRICE_COLUMNS, "volume")
TS_DTYPE = "datetime64[ms, UTC]"


def empty_candles() -> pd.DataFrame:
    """A candle frame with no rows and the right dtypes."""
    frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in CANDLE_COLUMNS})
    frame["ts"] = frame["ts"].astype(TS_DTYPE)
    return frame


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
    """Read a candle file (`timestamp,open,high,low,close,volume`, UTC ms open time).

    CSV, gzip'd CSV and Parquet are accepted. Rows are returned sorted by time; the
    values are not otherwise judged here (that is the quality suite's job).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"candle file {str(path)!r}: no such file")
    try:
        if path.suffix == ".parquet":
            raw = pd.read_parquet(path)
        else:
            raw = pd.read_csv(path, dtype={c: "float64" for c in FILE_COLUMNS[1:]})
    except (ValueError, OSError) as exc:
        raise DataError(f"candle file {str(path)!r}: cannot be read ({exc})") from exc
    missing = [c for c in FILE_COLUMNS if c not in raw.columns]
    if missing:
        raise DataError(
            f"candle file {str(path)!r}: missing column(s) {missing}; expected header {','.join(FILE_COLUMNS)}"
        )
    frame = raw[list(FILE_COLUMNS)].rename(columns={"timestamp": "ts"})
    frame["ts"] = pd.to_datetime(frame["ts"].astype("int64"), unit="ms", utc=True).astype(TS_DTYPE)
    for column in CANDLE_COLUMNS[1:]:
        frame[column] = frame[column].astype("float64")
    return frame.sort_values("ts", kind="stable").reset_index(drop=True)


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
