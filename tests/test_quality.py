"""The candle quality suite: real Binance data passes, each corruption fails its named rule,
and the pandas and Great Expectations engines agree rule by rule."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zvt_pipelines.data.candles import read_candle_file, resample_candles, slice_candles
from zvt_pipelines.data.quality import (
    QualityReport,
    QualitySettings,
    Severity,
    check_candles,
)
from zvt_pipelines.errors import BadTimeframe, ConfigError, DataError
from zvt_pipelines.model.candles import empty_candles

DAY = pd.Timedelta(days=1)
ONE_MINUTE = QualitySettings("1m")
ONE_HOUR = QualitySettings("1h")
OHLC_RULES = ("high_ge_open_close", "low_le_open_close", "high_ge_low", "prices_positive")

Engine = Callable[..., QualityReport]


@pytest.fixture(scope="module")
def gx_validate() -> Engine:
    """The GX engine; importing it here keeps the GX import cost to one per test module."""
    from zvt_pipelines.data.gx_suite import validate_with_great_expectations

    return validate_with_great_expectations


@pytest.fixture(scope="module")
def btc_1m(shared_data):
    return read_candle_file(shared_data / "binance_BTC-USDT_1m.csv.gz")


@pytest.fixture(scope="module")
def btc_1h(shared_data):
    return read_candle_file(shared_data / "binance_BTC-USDT_1h.csv.gz")


def utc_day(day: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    start = pd.Timestamp(day, tz="UTC")
    return start, start + DAY


def both_engines(gx_validate: Engine, frame, quality, start=None, end=None) -> QualityReport:
    """Run both engines, assert they agree on every rule, return the pandas report."""
    pure = check_candles(frame, quality, start, end)
    gx = gx_validate(frame, quality, start, end)
    assert gx.engine == "great_expectations" and pure.engine == "pandas"
    assert gx.checks == pure.checks  # name, verdict, severity, count, examples, description
    assert (gx.expected_candles, gx.missing_candles) == (
        pure.expected_candles,
        pure.missing_candles,
    )
    return pure


def failed_errors(report: QualityReport) -> set[str]:
    return {c.name for c in report.errors}


# --- real data ------------------------------------------------------------------------------


@pytest.mark.parametrize("day", ["2025-06-02", "2025-06-03", "2025-06-04"])
def test_real_1m_day_passes_both_engines(gx_validate, btc_1m, day):
    start, end = utc_day(day)
    report = both_engines(gx_validate, slice_candles(btc_1m, start, end), ONE_MINUTE, start, end)
    assert report.passed
    assert (report.row_count, report.expected_candles, report.missing_candles) == (1440, 1440, 0)


def test_real_1m_day_resampled_to_1h_and_1d_passes(gx_validate, btc_1m):
    start, end = utc_day("2025-06-10")
    day = slice_candles(btc_1m, start, end)
    hourly = both_engines(gx_validate, resample_candles(day, "1h"), ONE_HOUR, start, end)
    daily = both_engines(
        gx_validate, resample_candles(day, "1d"), QualitySettings("1d"), start, end
    )
    assert hourly.passed and hourly.expected_candles == 24
    assert daily.passed and daily.expected_candles == 1


def test_real_1h_maintenance_day_within_tolerance_passes(gx_validate, btc_1h):
    # README: Binance was down 5 hours on 2020-02-19, the gap starting after the 11:00 candle.
    start, end = utc_day("2020-02-19")
    report = both_engines(gx_validate, slice_candles(btc_1h, start, end), ONE_HOUR, start, end)
    missing = report.check("missing_candles")
    assert report.passed and missing.passed
    assert (report.expected_candles, report.missing_candles) == (24, 5)
    assert missing.examples[0] == "2020-02-19T12:00:00Z"


def test_real_1h_outage_day_2018_02_08_fails_missing_rule(gx_validate, btc_1h):
    # README: 33 hours missing after the 2018-02-08 00:00 candle: 23 on the 8th, 10 on the 9th.
    for day, missing in (("2018-02-08", 23), ("2018-02-09", 10)):
        start, end = utc_day(day)
        report = both_engines(gx_validate, slice_candles(btc_1h, start, end), ONE_HOUR, start, end)
        assert not report.passed
        assert failed_errors(report) == {"missing_candles"}
        assert report.missing_candles == missing
        assert "allowed 6" in report.check("missing_candles").description


def test_whole_1h_file_without_window_counts_readme_gaps(gx_validate, btc_1h):
    # README: 73,265 rows, 122 missing hours between 2018-01-01 00:00 and 2026-05-16 18:00.
    report = both_engines(gx_validate, btc_1h, ONE_HOUR)
    assert (report.row_count, report.expected_candles, report.missing_candles) == (
        73_265,
        73_387,
        122,
    )
    assert report.passed


# --- deliberate corruptions -----------------------------------------------------------------


def set_value(column: str, value: Callable[[pd.DataFrame], object], row: int = 10):
    def corrupt(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.copy()
        frame.loc[row, column] = value(frame)
        return frame

    return corrupt


def duplicate_row(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([frame.iloc[:11], frame.iloc[10:]]).reset_index(drop=True)


def swap_rows(frame: pd.DataFrame) -> pd.DataFrame:
    order = list(range(len(frame)))
    order[10], order[11] = 11, 10
    return frame.iloc[order].reset_index(drop=True)


def drop_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(index=range(100, 500)).reset_index(drop=True)


def append_next_day(frame: pd.DataFrame) -> pd.DataFrame:
    extra = frame.iloc[[-1]].assign(ts=frame["ts"].iloc[-1] + pd.Timedelta(minutes=1))
    return pd.concat([frame, extra]).reset_index(drop=True)


CORRUPTIONS = {
    # name: (corruption, failed error rules, the named rule, its failing count)
    "high below low": (
        set_value("high", lambda f: f.loc[10, "low"] - 1.0),
        {"high_ge_low", "high_ge_open_close"},
        "high_ge_low",
        1,
    ),
    "high below close": (
        set_value("close", lambda f: f.loc[10, "high"] + 5.0),
        {"high_ge_open_close"},
        "high_ge_open_close",
        1,
    ),
    "low above open": (
        set_value("open", lambda f: f.loc[10, "low"] - 5.0),
        {"low_le_open_close"},
        "low_le_open_close",
        1,
    ),
    # both copies of the repeated open time fail uniqueness; the copy fails ordering
    "duplicate timestamp": (duplicate_row, {"ts_unique", "ts_strictly_increasing"}, "ts_unique", 2),
    "out-of-order row": (swap_rows, {"ts_strictly_increasing"}, "ts_strictly_increasing", 1),
    "off-grid timestamp": (
        set_value("ts", lambda f: f.loc[10, "ts"] + pd.Timedelta(seconds=30)),
        {"ts_on_grid"},
        "ts_on_grid",
        1,
    ),
    "candle of the next day": (append_next_day, {"ts_in_range"}, "ts_in_range", 1),
    "400-minute gap": (drop_rows, {"missing_candles"}, "missing_candles", 400),
    "null close": (set_value("close", lambda f: np.nan), {"no_nulls"}, "no_nulls", 1),
    "null open time": (set_value("ts", lambda f: pd.NaT), {"no_nulls"}, "no_nulls", 1),
    "negative volume": (
        set_value("volume", lambda f: -0.5),
        {"volume_non_negative"},
        "volume_non_negative",
        1,
    ),
    "zero low price": (set_value("low", lambda f: 0.0), {"prices_positive"}, "prices_positive", 1),
}


@pytest.mark.parametrize("case", list(CORRUPTIONS))
def test_corruption_fails_named_rule_in_both_engines(gx_validate, btc_1m, case):
    corrupt, expected_failures, rule, count = CORRUPTIONS[case]
    start, end = utc_day("2025-06-03")
    frame = corrupt(slice_candles(btc_1m, start, end))
    report = both_engines(gx_validate, frame, ONE_MINUTE, start, end)
    assert not report.passed
    assert failed_errors(report) == expected_failures
    assert report.check(rule).failing_count == count
    assert report.check(rule).severity is Severity.ERROR


def test_empty_partition_fails_missing_rule(gx_validate):
    start, end = utc_day("2025-06-03")
    report = both_engines(gx_validate, empty_candles(), ONE_MINUTE, start, end)
    missing = report.check("missing_candles")
    assert failed_errors(report) == {"missing_candles"}
    assert (missing.failing_count, report.expected_candles) == (1440, 1440)
    assert "no candle at all" in missing.description
    assert missing.examples[:2] == ("2025-06-03T00:00:00Z", "2025-06-03T00:01:00Z")


def test_30_sigma_spike_warns_but_passes(gx_validate, btc_1m):
    start, end = utc_day("2025-06-03")
    frame = slice_candles(btc_1m, start, end)
    assert check_candles(frame, ONE_MINUTE, start, end).check("large_jumps").passed
    returns = np.diff(np.log(frame["close"].to_numpy()))
    mad_sigma = 1.4826 * np.median(np.abs(returns - np.median(returns)))
    spiked = frame.copy()
    spiked.loc[700, "close"] = spiked.loc[699, "close"] * np.exp(30 * mad_sigma)
    spiked.loc[700, "high"] = max(spiked.loc[700, "high"], spiked.loc[700, "close"])

    report = both_engines(gx_validate, spiked, ONE_MINUTE, start, end)
    jumps = report.check("large_jumps")
    assert report.passed
    assert report.warnings == (jumps,) and jumps.severity is Severity.WARNING
    # the jump up into candle 700 and the fall back into candle 701
    assert jumps.failing_count == 2
    assert jumps.examples[0].startswith(f"{spiked.loc[700, 'ts']:%Y-%m-%dT%H:%M:%SZ} close=")


def test_weekly_grid_opens_on_monday():
    mondays = pd.date_range("2024-01-01", periods=3, freq="7D", tz="UTC")  # 2024-01-01 is a Monday
    frame = pd.DataFrame(
        {"ts": mondays.astype("datetime64[ms, UTC]"), "open": 1.0, "high": 2.0, "low": 0.5}
    ).assign(close=1.5, volume=10.0)
    weekly = QualitySettings("1w")
    assert check_candles(frame, weekly).passed
    thursday = frame.assign(ts=frame["ts"] + pd.Timedelta(days=3))
    # off-grid candles fill no grid slot, so the Mondays between them count as missing too
    assert failed_errors(check_candles(thursday, weekly)) == {"ts_on_grid", "missing_candles"}


# --- settings, window and metadata ----------------------------------------------------------


def test_allowed_missing_is_a_floored_fraction():
    assert [ONE_HOUR.allowed_missing(n) for n in (24, 1440, 1, 0)] == [6, 360, 0, 0]
    assert QualitySettings("1m", max_missing_fraction=0.1).allowed_missing(1440) == 144


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"timeframe": "1x"}, BadTimeframe),
        ({"max_missing_fraction": 1.5}, ConfigError),
        ({"max_missing_fraction": float("nan")}, ConfigError),
        ({"jump_sigma": 0.0}, ConfigError),
    ],
)
def test_bad_settings_are_rejected(kwargs, error):
    with pytest.raises(error):
        QualitySettings(**kwargs)


def test_bad_window_or_frame_is_rejected(btc_1m):
    frame = btc_1m.iloc[:10]
    start = pd.Timestamp("2025-06-02", tz="UTC")
    with pytest.raises(ConfigError, match="both start and end"):
        check_candles(frame, ONE_MINUTE, start=start)
    with pytest.raises(ConfigError, match="timezone-aware"):
        check_candles(frame, ONE_MINUTE, pd.Timestamp("2025-06-02"), pd.Timestamp("2025-06-03"))
    with pytest.raises(ConfigError, match="before end"):
        check_candles(frame, ONE_MINUTE, start, start)
    with pytest.raises(DataError, match="volume"):
        check_candles(frame.drop(columns="volume"), ONE_MINUTE)


def test_metadata_is_flat_and_names_the_failure(btc_1m):
    start, end = utc_day("2025-06-03")
    frame = set_value("high", lambda f: f.loc[10, "low"] - 1.0)(slice_candles(btc_1m, start, end))
    metadata = check_candles(frame, ONE_MINUTE, start, end).as_metadata()
    assert all(isinstance(v, str | int | float | bool) for v in metadata.values())
    assert metadata["passed"] is False
    assert metadata["failed_errors"] == "high_ge_open_close, high_ge_low"
    assert metadata["high_ge_low.failing_count"] == 1
    assert metadata["high_ge_low.examples"].startswith("2025-06-03T00:10:00Z high=")
    assert metadata["window_start"] == "2025-06-03T00:00:00+00:00"
    assert (metadata["expected_candles"], metadata["missing_fraction"]) == (1440, 0.0)


# --- properties (pure engine) ---------------------------------------------------------------


@st.composite
def valid_candles(draw) -> pd.DataFrame:
    """Frames on the 1m grid whose open and close lie between a positive low and high."""
    rows = draw(st.integers(min_value=1, max_value=40))
    unit = st.floats(min_value=0.0, max_value=1.0)
    low = np.array(draw(st.lists(st.floats(1e-6, 1e6), min_size=rows, max_size=rows)))
    spread = np.array(draw(st.lists(st.floats(0.0, 2.0), min_size=rows, max_size=rows)))
    high = low * (1.0 + spread)
    position = np.array(draw(st.lists(st.tuples(unit, unit), min_size=rows, max_size=rows)))
    open_, close = (np.clip(low + position[:, k] * (high - low), low, high) for k in (0, 1))
    first = draw(st.integers(min_value=0, max_value=10_000_000)) * 60_000
    ts = pd.to_datetime(first + 60_000 * np.arange(rows), unit="ms", utc=True)
    return pd.DataFrame(
        {
            "ts": ts.astype("datetime64[ms, UTC]"),
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": draw(st.floats(0.0, 1e9)),
        }
    )


@settings(max_examples=60, deadline=None)
@given(valid_candles())
def test_valid_ohlc_frames_pass_every_error_rule(frame):
    report = check_candles(frame, ONE_MINUTE)
    assert report.passed
    assert all(report.check(rule).failing_count == 0 for rule in OHLC_RULES)


@settings(max_examples=60, deadline=None)
@given(valid_candles(), st.data())
def test_swapping_high_and_low_fails_high_ge_low(frame, data):
    wide = np.flatnonzero(frame["high"].to_numpy() > frame["low"].to_numpy())
    if len(wide) == 0:
        frame.loc[0, "high"] = frame.loc[0, "low"] * 1.5
        wide = np.array([0])
    row = int(data.draw(st.sampled_from(list(wide))))
    # scalar writes: on this mixed-dtype frame pandas 3.1 does not swap via .loc[row, [..]]
    high, low = frame.at[row, "high"], frame.at[row, "low"]
    frame.at[row, "high"], frame.at[row, "low"] = low, high
    report = check_candles(frame, ONE_MINUTE)
    assert report.check("high_ge_low").failing_count == 1
    assert "high_ge_low" in failed_errors(report)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 200), st.data())
def test_missing_count_equals_dropped_candles(rows, data):
    dropped = data.draw(st.sets(st.integers(0, rows - 1), max_size=rows))
    start = pd.Timestamp("2024-03-01", tz="UTC")
    ts = pd.date_range(start, periods=rows, freq="1h", tz="UTC").astype("datetime64[ms, UTC]")
    frame = pd.DataFrame({"ts": ts, "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0})
    frame = frame.assign(volume=0.0).drop(index=sorted(dropped)).reset_index(drop=True)
    report = check_candles(frame, ONE_HOUR, start, start + pd.Timedelta(hours=rows))
    assert (report.expected_candles, report.missing_candles) == (rows, len(dropped))
    assert report.check("missing_candles").passed == (len(dropped) <= rows // 4)
