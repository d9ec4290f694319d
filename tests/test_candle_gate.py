"""The gate `ingest_range` runs before storing (what `zvt ingest` and the candle asset call):
a bad candle from a venue stores nothing and keeps what the range held before."""

from __future__ import annotations

import pandas as pd
import pytest

from zvt_pipelines.errors import BadCandles
from zvt_pipelines.ingest.candles import ingest_range
from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.storage.market_data import load_candles

START = pd.Timestamp("2024-01-01", tz="UTC")
END = START + pd.Timedelta(days=1)
HOUR_MS = 3_600_000


class RowsSource:
    """A candle source serving fixed ccxt rows: a stand-in for a venue's `fetch_ohlcv`."""

    id = "rows"

    def __init__(self, rows: list[list[float]]) -> None:
        self.rows = rows

    def load_markets(self, reload: bool = False) -> dict:
        return {}

    def fetch_ohlcv(self, symbol, timeframe="1m", since=None, limit=None):
        return [row for row in self.rows if since is None or row[0] >= since][:limit]


def day_rows() -> list[list[float]]:
    """Hour i: open 100+i, high 101+i, low 99+i, close 100.5+i, volume 2."""
    start_ms = START.value // 1_000_000
    return [[start_ms + i * HOUR_MS, 100 + i, 101 + i, 99 + i, 100.5 + i, 2.0] for i in range(24)]


@pytest.mark.parametrize(
    ("hour", "change", "message"),
    [
        # low 110 above high 106 (it breaks low <= min(open, close) too; high < low is named)
        (5, {3: 110.0}, r"2024-01-01T05:00:00Z\): high=106, low=110 breaks high_ge_low"),
        (7, {5: -1.0}, r"2024-01-01T07:00:00Z\): volume=-1 breaks volume_non_negative"),
        (9, {1: 0.0, 3: 0.0}, r"2024-01-01T09:00:00Z\): open=0, low=0 breaks prices_positive"),
    ],
)
def test_bad_candle_from_a_venue_stores_nothing_and_keeps_the_range(db, hour, change, message):
    instrument = InstrumentId.parse("x:BTC/USDT")
    ingest_range(db, RowsSource(day_rows()), instrument, "1h", START, END)
    before = load_candles(db, "x", "BTC/USDT", "1h")
    rows = day_rows()
    for column, value in change.items():
        rows[hour][column] = value
    with pytest.raises(
        BadCandles, match=rf"^x:BTC/USDT 1h from 'rows': row {hour + 1} \(" + message
    ):
        ingest_range(db, RowsSource(rows), instrument, "1h", START, END)
    pd.testing.assert_frame_equal(load_candles(db, "x", "BTC/USDT", "1h"), before)
    assert len(before) == 24
