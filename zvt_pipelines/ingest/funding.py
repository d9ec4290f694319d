"""Funding rates of perpetual swaps: paging a venue's history, reading files, storing them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from zvt_pipelines.errors import DataError
from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.market_data import replace_funding_rates

FUNDING_COLUMNS = ("timestamp", "funding_rate")


def download_funding(
    venue: Any, symbol: str, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """Funding settlements in [start, end) from ccxt's `fetch_funding_rate_history`, paged."""
    since, end_ms, rows = int(start.value // 1_000_000), int(end.value // 1_000_000), []
    while since < end_ms:
        page = [
            r
            for r in venue.fetch_funding_rate_history(symbol, since=since, limit=100)
            if since <= r["timestamp"] < end_ms
        ]
        if not page:
            break
        rows.extend(page)
        since = int(page[-1]["timestamp"]) + 1
    frame = pd.DataFrame(
        {"ts": [r["timestamp"] for r in rows], "rate": [float(r["fundingRate"]) for r in rows]}
    )
    return _normalise(frame)


def read_funding_file(path: str | Path) -> pd.DataFrame:
    """A funding file with header `timestamp,funding_rate` (UTC ms; CSV, gzip'd CSV)."""
    path = Path(path)
    try:
        raw = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"funding file {str(path)!r}: cannot be read ({exc})") from exc
    missing = [c for c in FUNDING_COLUMNS if c not in raw.columns]
    if missing:
        raise DataError(
            f"funding file {str(path)!r}: missing column(s) {missing}; expected {','.join(FUNDING_COLUMNS)}"
        )
    return _normalise(raw.rename(columns={"timestamp": "ts", "funding_rate": "rate"}))


def _normalise(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.drop_duplicates("ts").sort_values("ts").reset_index(drop=True)
    frame["ts"] = pd.to_datetime(frame["ts"].astype("int64"), unit="ms", utc=True)
    frame["rate"] = frame["rate"].astype("float64")
    return frame[["ts", "rate"]]


def ingest_funding(
    db: Database,
    frame: pd.DataFrame,
    instrument: InstrumentId,
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> int:
    """Store the settlements of [start, end), replacing what was there (one transaction)."""
    window = frame.loc[(frame["ts"] >= start) & (frame["ts"] < end)]
    return replace_funding_rates(db, instrument.venue, instrument.symbol, window, start, end)
