"""A rebalance (the path of `zvt strategy rebalance`) killed at each step, then run again.

The strategy holds half its 1000 USDT in BTC; candles close at 100, so its first decision
is a market buy of 0.5 × 1000 / 100 = 5 BTC. The child dies at one step; a minute of
candles is added (a new decision, so new client order ids) and the rebalance runs again
in a fresh process state. Whatever the step, afterwards:

* the venue holds exactly one buy of 5 BTC (nothing doubled), and the database holds each
  of its fills exactly once;
* on Binance (emulated) the buy fills at the 100.5 ask: 502.5 USDT plus a 10 bps fee of
  0.5025, so the account holds 1000 − 502.5 − 0.5025 = 496.9975 USDT and 5 BTC, and the
  strategy's booked balances (capital plus fills) say the same;
* the stored position is 5 BTC. The second decision wants 0.5 × 996.9975 / 100 = 4.98498
  BTC, a sale of 0.01502 BTC = 1.50 USDT, below the 5 USDT minimum notional: no order.
"""

from __future__ import annotations

from decimal import Decimal as D

import pandas as pd
import pytest

from tests.faults.support import (
    KILLED,
    START,
    DieAt,
    binance_markets,
    booked_balances,
    flat_candles,
    half_in_btc,
    in_child,
    table,
    venue_balances,
    venue_trades,
)
from zvt_pipelines.portfolio.position_store import load_positions
from zvt_pipelines.storage.database import Database
from zvt_pipelines.trading.reconciliation import LOST_WITH_PROCESS
from zvt_pipelines.trading.services import rebalance_now

pytestmark = pytest.mark.slow


def rebalance_child(db_url: str, markets, entry, step: str) -> None:  # noqa: ANN001
    rebalance_now(Database(db_url), markets, entry, fault_hook=DieAt(step))


@pytest.mark.parametrize("step", ["before_send", "after_send", "before_positions"])
def test_binance_rebalance_killed_then_rerun_buys_once(binance, db_url, step):
    em, book = binance
    db = Database(db_url)
    flat_candles(db, 180)
    markets, entry = binance_markets(em), half_in_btc()
    assert in_child(rebalance_child, db_url, markets, entry, step) == KILLED
    orders, executions = table(db)
    assert [o.status for o in orders] == ["SUBMITTED" if step != "before_positions" else "FILLED"]
    assert len(book.orders) == (0 if step == "before_send" else 1)

    flat_candles(db, 1, START + pd.Timedelta(minutes=180))
    second = rebalance_now(db, markets, entry)

    assert [o["side"].value for o in second.orders] == (["buy"] if step == "before_send" else [])
    assert [(o.side, o.type, o.quantity, o.status) for o in book.orders.values()] == [
        ("BUY", "MARKET", D("5"), "FILLED")
    ]
    orders, executions = table(db)
    assert [(e.execution_id, e.amount, e.price) for e in executions] == venue_trades(book)
    assert sum(e.fee for e in executions) == D("0.5025")
    assert (
        booked_balances(executions)
        == venue_balances(em)
        == {
            "USDT": D("496.9975"),
            "BTC": D("5"),
        }
    )
    (position,) = load_positions(db)
    assert position.quantity == D("5")
    if step == "before_send":  # the request never left: the venue does not know the order
        assert [o.status for o in orders] == ["REJECTED", "FILLED"]
        assert "does not know" in orders[0].reason
    else:  # the first buy was reconciled (fill booked once) and settled; nothing re-sent
        assert [o.status for o in orders] == ["SETTLED"]
    db.dispose()


def sim_candles(db: Database, day: str) -> None:
    """A day of simulated 1m candles of sim_a BTC/USDT (the default markets file)."""
    from tests.trading_support import MARKETS
    from zvt_pipelines.ingest.candles import ingest_range
    from zvt_pipelines.model.instrument import InstrumentId
    from zvt_pipelines.venues.factory import build_sources

    instrument = InstrumentId.parse("sim_a:BTC/USDT")
    start = pd.Timestamp(day, tz="UTC")
    end = start + pd.Timedelta(days=1)
    ingest_range(db, build_sources(MARKETS)[instrument.venue], instrument, "1m", start, end)


