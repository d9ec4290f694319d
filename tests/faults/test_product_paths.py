"""The issue's case through the product: a rebalance killed after Binance filled its buy
(the venue has the order FILLED, the database SUBMITTED with no fill), then the Dagster
rebalance job, or `zvt reconcile`, on the next minute.

As in `test_rebalance_faults.py`: the killed run bought 5 BTC at 100.5 (fee 0.5025 USDT);
the next decision wants 4.98498 BTC, a 1.50 USDT sale below the 5 USDT minimum, so a run
that reconciles first sends nothing, while one that did not would buy 5 BTC again.
"""

from __future__ import annotations

import json
from decimal import Decimal as D

import dagster as dg
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from definitions import build_definitions
from tests.faults.support import (
    KILLED,
    START,
    DieAt,
    binance_markets,
    binance_markets_spec,
    binance_venue,
    booked_balances,
    flat_candles,
    half_in_btc,
    in_child,
    table,
    venue_balances,
)
from tests.trading_support import fixed_weight, write_strategies
from zvt_pipelines.cli import app
from zvt_pipelines.settings import Settings
from zvt_pipelines.storage.database import Database
from zvt_pipelines.trading.lifecycle import sync_strategies
from zvt_pipelines.trading.services import rebalance_now

pytestmark = pytest.mark.slow
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def killed_after_send(db_url: str, markets, entry) -> None:  # noqa: ANN001
    rebalance_now(Database(db_url), markets, entry, fault_hook=DieAt("after_send"))


@pytest.fixture
def killed_run(binance, tmp_path):
    """A SQLite trading database after the killed run, a minute of candles later, with the
    markets and strategies files of the deployment."""
    em, book = binance
    url = f"sqlite:///{tmp_path}/zvt.db"
    db = Database(url)
    db.upgrade()
    flat_candles(db, 180)
    entry = half_in_btc()
    assert in_child(killed_after_send, url, binance_markets(em), entry) == KILLED
    flat_candles(db, 1, START + pd.Timedelta(minutes=180))
    markets = tmp_path / "markets.yaml"
    markets.write_text(yaml.safe_dump(binance_markets_spec(em)))
    strategies = write_strategies(
        tmp_path / "strategies.yaml",
        [fixed_weight("fixed", 0.5, symbol="binance:BTC/USDT", capital=1000)],
    )
    (cid,) = [o.client_order_id for o in table(db)[0]]
    yield (
        db,
        em,
        book,
        cid,
        Settings(home=tmp_path, database_url=url, markets_path=markets, strategies_path=strategies),
    )
    db.dispose()


def test_the_dagster_rebalance_reconciles_first_and_does_not_buy_again(killed_run):
    db, em, book, cid, settings = killed_run
    sync_strategies(db, [half_in_btc()], actor="test")
    defs = build_definitions(settings)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("strategies", ["fixed"])
        result = defs.resolve_job_def("rebalance").execute_in_process(
            partition_key="fixed", instance=instance, run_config=QUIET
        )
    assert result.success
    (signals,) = [m for m in result.asset_materializations_for_node("strategy_signals")]
    metadata = {k: v.value for k, v in signals.metadata.items()}
    # one fill booked; SUBMITTED -> FILLED; then settled
    assert metadata["reconcile_fills_recorded"] == 1
    assert metadata["reconcile_repaired"] == 3
    assert metadata["reconcile_needs_attention"] == 0
    assert f"{cid} SUBMITTED->FILLED" in metadata["reconcile_summary"]
    (executed,) = result.asset_materializations_for_node("executed_orders")
    assert executed.metadata["orders_sent"].value == 0
    assert len(book.orders) == 1
    orders, executions = table(db)
    assert [o.status for o in orders] == ["SETTLED"]
    assert (
        booked_balances(executions)
        == venue_balances(em)
        == {
            "USDT": D("496.9975"),
            "BTC": D("5"),
        }
    )


