"""The strategies file: validation errors name file, strategy, key and value; registry;
fingerprints and diffs."""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path

import pytest

from zvt_pipelines.errors import ConfigError, UnknownStrategy
from zvt_pipelines.strategies import (
    BarStrategy,
    build_strategies,
    diff_configs,
    get_strategy,
    load_strategies_config,
    parse_strategies_config,
    register_strategy,
    strategy_fingerprint,
)
from zvt_pipelines.strategies.sma_cross import SmaCrossStrategy

REPO = Path(__file__).resolve().parent.parent

BASE = {
    "strategies": [
        {
            "name": "a",
            "type": "sma_cross",
            "symbol": "binance:BTC/USDT",
            "amount_per_trade": 100,
            "frequency": "1h",
            "params": {"fast": 5, "slow": 20},
            "risk_limits": {"max_allocation": 0.5, "max_position_size": 2},
        },
        {
            "name": "b",
            "type": "dca",
            "symbols": ["binance:ETH/USDT"],
            "amount_per_trade": "50",
            "frequency": "1d",
        },
    ]
}


def raw(**changes):
    document = copy.deepcopy(BASE)
    for path, value in changes.items():
        index, key = path.split("__", 1)
        target = document["strategies"][int(index)]
        keys = key.split("__")
        for part in keys[:-1]:
            target = target[part]
        target[keys[-1]] = value
    return document


def test_example_file_is_valid():
    config = load_strategies_config(REPO / "config" / "strategies.yaml")
    types = {entry.type for entry in config.strategies}
    assert {"sma_cross", "dca", "grid", "momentum", "mean_reversion", "market_making"} <= types
    strategies = build_strategies(config)
    assert len(strategies) == sum(entry.enabled for entry in config.strategies)


def test_valid_entry_builds_strategy_with_limits():
    config = parse_strategies_config(BASE)
    first = build_strategies(config)[0]
    assert isinstance(first, SmaCrossStrategy) and first.label == "a"
    assert first.params.fast == 5 and first.amount_per_trade == Decimal(100)
    assert first.risk_limits.max_allocation == Decimal("0.5")
    assert first.risk_limits.max_position_size == {"binance:BTC/USDT": Decimal(2)}
    assert config.strategies[0].exchanges == ["binance"]


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"0__params__fast": "x"}, "strategy 'a': key 'params.fast' = 'x'"),
        ({"0__params__fast": 30}, "strategy 'a': key 'params' "),
        ({"0__params__speed": 3}, "strategy 'a': key 'params.speed' = 3"),
        ({"1__amount_per_trade": -1}, "strategy 'b': key 'amount_per_trade' = -1"),
        ({"1__frequency": "5x"}, "strategy 'b': key 'frequency' = '5x'"),
        ({"0__symbol": "BTCUSDT"}, "strategy 'a': key 'symbols' = ['BTCUSDT']"),
        ({"0__risk_limits__stop_loss": 2}, "strategy 'a': key 'risk_limits.stop_loss' = 2"),
        ({"0__exchanges": ["kraken"]}, "which 'exchanges' does not list"),
        ({"0__colour": "red"}, "strategy 'a': key 'colour' = 'red'"),
    ],
)
def test_bad_field_names_file_strategy_key_value(changes, fragment):
    with pytest.raises(ConfigError) as caught:
        parse_strategies_config(raw(**changes), source="s.yaml")
    assert str(caught.value).startswith("s.yaml: ")
    assert fragment in str(caught.value)


def test_unknown_type_lists_known_types():
    with pytest.raises(
        ConfigError, match=r"unknown strategy type 'nope'; known types: .*sma_cross"
    ):
        parse_strategies_config(raw(**{"0__type": "nope"}), source="s.yaml")
    with pytest.raises(UnknownStrategy, match="arb_cross, arb_funding"):
        get_strategy("nope")


def test_duplicate_names_rejected():
    with pytest.raises(ConfigError, match=r"repeated: \['a'\]"):
        parse_strategies_config(raw(**{"1__name": "a"}), source="s.yaml")


def test_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("strategies: [\n")
    with pytest.raises(ConfigError, match=r"bad.yaml.*not valid YAML"):
        load_strategies_config(bad)
    with pytest.raises(ConfigError, match="cannot be read"):
        load_strategies_config(tmp_path / "missing.yaml")


def test_user_strategy_registers_and_loads_from_yaml():
    @register_strategy("always_long_test")
    class AlwaysLong(BarStrategy):
        def target_series(self, frame):
            return [1.0] * len(frame)

    document = raw(**{"0__type": "always_long_test", "0__params": {}})
    strategy = build_strategies(parse_strategies_config(document))[0]
    assert isinstance(strategy, AlwaysLong) and strategy.strategy_type == "always_long_test"
    with pytest.raises(ConfigError, match="already registered"):

        @register_strategy("always_long_test")
        class Other(BarStrategy):
            def target_series(self, frame):
                return []


