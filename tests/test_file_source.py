"""Candle files as a source: paging, resampling and errors, checked against the real files."""

from __future__ import annotations

import pandas as pd
import pytest

from zvt_pipelines.data.candles import read_candle_file, slice_candles
from zvt_pipelines.errors import BadTimeframe, DataError, UnknownSymbol
from zvt_pipelines.venues.base import download_ohlcv
from zvt_pipelines.venues.file_source import FileSource, SingleFileSource

PATTERN = "{exchange}_{base}-{quote}_{timeframe}.csv.gz"


def test_paging_a_multi_day_range_returns_exactly_the_file_rows(shared_data):
    source = FileSource("binance", shared_data, PATTERN)
    start, end = pd.Timestamp("2025-06-05", tz="UTC"), pd.Timestamp("2025-06-08", tz="UTC")
    frame = download_ohlcv(source, "BTC/USDT", "1m", start, end, page_limit=1000)
    expected = slice_candles(
        read_candle_file(shared_data / "binance_BTC-USDT_1m.csv.gz"), start, end
    )
    assert len(frame) == 3 * 1440
    pd.testing.assert_frame_equal(frame, expected)


def test_hourly_resampled_from_minutes_equals_the_exchanges_hourly_file(shared_data):
    """shared/data's README: the 1m files aggregated to hours equal Binance's 1h file exactly."""
    source = FileSource("binance", shared_data, "{exchange}_{base}-{quote}_{timeframe}.csv.gz")
    start, end = pd.Timestamp("2025-06-02", tz="UTC"), pd.Timestamp("2025-06-30", tz="UTC")
    minutes = read_candle_file(shared_data / "binance_BTC-USDT_1m.csv.gz")
    resampled = download_ohlcv(
        SingleFileSource("binance", shared_data / "binance_BTC-USDT_1m.csv.gz"),
        "BTC/USDT",
        "1h",
        start,
        end,
    )
    hourly = slice_candles(read_candle_file(shared_data / "binance_BTC-USDT_1h.csv.gz"), start, end)
    assert len(minutes) > 0 and len(resampled) == len(hourly) == 28 * 24
    for column in ("open", "high", "low", "close"):
        assert (resampled[column].to_numpy() == hourly[column].to_numpy()).all()
    assert resampled["volume"].to_numpy() == pytest.approx(hourly["volume"].to_numpy(), rel=1e-12)
    # the folder source picks the exchange's own 1h file for 1h
    direct = download_ohlcv(source, "BTC/USDT", "1h", start, end)
    pd.testing.assert_frame_equal(direct, hourly)


def test_gaps_stay_missing(shared_data):
    """Binance published no candle for 33 hours from 2018-02-08 00:00 (README of shared/data)."""
    source = FileSource("binance", shared_data, PATTERN)
    start, end = pd.Timestamp("2018-02-07", tz="UTC"), pd.Timestamp("2018-02-11", tz="UTC")
    frame = download_ohlcv(source, "BTC/USDT", "1h", start, end, page_limit=10)
    assert len(frame) == 4 * 24 - 33
    assert frame["ts"].is_monotonic_increasing and frame["ts"].is_unique


def test_markets_and_errors(shared_data, tmp_path):
    source = FileSource("binance", shared_data, PATTERN)
    assert {"BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT", "BNB/USDT"} <= set(
        source.load_markets()
    )
    with pytest.raises(UnknownSymbol, match="'DOGE/USDT'"):
        source.fetch_ohlcv("DOGE/USDT", "1m")
    with pytest.raises(BadTimeframe, match="'1m'"):
        source.fetch_ohlcv("SOL/USDT", "1m")  # SOL has only an hourly file
    with pytest.raises(BadTimeframe, match="'30s'"):
        source.fetch_ohlcv("BTC/USDT", "30s")
    with pytest.raises(BadTimeframe, match="60-minute"):
        SingleFileSource("x", shared_data / "binance_SOL-USDT_1h.csv.gz").fetch_ohlcv(
            "SOL/USDT", "1m"
        )
    bad = tmp_path / "bad.csv"
    bad.write_text("time,open,high,low,close\n1,1,1,1,1\n")
    with pytest.raises(DataError, match="missing column"):
        SingleFileSource("x", bad)


