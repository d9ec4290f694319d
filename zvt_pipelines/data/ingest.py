"""Ingest one slice of candles from a source into the trading database."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

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


def ingest_range(
    db: Database,
    source: CandleSource,
    instrument: InstrumentId,
    timeframe: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> tuple[IngestSummary, pd.DataFrame]:
    """Download [start, end) from `source` and store it, replacing that range atomically."""
    frame = download_ohlcv(source, instrument.symbol, timeframe, start, end)
    rows = replace_candles(db, instrument.venue, instrument.symbol, timeframe, frame, start, end)
    summary = IngestSummary(
        instrument=str(instrument),
        timeframe=timeframe,
        start=start,
        end=end,
        rows=rows,
        first=frame["ts"].iloc[0] if rows else None,
        last=frame["ts"].iloc[-1] if rows else None,
    )
    return summary, frame