@pytest.mark.parametrize("step", ["before_send", "after_send", "before_positions"])
def test_paper_rebalance_killed_then_rerun_never_leaves_an_order_submitted(db_url, step):
    """On a paper venue the book dies with the process. An order killed after SUBMITTED
    (before or after the venue matched it) is closed REJECTED on the next run, which then
    buys at its own decision; a run killed after its fills keeps them and the next one
    only updates the position. Either way one filled buy, its fills once, position = fills."""
    from tests.trading_support import MARKETS

    db = Database(db_url)
    sim_candles(db, "2025-03-01")
    entry = half_in_btc("sim_a:BTC/USDT")
    assert in_child(rebalance_child, db_url, MARKETS, entry, step) == KILLED

    sim_candles(db, "2025-03-02")
    rebalance_now(db, MARKETS, entry)

    orders, executions = table(db)
    filled = [o for o in orders if o.status in ("FILLED", "SETTLED")]
    assert len(filled) == 1 and filled[0].side == "buy"
    assert {e.client_order_id for e in executions} == {filled[0].client_order_id}
    assert sum(e.amount for e in executions) == filled[0].filled == filled[0].amount
    (position,) = load_positions(db)
    assert position.quantity == filled[0].filled
    if step == "before_positions":
        assert [o.status for o in orders] == ["SETTLED"]
    else:
        assert [(o.status, o.reason) for o in orders[:1]] == [("REJECTED", LOST_WITH_PROCESS)]
    db.dispose()


def test_paper_resting_order_killed_after_its_fill_was_seen_books_it_once(db_url):
    """A GTC limit buy of 0.001 BTC at 53,900 rests at the end of 2025-03-01 (the day
    closes at 54,161.66). On 2025-03-02 the price dips to 53,811.71, so the next run's
    replay of the day's candles fills it; that run dies right after the paper venue
    reported the fill. The paper book died with it, but the order is put back from its
    OPEN row and the candles are replayed again: one fill of 0.001 at 53,900, once."""
    from tests.trading_support import MARKETS
    from zvt_pipelines.oms.manager import OrderManager
    from zvt_pipelines.oms.messages import EventBus
    from zvt_pipelines.oms.persistence import OrderRecorder
    from zvt_pipelines.trading.services import as_of_for, strategy_venues

    db = Database(db_url)
    sim_candles(db, "2025-03-01")
    entry = half_in_btc("sim_a:BTC/USDT")
    as_of = as_of_for(db, entry)
    venues = strategy_venues(db, MARKETS, entry, as_of)
    bus = EventBus()
    recorder = OrderRecorder(db).attach(bus)
    manager = OrderManager(venues, bus, clock=lambda: as_of.to_pydatetime())
    limit = manager.new_order(
        "sim_a", "BTC/USDT", "buy", "limit", D("0.001"), D("53900"), strategy="fixed"
    )
    assert manager.submit(limit).status.value == "OPEN"
    recorder.close()

    sim_candles(db, "2025-03-02")
    assert in_child(rebalance_child, db_url, MARKETS, entry, "fill_seen") == KILLED
    orders, executions = table(db)
    assert [o.status for o in orders] == ["OPEN"] and executions == []

    rebalance_now(db, MARKETS, entry)
    orders, executions = table(db)
    assert orders[0].status in ("FILLED", "SETTLED")
    assert [
        (e.amount, e.price) for e in executions if e.client_order_id == limit.client_order_id
    ] == [(D("0.001"), D("53900"))]
    (position,) = load_positions(db)
    assert position.quantity == sum(e.amount for e in executions)
    db.dispose()
