"""Candles and funding rates in the trading database, written one partition at a time.

`replace_candles` deletes the partition's time range and inserts the new rows in one
transaction, so re-running a partition never duplicates rows and an interrupted write
leaves the previous contents in place. PostgreSQL gets a bulk `COPY`; SQLite a
DB-API `executemany`.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
import pandas as pd
import sqlalchemy as sa

from zvt_pipelines.errors import DataError, StorageError
from zvt_pipelines.model.candles import CANDLE_COLUMNS, TS_DTYPE, empty_candles
from zvt_pipelines.model.money import decimal_from_float
from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.models import FundingRate, MarketOhlcv
from zvt_pipelines.storage.types import utc_to_micros

_VALUE_COLUMNS = list(CANDLE_COLUMNS[1:])
_COPY_CHUNK = 20_000


def _decimal_text(values: np.ndarray) -> np.ndarray:
    """Shortest round-trip decimal text of float64 values (exactly what the source file said)."""
    if not np.isfinite(values).all():
        raise DataError("candles: prices and volumes must be finite numbers")
    return np.array(
        [np.format_float_positional(v, trim="-") for v in values.tolist()], dtype=object
    )


def replace_candles(
    db: Database,
    venue: str,
    symbol: str,
    timeframe: str,
    frame: pd.DataFrame,
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> int:
    """Store `frame` as the candles of [start, end), replacing what was there; returns rows written."""
    outside = (frame["ts"] < start) | (frame["ts"] >= end)
    if outside.any():
        first = frame.loc[outside, "ts"].iloc[0]
        raise DataError(f"candle at {first} lies outside the partition [{start}, {end})")
    for column in _VALUE_COLUMNS:
        if not np.isfinite(frame[column].to_numpy(dtype="float64")).all():
            raise DataError(
                f"candles: column {column!r} has a NaN or infinite value; nothing stored"
            )
    key = {"venue": venue, "symbol": symbol, "timeframe": timeframe}
    delete = sa.delete(MarketOhlcv).where(
        MarketOhlcv.venue == venue,
        MarketOhlcv.symbol == symbol,
        MarketOhlcv.timeframe == timeframe,
        MarketOhlcv.open_time >= start.to_pydatetime(),
        MarketOhlcv.open_time < end.to_pydatetime(),
    )
    driver_error = db.engine.dialect.dbapi.Error
    try:
        with db.engine.begin() as conn:
            conn.execute(delete)
            if frame.empty:
                return 0
            if db.dialect == "postgresql":
                _copy_postgres(conn, key, frame)
            else:
                _insert_sqlite(conn, key, frame)
    except (driver_error, sa.exc.DBAPIError) as exc:
        raise StorageError(
            f"candles of {venue} {symbol} {timeframe} [{start}, {end}) not stored, "
            f"the previous contents are kept: {str(exc).splitlines()[0]}"
        ) from exc
    return len(frame)


def _copy_postgres(conn: sa.Connection, key: dict[str, str], frame: pd.DataFrame) -> None:
    """Stream the rows into `COPY ... FROM STDIN` in chunks, so PostgreSQL parses one chunk
    while Python formats the next (the server runs in its own process)."""
    prefix = f"{key['venue']},{key['symbol']},{key['timeframe']},"
    times = np.datetime_as_string(frame["ts"].to_numpy(dtype="datetime64[ms]"), unit="ms")
    columns = [frame[c].to_numpy(dtype="float64") for c in _VALUE_COLUMNS]

    def chunks() -> Iterator[str]:
        for begin in range(0, len(frame), _COPY_CHUNK):
            stop = begin + _COPY_CHUNK
            values = [_decimal_text(column[begin:stop]) for column in columns]
            yield "".join(
                f"{prefix}{ts}Z,{o},{h},{lo},{c},{v}\n"
                for ts, o, h, lo, c, v in zip(times[begin:stop], *values, strict=True)
            )

    cursor = conn.connection.driver_connection.cursor()
    cursor.copy_expert(
        "COPY market_ohlcv (venue, symbol, timeframe, open_time, open, high, low, close, volume) "
        "FROM STDIN WITH (FORMAT csv)",
        _ChunkReader(chunks()),
        size=1 << 20,
    )
    cursor.close()


class _ChunkReader(io.TextIOBase):
    """A read-only text stream over an iterator of strings (what `copy_expert` reads from)."""

    def __init__(self, chunks: Iterator[str]) -> None:
        self._chunks = chunks
        self._buffer = ""

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> str:
        while size is None or size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size is None or size < 0:
            size = len(self._buffer)
        out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out


def _insert_sqlite(conn: sa.Connection, key: dict[str, str], frame: pd.DataFrame) -> None:
    micros = frame["ts"].to_numpy(dtype="datetime64[us]").astype("int64").tolist()
    values = [_decimal_text(frame[c].to_numpy(dtype="float64")) for c in _VALUE_COLUMNS]
    rows = zip(micros, *values, strict=True)
    cursor = conn.connection.driver_connection.cursor()
    cursor.executemany(
        "INSERT INTO market_ohlcv (venue, symbol, timeframe, open_time, open, high, low, close, volume) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ((key["venue"], key["symbol"], key["timeframe"], *row) for row in rows),
    )
    cursor.close()


def load_candles(
    db: Database,
    venue: str,
    symbol: str,
    timeframe: str,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Candles of one market and timeframe with open time in [start, end), as a candle frame."""
    query = sa.select(
        MarketOhlcv.open_time,
        MarketOhlcv.open,
        MarketOhlcv.high,
        MarketOhlcv.low,
        MarketOhlcv.close,
        MarketOhlcv.volume,
    ).where(
        MarketOhlcv.venue == venue, MarketOhlcv.symbol == symbol, MarketOhlcv.timeframe == timeframe
    )
    if start is not None:
        query = query.where(MarketOhlcv.open_time >= start.to_pydatetime())
    if end is not None:
        query = query.where(MarketOhlcv.open_time < end.to_pydatetime())
    with db.engine.connect() as conn:
        rows = conn.execute(query.order_by(MarketOhlcv.open_time)).all()
    if not rows:
        return empty_candles()
    frame = pd.DataFrame(rows, columns=list(CANDLE_COLUMNS))
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True).astype(TS_DTYPE)
    for column in _VALUE_COLUMNS:
        frame[column] = frame[column].astype("float64")
    return frame


