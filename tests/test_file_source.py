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