def test_fingerprint_is_stable_and_sensitive():
    one = parse_strategies_config(BASE).strategies[0]
    reordered = dict(reversed(list(BASE["strategies"][0].items())))
    two = parse_strategies_config([reordered]).strategies[0]
    assert strategy_fingerprint(one) == strategy_fingerprint(two)
    assert len(strategy_fingerprint(one)) == 64
    changed = parse_strategies_config(raw(**{"0__params__fast": 6})).strategies[0]
    assert strategy_fingerprint(changed) != strategy_fingerprint(one)


def test_diff_configs_reports_added_removed_changed():
    old = parse_strategies_config(BASE)
    document = raw(**{"0__params__fast": 7, "0__enabled": False})
    document["strategies"].pop(1)
    document["strategies"].append({**BASE["strategies"][1], "name": "c"})
    diff = diff_configs(old, parse_strategies_config(document))
    assert diff.added == ("c",) and diff.removed == ("b",)
    changes = {change.key: (change.old, change.new) for change in diff.changed["a"]}
    assert changes == {"params.fast": (5, 7), "enabled": (True, False)}
    assert diff_configs(old, old).empty


def test_modules_key_imports_user_families_before_validation(tmp_path):
    """A strategies file can name the modules that register its families, so a fresh
    process (the Dagster daemon) knows their types; a missing module names itself."""
    import sys

    (tmp_path / "my_families.py").write_text(
        "import numpy as np\n"
        "from zvt_pipelines.strategies import BarStrategy, register_strategy\n"
        "@register_strategy('flat_user_family')\n"
        "class Flat(BarStrategy):\n"
        "    def target_series(self, frame):\n"
        "        return np.zeros(len(frame))\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        entry = {
            "name": "u",
            "type": "flat_user_family",
            "symbol": "sim_a:BTC/USDT",
            "amount_per_trade": 1,
        }
        config = parse_strategies_config(
            {"modules": ["my_families"], "strategies": [entry]}, source="s.yaml"
        )
        assert config.strategies[0].type == "flat_user_family"
        with pytest.raises(ConfigError, match="'modules' = 'no_such_module'"):
            parse_strategies_config(
                {"modules": ["no_such_module"], "strategies": [entry]}, source="s.yaml"
            )
    finally:
        sys.path.remove(str(tmp_path))


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        # the global leverage cap is 125 (Binance USD-M's highest)
        ({"0__risk_limits__max_leverage": 1000000}, "key 'risk_limits.max_leverage' = 1000000"),
        ({"0__amount_per_trade": "1e400"}, "key 'amount_per_trade' = '1e400'"),
        ({"0__amount_per_trade": float("inf")}, "key 'amount_per_trade' = inf"),
        ({"0__amount_per_trade": float("nan")}, "key 'amount_per_trade' = nan"),
        ({"0__capital": 2e9}, "key 'capital' = 2000000000.0"),
        ({"0__risk_limits__daily_loss_limit": "1e12"}, "key 'risk_limits.daily_loss_limit'"),
        ({"0__name": "x" * 65}, "key 'name' = '" + "x" * 65 + "'"),
        ({"0__frequency": "0m"}, "key 'frequency' = '0m'"),
        ({"0__frequency": "60d"}, "key 'frequency' = '60d'"),
        ({"0__params__slow": 100_001}, "params.slow = 100001"),
    ],
)
def test_values_beyond_the_bounds_name_key_and_value(changes, fragment):
    with pytest.raises(ConfigError) as caught:
        parse_strategies_config(raw(**changes), source="s.yaml")
    assert str(caught.value).startswith("s.yaml: strategy ")
    assert fragment in str(caught.value)


def test_values_at_the_bounds_are_accepted():
    """The caps are inclusive: a 64-character name, 125x leverage, 1e9 per trade, a 30-day
    frequency and a 100000-bar window all load."""
    document = raw(
        **{
            "0__name": "x" * 64,
            "0__risk_limits__max_leverage": 125,
            "0__amount_per_trade": "1000000000",
            "0__frequency": "30d",
            "0__params__slow": 100_000,
        }
    )
    (entry, _) = parse_strategies_config(document).strategies
    assert (entry.name, entry.risk_limits.max_leverage, entry.amount_per_trade) == (
        "x" * 64,
        Decimal(125),
        Decimal(1_000_000_000),
    )


@pytest.mark.parametrize(("fee", "accepted"), [(0.05, True), (0.0501, False), (-0.001, False)])
def test_fee_rates_lie_between_zero_and_five_percent(fee, accepted):
    document = {
        "strategies": [
            {
                "name": "arb",
                "type": "arb_cross",
                "symbols": ["sim_a:BTC/USDT", "sim_b:BTC/USDT"],
                "amount_per_trade": 100,
                "params": {"taker_fees": {"sim_a": fee, "sim_b": 0.001}},
            }
        ]
    }
    if accepted:
        parse_strategies_config(document)
        return
    with pytest.raises(ConfigError, match=rf"params.taker_fees.sim_a = '{fee}'"):
        parse_strategies_config(document)
