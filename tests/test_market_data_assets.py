"""The market-data assets through Dagster: real candle files in, checked candles in the database."""

from __future__ import annotations

import gzip
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import yaml

from assets.partitions import partition_key
from definitions import build_definitions
from zvt_pipelines.data.candles import read_candle_file, slice_candles
from zvt_pipelines.settings import Settings
from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.market_data import count_candles, load_candles

DAY = "2025-06-10"


def write_markets(folder: Path, data_folder: Path, instruments: list[str]) -> Path:
    path = folder / "markets.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "start_date": "2025-06-02",
                "timeframe": "1m",
                "venues": {"binance": {"kind": "file", "folder": str(data_folder)}},
                "instruments": instruments,
            }
        )
    )
    return path


def settings_for(tmp_path: Path, markets: Path) -> Settings:
    return Settings(
        home=tmp_path / "home", database_url=f"sqlite:///{tmp_path}/zvt.db", markets_path=markets
    )


def run_partition(
    defs: dg.Definitions, instance: dg.DagsterInstance, instrument: str
) -> dg.ExecuteInProcessResult:
    job = defs.resolve_job_def("market_data")
    return job.execute_in_process(
        partition_key=partition_key(DAY, instrument), instance=instance, raise_on_error=False
    )


def check_evaluations(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {
        event.event_specific_data.asset_key.to_user_string(): event.event_specific_data.passed
        for event in result.all_events
        if event.event_type_value == "ASSET_CHECK_EVALUATION"
    }


def test_definitions_load_with_partitioned_graph(tmp_path, shared_data):
    defs = build_definitions(
        settings_for(tmp_path, write_markets(tmp_path, shared_data, ["binance:BTC/USDT"]))
    )
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {"ohlcv_1m", "ohlcv_1h", "ohlcv_1d"} <= keys
    partitions = graph.get(dg.AssetKey("ohlcv_1m")).partitions_def
    assert isinstance(partitions, dg.MultiPartitionsDefinition)
    assert partition_key(DAY, "binance:BTC/USDT") in partitions.get_partition_keys()
    assert len(defs.resolve_asset_graph().asset_check_keys) == 3


def test_real_day_is_stored_checked_resampled_and_idempotent(tmp_path, shared_data):
    settings = settings_for(tmp_path, write_markets(tmp_path, shared_data, ["binance:BTC/USDT"]))
    defs = build_definitions(settings)
    source = read_candle_file(shared_data / "binance_BTC-USDT_1m.csv.gz")
    day = slice_candles(
        source, pd.Timestamp(DAY, tz="UTC"), pd.Timestamp(DAY, tz="UTC") + pd.Timedelta(days=1)
    )
    db = Database(settings.database_url)
    with dg.instance_for_test() as instance:
        for _ in range(2):  # the second run re-materialises the same partition
            result = run_partition(defs, instance, "binance:BTC/USDT")
            assert result.success
            assert check_evaluations(result) == {
                "ohlcv_1m": True,
                "ohlcv_1h": True,
                "ohlcv_1d": True,
            }
            assert count_candles(db, timeframe="1m") == 1440
            assert count_candles(db, timeframe="1h") == 24
            assert count_candles(db, timeframe="1d") == 1
        materialization = instance.get_latest_materialization_event(
            dg.AssetKey("ohlcv_1m")
        ).asset_materialization
    pd.testing.assert_frame_equal(load_candles(db, "binance", "BTC/USDT", "1m"), day)
    daily = load_candles(db, "binance", "BTC/USDT", "1d").iloc[0]
    # the day's candle, computed independently from the raw rows
    assert daily["open"] == day["open"].iloc[0] and daily["close"] == day["close"].iloc[-1]
    assert daily["high"] == day["high"].max() and daily["low"] == day["low"].min()
    assert daily["volume"] == pytest.approx(day["volume"].sum(), rel=1e-12)
    assert materialization.metadata["dagster/row_count"].value == 1440
    assert materialization.metadata["missing_candles"].value == 0
    assert "data:image/png;base64," in materialization.metadata["chart"].value


def write_day(data: Path, day: pd.DataFrame) -> None:
    """The candles as the venue's 1m file (timestamp in ms, the shared data's format)."""
    raw = day.assign(timestamp=day["ts"].astype("int64"))[
        ["timestamp", "open", "high", "low", "close", "volume"]
    ]
    data.mkdir(exist_ok=True)
    with gzip.open(data / "binance_BTC-USDT_1m.csv.gz", "wt") as handle:
        raw.to_csv(handle, index=False)


def real_day(shared_data: Path) -> pd.DataFrame:
    source = read_candle_file(shared_data / "binance_BTC-USDT_1m.csv.gz")
    start = pd.Timestamp(DAY, tz="UTC")
    return slice_candles(source, start, start + pd.Timedelta(days=1))


def test_corrupt_candles_are_refused_by_the_asset_and_nothing_is_stored(tmp_path, shared_data):
    """The asset runs the same gate as `zvt ingest`: minute 100 of the day (01:40) with its
    high one below its low fails the step with the file, time, fields and values named;
    neither the 1m day nor its views are stored."""
    day = real_day(shared_data)
    day.loc[100, "high"] = day.loc[100, "low"] - 1.0  # high below low
    write_day(tmp_path / "data", day)
    settings = settings_for(
        tmp_path, write_markets(tmp_path, tmp_path / "data", ["binance:BTC/USDT"])
    )
    defs = build_definitions(settings)
    with dg.instance_for_test() as instance:
        result = run_partition(defs, instance, "binance:BTC/USDT")
        assert not result.success
        (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        error = failure.event_specific_data.error
        message = error.message + (error.cause.message if error.cause else "")
        assert "BadCandles" in message and "binance_BTC-USDT_1m.csv.gz" in message
        assert "line 102 (2025-06-10T01:40:00Z)" in message and "breaks high_ge_low" in message
        assert instance.get_latest_materialization_event(dg.AssetKey("ohlcv_1m")) is None
        assert instance.get_latest_materialization_event(dg.AssetKey("ohlcv_1h")) is None
    assert count_candles(Database(settings.database_url)) == 0


def test_gappy_day_is_stored_but_the_blocking_check_stops_downstream(tmp_path, shared_data):
    """Gaps are only a warning at the gate (the candles present are true), so the day is
    stored; the asset's blocking check then fails (1440 - 400 = 1040 present, 400 missing
    > 0.25 x 1440 = 360 allowed) and the 1h view is never built."""
    day = real_day(shared_data)
    write_day(tmp_path / "data", day.drop(index=range(500, 900)).reset_index(drop=True))
    settings = settings_for(
        tmp_path, write_markets(tmp_path, tmp_path / "data", ["binance:BTC/USDT"])
    )
    defs = build_definitions(settings)
    with dg.instance_for_test() as instance:
        result = run_partition(defs, instance, "binance:BTC/USDT")
        assert check_evaluations(result) == {"ohlcv_1m": False}
        assert instance.get_latest_materialization_event(dg.AssetKey("ohlcv_1h")) is None
    database = Database(settings.database_url)
    assert count_candles(database, timeframe="1m") == 1040
    assert count_candles(database, timeframe="1h") == 0


def test_daily_schedule_requests_the_closed_day_for_every_instrument(tmp_path, shared_data):
    instruments = ["binance:BTC/USDT", "binance:ETH/USDT"]
    defs = build_definitions(
        settings_for(tmp_path, write_markets(tmp_path, shared_data, instruments))
    )
    schedule = defs.resolve_schedule_def("market_data_daily")
    when = pd.Timestamp("2025-06-11 00:10", tz="UTC").to_pydatetime()
    with dg.instance_for_test() as instance:
        requests = schedule.evaluate_tick(
            dg.build_schedule_context(instance=instance, scheduled_execution_time=when)
        )
    keys = sorted(str(r.partition_key) for r in requests.run_requests)
    assert keys == [f"2025-06-10|{i}" for i in instruments]
