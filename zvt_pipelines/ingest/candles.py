"""Ingest one slice of candles from a source into the trading database."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from zvt_pipelines.data.gate import validate_candles
from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.model.timeframe import timeframe_ms
from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.market_data import replace_candles
from zvt_pipelines.venues.base import CandleSource, download_ohlcv


@dataclass(frozen=True)
class IngestSummary:
    """What one ingest wrote: row count, first/last candle and missing candles."""

    instrument: str
    timeframe: str
    start: pd.Timestamp
    end: pd.Timestamp
    rows: int
    first: pd.Timestamp | None
    last: pd.Timestamp | None

    @property
    def expected(self) -> int:
        """Candles a complete range would hold."""
        return int(
            (self.end - self.start) / pd.Timedelta(milliseconds=timeframe_ms(self.timeframe))
        )

    @property
    def missing(self) -> int:
        return self.expected - self.rows


def download_checked(
    source: CandleSource,
    instrument: InstrumentId,
    timeframe: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> pd.DataFrame:
    """Candles of [start, end) from `source` that passed the quality gate (else BadCandles)."""
    frame = download_ohlcv(source, instrument.symbol, timeframe, start, end)
    validate_candles(frame, f"{instrument} {timeframe} from {source.id!r}", timeframe, start, end)
    return frame


def store_range(
    db: Database,
    instrument: InstrumentId,
    timeframe: str,
    frame: pd.DataFrame,
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> IngestSummary:
    """Store checked candles as the contents of [start, end), replacing that range atomically."""
    rows = replace_candles(db, instrument.venue, instrument.symbol, timeframe, frame, start, end)
    return IngestSummary(
        instrument=str(instrument),
        timeframe=timeframe,
        start=start,
        end=end,
        rows=rows,
        first=frame["ts"].iloc[0] if rows else None,
        last=frame["ts"].iloc[-1] if rows else None,
    )


def ingest_range(
    db: Database,
    source: CandleSource,
    instrument: InstrumentId,
    timeframe: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> tuple[IngestSummary, pd.DataFrame]:
    """Download [start, end) from `source`, pass it through the quality gate and store it,
    replacing that range atomically; candles that fail the gate raise BadCandles, nothing stored."""
    frame = download_checked(source, instrument, timeframe, start, end)
    return store_range(db, instrument, timeframe, frame, start, end), frame
