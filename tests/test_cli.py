"""The `zvt` command line: fast help, one-line errors, ingest into the database."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from zvt_pipelines.cli import app
from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.market_data import count_candles

HEAVY = ("dagster", "great_expectations", "mlflow", "ccxt")


def test_help_does_not_import_heavy_libraries():
    code = (
        "import sys, json\n"
        "from typer.testing import CliRunner\n"
        "from zvt_pipelines.cli import app\n"
        "for args in ([], ['--help'], ['ingest', '--help'], ['demo', '--help'], ['db', '--help']):\n"
        "    assert CliRunner().invoke(app, args).exit_code in (0, 2), args\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def run(args, tmp_path):
    env = {"ZVT_HOME": str(tmp_path / "home")}
    return CliRunner().invoke(app, args, env=env)


def test_bad_arguments_are_one_line_errors(tmp_path, shared_data):
    cases = {
        ("--start", "2025-06-xx"): "--start '2025-06-xx'",
        ("--timeframe", "9q"): "timeframe '9q'",
        ("--symbols", "btc-usdt"): "'files:btc-usdt'",
        ("--end", "2025-06-01"): "--end '2025-06-01'",
    }
    for change, expected in cases.items():
        args = {
            "--venue": "files",
            "--symbols": "BTC/USDT",
            "--start": "2025-06-02",
            "--end": "2025-06-03",
            "--file": str(shared_data / "binance_BTC-USDT_1m.csv.gz"),
        }
        args.update(dict([change]))
        result = run(["ingest", *[x for pair in args.items() for x in pair]], tmp_path)
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], (
            result.output
        )
    unknown = run(
        [
            "ingest",
            "--venue",
            "nowhere",
            "--symbols",
            "BTC/USDT",
            "--start",
            "2025-06-02",
            "--end",
            "2025-06-03",
        ],
        tmp_path,
    )
    assert unknown.exit_code == 2 and "--venue 'nowhere'" in unknown.output


def test_ingest_a_file_then_again_without_duplicates(tmp_path, shared_data):
    args = [
        "ingest",
        "--venue",
        "binance",
        "--symbols",
        "ETH/USDT",
        "--start",
        "2025-06-02",
        "--end",
        "2025-06-05",
        "--file",
        str(shared_data / "binance_ETH-USDT_1m.csv.gz"),
    ]
    for _ in range(2):
        result = run(args, tmp_path)
        assert result.exit_code == 0, result.output
        assert "4320 candles stored" in result.output and "0 missing" in result.output
    database = Database(f"sqlite:///{tmp_path / 'home' / 'zvt.db'}")
    assert count_candles(database, venue="binance", timeframe="1m") == 4320


def test_db_upgrade_reports_the_revision(tmp_path):
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from zvt_pipelines.storage.database import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    result = run(["db", "upgrade"], tmp_path)
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith(f"at revision {head}")


def test_ingest_from_a_ccxt_venue_through_the_markets_file(tmp_path, shared_data):
    """`zvt ingest` from a real ccxt.binance pointed (by the markets file) at the local
    Binance emulator: two days of 1m candles arrive exactly as the emulator serves them."""
    import pandas as pd
    import yaml

    from tests.fakes.binance_server import BinanceEmulator
    from zvt_pipelines.data.candles import read_candle_file, slice_candles
    from zvt_pipelines.storage.market_data import load_candles

    source = read_candle_file(shared_data / "binance_BTC-USDT_1m.csv.gz")
    start, end = pd.Timestamp("2025-06-05", tz="UTC"), pd.Timestamp("2025-06-07", tz="UTC")
    with BinanceEmulator() as emulator:
        emulator.set_candles("BTCUSDT", "1m", slice_candles(source, start, end))
        api = f"{emulator.base_url}/api/v3"
        markets = tmp_path / "markets.yaml"
        markets.write_text(
            yaml.safe_dump(
                {
                    "start_date": "2025-06-01",
                    "venues": {
                        "binance": {
                            "kind": "ccxt",
                            "exchange": "binance",
                            "urls": {"public": api, "private": api},
                            "options": {
                                "fetchMarkets": {"types": ["spot"]},
                                "fetchCurrencies": False,
                                "fetchMargins": False,
                            },
                        }
                    },
                    "instruments": ["binance:BTC/USDT"],
                }
            )
        )
        result = run(
            [
                "ingest",
                "--venue",
                "binance",
                "--symbols",
                "BTC/USDT",
                "--start",
                "2025-06-05",
                "--end",
                "2025-06-07",
                "--markets",
                str(markets),
            ],
            tmp_path,
        )
        pages = len(emulator.requests("/api/v3/klines"))
    assert result.exit_code == 0, result.output
    assert "2880 candles stored" in result.output and pages >= 3
    database = Database(f"sqlite:///{tmp_path / 'home' / 'zvt.db'}")
    pd.testing.assert_frame_equal(
        load_candles(database, "binance", "BTC/USDT", "1m"), slice_candles(source, start, end)
    )
