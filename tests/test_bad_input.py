"""Bad input through the real `zvt` command line: exit status 2, one stderr line naming the
field and the value, no traceback, and the trading database unchanged (row counts).

Every candle file below is a hand-written 48-hour 1h series (2024-01-01 00:00 UTC on, open
100+i, high 101+i, low 99+i, close 100.5+i, volume 10 for hour i), with one defect put in by
hand; line numbers count the header as line 1, so hour i sits on line i + 2.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from typer.testing import CliRunner

from zvt_pipelines.cli import app

REPO = Path(__file__).resolve().parent.parent
HEADER = "timestamp,open,high,low,close,volume"
START_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
HOUR_MS = 3_600_000
TABLES = ("market_ohlcv", "strategy_status", "audit_log")


def candle_rows(hours: int = 48) -> list[list[object]]:
    return [
        [START_MS + i * HOUR_MS, 100 + i, 101 + i, 99 + i, 100.5 + i, 10.0] for i in range(hours)
    ]


def csv_text(rows: list[list[object]]) -> str:
    return HEADER + "\n" + "\n".join(",".join(str(v) for v in row) for row in rows) + "\n"


def with_row(index: int, values: list[object]) -> str:
    rows = candle_rows()
    rows[index] = values
    return csv_text(rows)


def duplicated() -> str:
    rows = candle_rows()
    return csv_text([*rows[:5], rows[4], *rows[5:]])


def mixed_units() -> str:
    rows = candle_rows()
    rows[10][0] = rows[10][0] // 1000  # seconds among milliseconds
    return csv_text(rows)


# name -> (file content, fragments the one error line must hold)
CANDLE_CASES = {
    # hour 4 twice: lines 6 and 7
    "duplicate timestamp": (duplicated(), ["line 6", "ts=2024-01-01T04:00:00Z", "line 7"]),
    # hour 3 (line 5): high 98 under open and close 100 and low 99
    "high below low": (
        with_row(3, [START_MS + 3 * HOUR_MS, 100, 98, 99, 100, 10]),
        ["line 5", "high=98, low=99 breaks high_ge_low"],
    ),
    # hour 9 (line 11): open 105 above high 104
    "open above high": (
        with_row(9, [START_MS + 9 * HOUR_MS, 105, 104, 99, 100, 1]),
        ["line 11", "open=105", "high=104"],
    ),
    # hour 2 (line 4): close 97 below low 98
    "close below low": (
        with_row(2, [START_MS + 2 * HOUR_MS, 100, 101, 98, 97, 1]),
        ["line 4", "low=98", "close=97", "low_le_open_close"],
    ),
    "negative volume": (
        with_row(6, [START_MS + 6 * HOUR_MS, 100, 101, 99, 100, -5]),
        ["line 8", "volume=-5"],
    ),
    "NaN volume": (
        with_row(7, [START_MS + 7 * HOUR_MS, 100, 101, 99, 100, "nan"]),
        ["line 9", "volume=nan"],
    ),
    # hour 8 (line 10): open -1 and low -2 are the non-positive prices; high and close are fine
    "negative price": (
        with_row(8, [START_MS + 8 * HOUR_MS, -1, 1, -2, 0.5, 1]),
        ["line 10", "open=-1", "low=-2", "prices_positive"],
    ),
    "zero prices": (
        with_row(1, [START_MS + 1 * HOUR_MS, 0, 0, 0, 0, 1]),
        ["line 3", "open=0", "close=0"],
    ),
    # line 12 holds 1704103200 (seconds) while line 2 set the unit to milliseconds
    "mixed timestamp units": (mixed_units(), ["line 12", "timestamp=1704103200", "milliseconds"]),
    "timestamp in no unit": (
        csv_text([[12345, 1, 1, 1, 1, 1]]),
        ["line 2", "timestamp=12345"],
    ),
    # 04:30 instead of 04:00 on an hourly file
    "off the grid": (
        with_row(4, [START_MS + 4 * HOUR_MS + 1_800_000, 100, 101, 99, 100, 1]),
        ["line 6", "ts=2024-01-01T04:30:00Z", "ts_on_grid"],
    ),
    "text in a price": (
        with_row(5, [START_MS + 5 * HOUR_MS, "abc", 101, 99, 100, 1]),
        ["line 7", "open='abc'"],
    ),
    "missing column": ("timestamp,open,high,low,close\n1704067200000,1,1,1,1\n", ["'volume'"]),
}


@pytest.fixture
def home(tmp_path, db):
    """ZVT_HOME plus a trading database (SQLite, then PostgreSQL) holding 48 good candles and
    one deployed strategy, so "unchanged" is a comparison of non-zero row counts."""
    good = tmp_path / "good.csv"
    good.write_text(csv_text(candle_rows()))
    strategies = tmp_path / "strategies.yaml"
    strategies.write_text(strategy_yaml())
    env = {
        "ZVT_HOME": str(tmp_path / "home"),
        "ZVT_DATABASE_URL": db.url,
        "ZVT_STRATEGIES": str(strategies),
    }
    assert invoke(ingest_args(good), env).exit_code == 0
    assert invoke(["strategy", "sync"], env).exit_code == 0
    return tmp_path, env, db


def strategy_yaml(**changes: object) -> str:
    entry: dict[str, object] = {
        "name": "btc_sma",
        "type": "sma_cross",
        "symbol": "sim_a:BTC/USDT",
        "amount_per_trade": 100,
        "frequency": "1h",
        "params": {"fast": 10, "slow": 30},
    }
    entry.update(changes)
    entry = {key: value for key, value in entry.items() if value is not None}  # None drops a key
    return yaml.safe_dump({"strategies": [entry]}, sort_keys=False)


def ingest_args(path: Path) -> list[str]:
    return [
        "ingest",
        "--venue",
        "files",
        "--symbols",
        "BTC/USDT",
        "--start",
        "2024-01-01",
        "--end",
        "2024-01-03",
        "--timeframe",
        "1h",
        "--file",
        str(path),
    ]


def invoke(args: list[str], env: dict[str, str]):
    return CliRunner().invoke(app, args, env=env)


def row_counts(db) -> dict[str, int]:
    with db.engine.connect() as conn:
        return {t: conn.execute(sa.text(f"select count(*) from {t}")).scalar_one() for t in TABLES}


def assert_one_line_error(result, fragments: list[str]) -> None:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if not line.startswith("warning: ")]
    assert len(errors) == 1 and errors[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])


@pytest.mark.parametrize("case", sorted(CANDLE_CASES))
def test_bad_candle_file_is_refused_and_nothing_is_written(home, case):
    tmp_path, env, db = home
    content, fragments = CANDLE_CASES[case]
    bad = tmp_path / "bad.csv"
    bad.write_text(content)
    before = row_counts(db)
    assert before["market_ohlcv"] == 48
    result = invoke(ingest_args(bad), env)
    assert_one_line_error(result, ["bad.csv", *fragments])
    assert row_counts(db) == before


def test_truncated_and_binary_files_are_named_as_such(home):
    tmp_path, env, db = home
    whole = gzip.compress(csv_text(candle_rows()).encode())
    truncated = tmp_path / "cut.csv.gz"
    truncated.write_bytes(whole[: len(whole) // 2])
    binary = tmp_path / "blob.csv"
    binary.write_bytes(bytes([0x93, 0x00, 0xFF, 0x10]) * 64)
    before = row_counts(db)
    assert_one_line_error(invoke(ingest_args(truncated), env), ["cut.csv.gz", "truncated"])
    assert_one_line_error(invoke(ingest_args(binary), env), ["blob.csv", "binary byte 0x93"])
    assert row_counts(db) == before


CONFIG_CASES = {
    "huge leverage": (
        {"risk_limits": {"max_leverage": 1000000}},
        ["'risk_limits.max_leverage' = 1000000", "125"],
    ),
    "amount beyond any cap": ({"amount_per_trade": "1e400"}, ["'amount_per_trade' = '1e400'"]),
    "infinite amount": ({"amount_per_trade": float("inf")}, ["'amount_per_trade' = inf"]),
    "name longer than the column": ({"name": "n" * 65}, ["'name' = '" + "n" * 65, "64"]),
    "unknown venue": (
        {"symbol": "nowhere:BTC/USDT"},
        ["'symbols' = 'nowhere:BTC/USDT'", "venue 'nowhere'"],
    ),
    "instrument not collected": (
        {"symbol": "sim_a:DOGE/USDT"},
        ["'symbols' = 'sim_a:DOGE/USDT'", "instruments"],
    ),
    "zero frequency": ({"frequency": "0m"}, ["'frequency' = '0m'"]),
    "window beyond any history": (
        {"params": {"fast": 10, "slow": 10_000_000}},
        ["params.slow = 10000000"],
    ),
}


@pytest.mark.parametrize("case", sorted(CONFIG_CASES))
def test_bad_strategies_file_is_refused_at_deploy(home, case):
    tmp_path, env, db = home
    changes, fragments = CONFIG_CASES[case]
    strategies = tmp_path / "bad.yaml"
    strategies.write_text(strategy_yaml(**changes))
    before = row_counts(db)
    result = invoke(["strategy", "sync"], {**env, "ZVT_STRATEGIES": str(strategies)})
    assert_one_line_error(result, ["bad.yaml", *fragments])
    assert row_counts(db) == before


def test_fee_above_the_cap_is_refused(home):
    tmp_path, env, db = home
    strategies = tmp_path / "fees.yaml"
    strategies.write_text(
        strategy_yaml(
            name="arb",
            type="arb_cross",
            symbols=["sim_a:BTC/USDT", "sim_b:BTC/USDT"],
            symbol=None,
            params={"taker_fees": {"sim_a": 0.5, "sim_b": 0.001}},
        )
    )
    before = row_counts(db)
    result = invoke(["strategy", "sync"], {**env, "ZVT_STRATEGIES": str(strategies)})
    assert_one_line_error(result, ["fees.yaml", "params.taker_fees.sim_a = '0.5'"])
    assert row_counts(db) == before


@pytest.mark.parametrize(
    ("url", "fragments"),
    [
        (
            "postgresql://postgres:s3cret@127.0.0.1:1/zvt",
            ["postgresql+psycopg2://postgres:***@127.0.0.1:1/zvt", "cannot connect"],
        ),
        ("nodriver://u:s3cret@host/zvt", ["nodriver://u:***@host/zvt", "ZVT_DATABASE_URL"]),
        ("not a url at all", ["'not a url at all'", "ZVT_DATABASE_URL"]),
    ],
)
def test_bad_database_url_is_one_line_with_the_password_masked(tmp_path, url, fragments):
    result = invoke(["db", "upgrade"], {"ZVT_HOME": str(tmp_path), "ZVT_DATABASE_URL": url})
    assert_one_line_error(result, fragments)
    assert "s3cret" not in result.stderr


def test_missing_tables_name_the_table_and_the_fix(tmp_path):
    from zvt_pipelines.errors import DatabaseUnavailable
    from zvt_pipelines.storage.database import Database
    from zvt_pipelines.storage.market_data import count_candles

    database = Database(f"sqlite:///{tmp_path}/empty.db")  # never migrated
    with pytest.raises(
        DatabaseUnavailable, match="table 'market_ohlcv' is missing.*zvt db upgrade"
    ):
        count_candles(database)


def test_debug_shows_the_traceback_and_the_default_does_not(tmp_path):
    """Through the installed entry point, as a user runs it."""
    bad = tmp_path / "dup.csv"
    bad.write_text(duplicated())
    zvt = [sys.executable, "-m", "zvt_pipelines.cli"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZVT_")}
    env["ZVT_HOME"] = str(tmp_path / "home")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*zvt, *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=120
        )

    plain, debug = run(*ingest_args(bad)), run("--debug", *ingest_args(bad))
    assert plain.returncode == 2 and "Traceback" not in plain.stderr
    assert plain.stderr.strip().splitlines() == [
        "error: candle file "
        f"{str(bad)!r}: line 6 (2024-01-01T04:00:00Z): ts=2024-01-01T04:00:00Z breaks "
        "ts_unique (each open time appears once); also at line 7; 2 candles in all"
    ]
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr and "zvt_pipelines.errors.BadCandles" in debug.stderr


@pytest.mark.parametrize(
    "case", ["duplicate timestamp", "high below low", "negative volume", "mixed timestamp units"]
)
def test_backtest_refuses_the_bad_candle_files_too(tmp_path, case):
    content, fragments = CANDLE_CASES[case]
    bad = tmp_path / "bad.csv"
    bad.write_text(content)
    result = invoke(
        ["backtest", "--data", str(bad), "--no-track", "--json"], {"ZVT_HOME": str(tmp_path)}
    )
    assert_one_line_error(result, ["bad.csv", *fragments])
    assert result.stdout == ""


def test_backtest_reads_second_timestamps_as_seconds(tmp_path, shared_data):
    """The issue's case: a file in epoch seconds was read as milliseconds (1970 dates, a null
    Sharpe). Converted to seconds, 2,000 real hours give the same JSON summary as in ms."""
    import json

    source = gzip.decompress((shared_data / "binance_BTC-USDT_1h.csv.gz").read_bytes()).decode()
    header, *lines = source.splitlines()[:2001]
    millis, seconds = tmp_path / "ms.csv", tmp_path / "s.csv"
    millis.write_text("\n".join([header, *lines]) + "\n")
    seconds.write_text(
        "\n".join(
            [
                header,
                *(
                    f"{int(ts) // 1000},{rest}"
                    for ts, rest in (line.split(",", 1) for line in lines)
                ),
            ]
        )
        + "\n"
    )
    summaries = []
    for path in (millis, seconds):
        result = invoke(
            [
                "backtest",
                "--data",
                str(path),
                "--no-track",
                "--json",
                "--param",
                "fast=5",
                "--param",
                "slow=20",
            ],
            {"ZVT_HOME": str(tmp_path)},
        )
        assert result.exit_code == 0, result.stderr
        summaries.append(json.loads(result.stdout))
    assert summaries[0]["data"]["start"] == "2018-01-01T00:00:00+00:00"  # the README's first hour
    assert summaries[1] == summaries[0] and summaries[0]["metrics"]["sharpe"] is not None
    assert "timestamps read as epoch seconds" in result.stderr


def test_backtest_bad_start_is_one_line(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text(csv_text(candle_rows()))
    result = invoke(
        ["backtest", "--data", str(good), "--no-track", "--start", "notadate"],
        {"ZVT_HOME": str(tmp_path)},
    )
    assert_one_line_error(result, ["--start 'notadate'"])