def test_zvt_reconcile_prints_what_it_repaired(killed_run, tmp_path):
    db, em, book, cid, settings = killed_run
    env = {
        "ZVT_HOME": str(tmp_path),
        "ZVT_DATABASE_URL": settings.database_url,
        "ZVT_MARKETS": str(settings.markets_path),
        "ZVT_STRATEGIES": str(settings.strategies_path),
    }
    runner = CliRunner()
    first = runner.invoke(app, ["reconcile", "--strategy", "fixed", "--json"], env=env)
    assert first.exit_code == 0, first.output
    (report,) = json.loads(first.output)
    assert (report["strategy"], report["fills_recorded"], report["repaired"]) == ("fixed", 1, 3)
    assert report["changed"] == {cid: ["SUBMITTED", "FILLED"]} and report["settled"] == [cid]
    assert report["balances"]["binance"] == {
        "BTC": {"venue": "5", "booked": "5", "difference": "0"},
        "USDT": {"venue": "496.9975", "booked": "496.9975", "difference": "0"},
    }
    assert [o.status for o in table(db)[0]] == ["SETTLED"] and len(book.orders) == 1

    again = runner.invoke(app, ["reconcile"], env=env)
    assert again.exit_code == 0, again.output
    assert again.output.splitlines()[0] == (
        "fixed: 0 open orders checked, 0 fills recorded, 0 status changes, 0 settled, "
        "0 orphan orders, 0 unbooked trades"
    )
    assert "balance binance USDT: venue 496.9975, booked by the strategy 496.9975" in again.output

    unknown = runner.invoke(app, ["reconcile", "--strategy", "nope"], env=env)
    assert unknown.exit_code == 2
    assert unknown.output.strip() == (
        "error: --strategy 'nope': not in the strategies file (known: fixed)"
    )


def test_zvt_reconcile_lists_an_orphan_order_without_touching_it(killed_run, tmp_path):
    """An open order placed with a zvt client id that no database row knows (placed by a
    process whose database was lost, say) is listed, not canceled or adopted."""
    db, em, book, cid, settings = killed_run
    binance_venue(em.base_url).create_order(
        "BTC/USDT", "limit", "sell", 1, 120, {"clientOrderId": "zvt-ghost-1"}
    )
    env = {
        "ZVT_HOME": str(tmp_path),
        "ZVT_DATABASE_URL": settings.database_url,
        "ZVT_MARKETS": str(settings.markets_path),
        "ZVT_STRATEGIES": str(settings.strategies_path),
    }
    result = CliRunner().invoke(app, ["reconcile"], env=env)
    assert result.exit_code == 0, result.output
    assert (
        "  ORPHAN on binance: open order zvt-ghost-1 (sell 1.0 BTC/USDT) has no database row"
        in result.output.splitlines()
    )
    assert [o.status for o in book.orders.values()] == ["FILLED", "NEW"]


def test_a_strategy_that_cannot_be_reconciled_does_not_stop_the_others(killed_run, tmp_path):
    """`other` trades on a venue the markets file lacks: it is reported, `fixed` is still
    reconciled (its fill booked), and the command exits 2 with one error line."""
    db, em, book, cid, settings = killed_run
    strategies = write_strategies(
        tmp_path / "two.yaml",
        [
            fixed_weight("other", 0.5, symbol="elsewhere:BTC/USDT"),
            fixed_weight("fixed", 0.5, symbol="binance:BTC/USDT", capital=1000),
        ],
    )
    env = {
        "ZVT_HOME": str(tmp_path),
        "ZVT_DATABASE_URL": settings.database_url,
        "ZVT_MARKETS": str(settings.markets_path),
        "ZVT_STRATEGIES": str(strategies),
    }
    result = CliRunner().invoke(app, ["reconcile"], env=env)
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert (
        "other: not reconciled: venue 'elsewhere': not in the markets file (known: binance)"
        in lines
    )
    assert lines[-1] == "error: 1 of 2 strategies could not be reconciled: other"
    assert any(line.startswith("fixed: 1 open orders checked, 1 fills recorded") for line in lines)
    assert [o.status for o in table(db)[0]] == ["SETTLED"]


def test_zvt_strategy_rebalance_reconciles_first_and_says_so(killed_run, tmp_path):
    db, em, book, cid, settings = killed_run
    env = {
        "ZVT_HOME": str(tmp_path),
        "ZVT_DATABASE_URL": settings.database_url,
        "ZVT_MARKETS": str(settings.markets_path),
        "ZVT_STRATEGIES": str(settings.strategies_path),
    }
    result = CliRunner().invoke(app, ["strategy", "rebalance", "fixed"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert (
        f"warning: reconciliation: fixed: 1 open orders checked, 1 fills recorded, 1 status "
        f"changes ({cid} SUBMITTED->FILLED), 1 settled, 0 orphan orders, 0 unbooked trades"
    ) in lines
    assert any(line.startswith("fixed at ") and ": 0 orders, fees 0" in line for line in lines)
    assert len(book.orders) == 1 and venue_balances(em)["BTC"] == D("5")