HOUR_MS = 3_600_000
START_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z


def hourly_rows(hours: int = 24) -> list[list[float]]:
    """Hour i: open 100+i, high 101+i, low 99+i, close 100.5+i, volume 1."""
    return [
        [START_MS + i * HOUR_MS, 100 + i, 101 + i, 99 + i, 100.5 + i, 1.0] for i in range(hours)
    ]


def write_csv(path, rows, to_unit=lambda ms: ms):
    lines = ["timestamp,open,high,low,close,volume"]
    lines += [",".join(str(v) for v in [to_unit(row[0]), *row[1:]]) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    ("unit", "to_unit"),
    [
        ("seconds", lambda ms: ms // 1000),  # 1704067200 for 2024-01-01T00:00Z
        ("microseconds", lambda ms: ms * 1000),
        ("nanoseconds", lambda ms: ms * 1_000_000),  # 1704067200000000000
    ],
)
def test_timestamp_unit_is_detected_from_the_magnitude(tmp_path, caplog, unit, to_unit):
    expected = read_candle_file(write_csv(tmp_path / "ms.csv", hourly_rows()))
    assert expected["ts"].iloc[0] == pd.Timestamp("2024-01-01T00:00:00Z")
    with caplog.at_level("WARNING"):
        frame = read_candle_file(write_csv(tmp_path / "other.csv", hourly_rows(), to_unit))
    pd.testing.assert_frame_equal(frame, expected)
    assert f"timestamps read as epoch {unit}" in caplog.text


def test_unsorted_rows_are_sorted_and_said_so(tmp_path, caplog):
    rows = hourly_rows()
    rows[2], rows[3] = rows[3], rows[2]  # hour 3 on line 4, hour 2 on line 5
    with caplog.at_level("WARNING"):
        frame = read_candle_file(write_csv(tmp_path / "shuffled.csv", rows))
    assert frame["ts"].is_monotonic_increasing and list(frame["open"][:4]) == [100, 101, 102, 103]
    assert "rows are not in time order (line 5 opens before line 4); sorted" in caplog.text


def test_a_gap_beyond_the_tolerance_is_a_warning_not_an_error(tmp_path, caplog):
    """Hours 0-9 and 20-23 of a day: 24 expected, 10 missing, tolerance floor(0.25 x 24) = 6."""
    rows = [row for i, row in enumerate(hourly_rows()) if not 10 <= i < 20]
    with caplog.at_level("WARNING"):
        frame = read_candle_file(write_csv(tmp_path / "gappy.csv", rows))
    assert len(frame) == 14
    assert "10 of 24 expected 1h candles missing (tolerance 6)" in caplog.text
    assert "first missing 2024-01-01T10:00:00Z" in caplog.text


def test_duplicated_timestamps_are_an_error_not_a_zero_division(tmp_path):
    rows = hourly_rows()
    rows.insert(5, list(rows[4]))  # hour 4 on lines 6 and 7
    with pytest.raises(DataError, match=r"line 6 .*ts_unique.*also at line 7"):
        SingleFileSource("x", write_csv(tmp_path / "dup.csv", rows))


def test_parquet_rows_are_counted_from_one(tmp_path):
    rows = hourly_rows()
    rows[3][5] = -2.0  # volume of the 4th row
    frame = pd.DataFrame(rows, columns=["timestamp", "open", "high", "low", "close", "volume"])
    frame.to_parquet(tmp_path / "c.parquet")
    with pytest.raises(DataError, match=r"row 4 \(2024-01-01T03:00:00Z\): volume=-2 breaks"):
        read_candle_file(tmp_path / "c.parquet")
