"""The markets file: valid files load, and every bad entry names the file, key and value."""

from __future__ import annotations

import pytest

from zvt_pipelines.errors import ConfigError
from zvt_pipelines.markets import load_markets_config, parse_markets_config
from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.settings import DEFAULT_MARKETS, PROJECT_ROOT

VALID = {
    "start_date": "2024-01-01",
    "venues": {"sim_a": {"kind": "simulated"}, "binance": {"kind": "ccxt"}},
    "instruments": ["sim_a:BTC/USDT", "binance:ETH/USDT"],
}


def test_shipped_markets_files_are_valid():
    default = load_markets_config(DEFAULT_MARKETS)
    assert default.timeframe == "1m"
    assert {i.venue for i in default.instrument_ids()} == {"sim_a", "sim_b"}
    assert all(v.kind == "simulated" for v in default.venues.values())  # the demo needs no network
    for name in ("markets.shared-data.yaml", "markets.live.yaml"):
        load_markets_config(PROJECT_ROOT / "config" / name)


def test_instrument_ids_parse_and_print():
    instrument = InstrumentId.parse("binanceusdm:BTC/USDT:USDT")
    assert (instrument.venue, instrument.base, instrument.quote, instrument.settle) == (
        "binanceusdm",
        "BTC",
        "USDT",
        "USDT",
    )
    assert instrument.symbol == "BTC/USDT:USDT"
    assert str(InstrumentId.parse("sim_a:ETH/BTC")) == "sim_a:ETH/BTC"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"instruments": ["sim_a-BTC/USDT"]}, "'sim_a-BTC/USDT'"),
        ({"instruments": ["nowhere:BTC/USDT"]}, "venue 'nowhere'"),
        ({"instruments": ["sim_a:btc/USDT"]}, "'btc'"),
        ({"instruments": ["sim_a:BTC/USDT", "sim_a:BTC/USDT"]}, "listed twice"),
        ({"timeframe": "7x"}, "'7x'"),
        ({"start_date": "2024-13-01"}, "'start_date' = '2024-13-01'"),
        ({"venues": {"sim_a": {"kind": "paper"}}}, "'venues.sim_a.kind' = 'paper'"),
        ({"venues": {"sim_a": {"kind": "simulated", "sead": 3}}}, "'venues.sim_a.sead'"),
        (
            {"venues": {"files": {"kind": "file"}}, "instruments": ["files:BTC/USDT"]},
            "needs 'folder'",
        ),
    ],
)
def test_bad_entries_name_the_key_and_value(change, message):
    with pytest.raises(ConfigError) as error:
        parse_markets_config({**VALID, **change}, source="m.yaml")
    assert str(error.value).startswith("m.yaml: ")
    assert message in str(error.value)


def test_unreadable_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot be read"):
        load_markets_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("venues: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_markets_config(bad)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"timeframe": "0m"}, "'timeframe' = '0m'"),
        ({"timeframe": "7m"}, "'timeframe' = '7m'"),  # 1440 / 7 is no whole number
        ({"timeframe": "2d"}, "'timeframe' = '2d'"),  # longer than a daily partition
        ({"venues": {"v" * 33: {"kind": "simulated"}}}, "venue name '" + "v" * 33 + "'"),
        (
            {"venues": {"sim_a": {"kind": "simulated", "max_leverage": 200}}},
            "'venues.sim_a.max_leverage' = 200",
        ),
    ],
)
def test_values_beyond_the_bounds_name_the_key_and_value(change, message):
    with pytest.raises(ConfigError) as error:
        parse_markets_config({**VALID, **change}, source="m.yaml")
    assert str(error.value).startswith("m.yaml: ")
    assert message in str(error.value)


def test_deploy_refuses_what_the_markets_file_cannot_serve():
    """Enabled strategies only: a venue the file lacks, an instrument it does not collect and
    leverage above a venue's own cap (here 3x on sim_b) are refused; a disabled entry on an
    unknown venue is not judged."""
    from zvt_pipelines.strategies import parse_strategies_config
    from zvt_pipelines.trading.lifecycle import check_deployable

    markets = parse_markets_config(
        {
            **VALID,
            "venues": {
                "sim_a": {"kind": "simulated"},
                "sim_b": {"kind": "simulated", "max_leverage": 3},
            },
            "instruments": ["sim_a:BTC/USDT", "sim_b:BTC/USDT"],
        }
    )

    def entry(symbol, leverage=1, enabled=True):
        return {
            "name": "s",
            "type": "sma_cross",
            "symbol": symbol,
            "amount_per_trade": 10,
            "enabled": enabled,
            "risk_limits": {"max_leverage": leverage},
        }

    def check(**kwargs):
        strategies = parse_strategies_config([entry(**kwargs)]).strategies
        check_deployable(strategies, markets, "s.yaml")

    check(symbol="sim_b:BTC/USDT", leverage=3)
    check(symbol="elsewhere:BTC/USDT", enabled=False)
    cases = {
        "elsewhere:BTC/USDT": "'symbols' = 'elsewhere:BTC/USDT': venue 'elsewhere' is not defined",
        "sim_a:DOGE/USDT": "'symbols' = 'sim_a:DOGE/USDT': not among the markets file's instruments",
    }
    for symbol, message in cases.items():
        with pytest.raises(ConfigError, match=f"^s.yaml: strategy 's': key {message}"):
            check(symbol=symbol)
    with pytest.raises(ConfigError, match="'risk_limits.max_leverage' = 4: above venue 'sim_b'"):
        check(symbol="sim_b:BTC/USDT", leverage=4)
