"""What a strategy sees at decision time: closed candles from the database, and prices."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import pandas as pd
import sqlalchemy as sa

from zvt_pipelines.data.candles import resample_candles
from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.model.money import decimal_from_float
from zvt_pipelines.model.timeframe import timeframe_ms
from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.market_data import load_candles
from zvt_pipelines.storage.models import MarketOhlcv

BASE_TIMEFRAME = "1m"


class CandleCache:
    """Candles per (instrument, timeframe, window), loaded once: a rebalance of many
    strategies on the same instruments reads each series one time."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._frames: dict[tuple[InstrumentId, str, pd.Timestamp, pd.Timestamp], pd.DataFrame] = {}

    def candles(
        self, instrument: InstrumentId, timeframe: str, start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DataFrame:
        """Candles opening in [start, end): stored at `timeframe`, else resampled from 1m."""
        key = (instrument, timeframe, start, end)
        if key not in self._frames:
            frame = load_candles(
                self.db, instrument.venue, instrument.symbol, timeframe, start, end
            )
            if frame.empty and timeframe != BASE_TIMEFRAME:
                base = load_candles(
                    self.db, instrument.venue, instrument.symbol, BASE_TIMEFRAME, start, end
                )
                frame = resample_candles(base, timeframe)
            self._frames[key] = frame
        return self._frames[key]


def latest_close(db: Database, instruments: Iterable[InstrumentId]) -> pd.Timestamp | None:
    """The latest moment at which every instrument has a closed 1m candle (None if one has none)."""
    closes = []
    with db.engine.connect() as conn:
        for instrument in instruments:
            last = conn.execute(
                sa.select(sa.func.max(MarketOhlcv.open_time)).where(
                    MarketOhlcv.venue == instrument.venue,
                    MarketOhlcv.symbol == instrument.symbol,
                    MarketOhlcv.timeframe == BASE_TIMEFRAME,
                )
            ).scalar_one()
            if last is None:
                return None
            if isinstance(last, int):  # SQLite stores microseconds
                last = pd.Timestamp(last, unit="us", tz="UTC")
            closes.append(
                pd.Timestamp(last) + pd.Timedelta(milliseconds=timeframe_ms(BASE_TIMEFRAME))
            )
    return min(closes) if closes else None


def decision_window(
    as_of: pd.Timestamp, timeframe: str, bars: int
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The [start, end) of the last `bars` candles of `timeframe` that closed by `as_of`."""
    step = pd.Timedelta(milliseconds=timeframe_ms(timeframe))
    end = as_of.floor(step) if timeframe_ms(timeframe) <= 86_400_000 else as_of
    return end - bars * step, end


def last_prices(frames: dict[InstrumentId, pd.DataFrame]) -> dict[InstrumentId, Decimal]:
    """The last close of each frame, as the exact decimal of the stored value."""
    return {
        instrument: decimal_from_float(frame["close"].iloc[-1])
        for instrument, frame in frames.items()
        if len(frame)
    }