def count_candles(db: Database, venue: str | None = None, timeframe: str | None = None) -> int:
    """How many candles are stored (optionally for one venue and/or timeframe)."""
    query = sa.select(sa.func.count()).select_from(MarketOhlcv)
    if venue is not None:
        query = query.where(MarketOhlcv.venue == venue)
    if timeframe is not None:
        query = query.where(MarketOhlcv.timeframe == timeframe)
    with db.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def replace_funding_rates(
    db: Database,
    venue: str,
    symbol: str,
    rates: pd.DataFrame,
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> int:
    """Store funding rates (columns `ts`, `rate`) of [start, end), replacing what was there."""
    delete = sa.delete(FundingRate).where(
        FundingRate.venue == venue,
        FundingRate.symbol == symbol,
        FundingRate.funding_time >= start.to_pydatetime(),
        FundingRate.funding_time < end.to_pydatetime(),
    )
    records = [
        {
            "venue": venue,
            "symbol": symbol,
            "funding_time": ts.to_pydatetime(),
            "rate": decimal_from_float(rate),
        }
        for ts, rate in zip(rates["ts"], rates["rate"], strict=True)
    ]
    with db.transaction() as session:
        session.execute(delete)
        if records:
            session.execute(sa.insert(FundingRate), records)
    return len(records)


__all__ = [
    "count_candles",
    "load_candles",
    "replace_candles",
    "replace_funding_rates",
    "utc_to_micros",
]
