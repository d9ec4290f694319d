"""The order manager killed after a fill it has not recorded, and in the middle of a TWAP.

Each trader is a forked child (a real `ccxt.binance` on the emulator, or a paper venue) that
dies at a named step of the order path; the restart reconciles through
`reconcile_strategy`, the step every rebalance and `zvt reconcile` run first.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from tests.faults.support import (
    KILLED,
    DieAt,
    binance_venue,
    booked_balances,
    half_in_btc,
    in_child,
    table,
    venue_balances,
    venue_trades,
)
from zvt_pipelines.oms.algo_sink import ManagerSink
from zvt_pipelines.oms.algos import twap
from zvt_pipelines.oms.algos.base import AlgoState, ChildOrder
from zvt_pipelines.oms.manager import OrderManager
from zvt_pipelines.oms.messages import EventBus
from zvt_pipelines.oms.persistence import OrderRecorder
from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.models import CryptoExecution, CryptoOrder
from zvt_pipelines.trading.reconciliation import reconcile_strategy
from zvt_pipelines.venues.paper import FixedMarketData, PaperVenue, spot_market

pytestmark = pytest.mark.slow
SYMBOL = "BTC/USDT"
T0 = datetime(2025, 3, 2, 12, tzinfo=UTC)


def manager_on(db: Database, venue) -> OrderManager:  # noqa: ANN001
    bus = EventBus()
    OrderRecorder(db).attach(bus)
    return OrderManager({"binance": venue}, bus)


def reconcile_child(db_url: str, base_url: str, step: str) -> None:
    entry = half_in_btc()
    venues = {"binance": binance_venue(base_url, DieAt(step))}
    reconcile_strategy(Database(db_url), entry, venues, lambda: datetime.now(UTC))


def test_killed_after_the_venue_reported_a_fill_books_it_once(binance, db_url):
    """A limit buy of 1 BTC at 99 rests (OPEN recorded). The market trades at 99: Binance
    fills it as maker (99 USDT + 0.099 fee). The next reconciliation dies right after the
    venue reported the fill; the one after books it: one execution, 1000 − 99.099 = 900.901
    USDT and 1 BTC on both sides."""
    em, book = binance
    db = Database(db_url)
    manager = manager_on(db, binance_venue(em.base_url))
    order = manager.new_order("binance", SYMBOL, "buy", "limit", D("1"), D("99"), strategy="fixed")
    assert manager.submit(order).status.value == "OPEN"
    assert book.trade_at("BTCUSDT", "99") == 1

    assert in_child(reconcile_child, db_url, em.base_url, "fill_seen") == KILLED
    orders, executions = table(db)
    assert [o.status for o in orders] == ["OPEN"] and executions == []

    report = reconcile_strategy(
        db, half_in_btc(), {"binance": binance_venue(em.base_url)}, lambda: datetime.now(UTC)
    )
    assert (report.fills_recorded, report.changed) == (
        1,
        {order.client_order_id: ("OPEN", "FILLED")},
    )
    orders, executions = table(db)
    assert [(e.execution_id, e.amount, e.price) for e in executions] == venue_trades(book)
    assert (
        booked_balances(executions)
        == venue_balances(em)
        == {
            "USDT": D("900.901"),
            "BTC": D("1"),
        }
    )
    assert report.balances["binance"] == {
        "BTC": {"venue": "1", "booked": "1", "difference": "0"},
        "USDT": {"venue": "900.901", "booked": "900.901", "difference": "0"},
    }  # the account started with the strategy's capital, 1000 USDT
    again = reconcile_strategy(
        db, half_in_btc(), {"binance": binance_venue(em.base_url)}, lambda: datetime.now(UTC)
    )
    assert (again.fills_recorded, again.changed, len(table(db)[1])) == (0, {}, 1)
    db.dispose()


def twap_child(db_url: str, base_url: str) -> None:
    """Buy 5 BTC as a TWAP of five 1-BTC market children a minute apart; die right after the
    venue accepted the third child, before the manager recorded its answer."""
    db = Database(db_url)
    manager = manager_on(db, binance_venue(base_url, DieAt("after_send", 3)))
    sink = ManagerSink(manager, strategy="fixed")
    parent = sink.attach(twap_parent(sink))
    for minute in range(5):
        parent.on_tick(T0 + timedelta(minutes=minute))
        sink.deliver()


def twap_parent(sink: ManagerSink):  # noqa: ANN201
    return twap(
        "twap1",
        SYMBOL,
        "buy",
        D("5"),
        start=T0,
        duration=timedelta(minutes=5),
        interval=timedelta(minutes=1),
        venue="binance",
        sink=sink,
        amount_step=D("0.00001"),
    )


def test_twap_killed_mid_parent_resumes_without_doubling_a_child(binance, db_url):
    """Children twap1-1 and -2 are recorded FILLED; twap1-3 filled at Binance but the
    database says SUBMITTED. Reconciliation books its fill (3 fills, 3 venue trades) and
    settles all three; the parent resumed from its recorded children sends only twap1-4
    and twap1-5. Binance would accept "twap1-1" again (its order is filled), so a parent
    restarted from scratch would buy twice: the resumed one never reuses an id.
    Total: five 1-BTC buys at 100.5, 502.5 + 0.5025 USDT."""
    em, book = binance
    assert in_child(twap_child, db_url, em.base_url) == KILLED
    db = Database(db_url)
    orders, _ = table(db)
    assert [(o.client_order_id, o.status) for o in orders] == [
        ("twap1-1", "FILLED"),
        ("twap1-2", "FILLED"),
        ("twap1-3", "SUBMITTED"),
    ]
    assert len(book.orders) == 3

    venue = binance_venue(em.base_url)
    report = reconcile_strategy(db, half_in_btc(), {"binance": venue}, lambda: datetime.now(UTC))
    assert report.fills_recorded == 1 and sorted(report.settled) == [
        "twap1-1",
        "twap1-2",
        "twap1-3",
    ]

    manager = manager_on(db, venue)
    sink = ManagerSink(manager, strategy="fixed")
    parent = sink.attach(twap_parent(sink))
    with db.transaction() as session:
        rows = session.scalars(
            sa.select(CryptoOrder).where(CryptoOrder.parent_client_order_id == "twap1")
        ).all()
        fill_ids = set(session.scalars(sa.select(CryptoExecution.execution_id)))
    parent.resume(
        [ChildOrder(r.client_order_id, r.amount, r.created_at, r.filled, live=False) for r in rows],
        fill_ids,
    )
    for minute in range(3, 6):
        parent.on_tick(T0 + timedelta(minutes=minute))
        sink.deliver()
    assert parent.state is AlgoState.COMPLETED and parent.filled == D("5")

    orders, executions = table(db)
    assert [o.client_order_id for o in orders] == [f"twap1-{n}" for n in range(1, 6)]
    assert sorted(o.client_order_id for o in book.orders.values()) == [
        o.client_order_id for o in orders
    ]
    assert [
        (e.execution_id, e.amount, e.price)
        for e in sorted(executions, key=lambda e: e.execution_id)
    ] == venue_trades(book)
    assert (
        booked_balances(executions)
        == venue_balances(em)
        == {
            "USDT": D("496.9975"),
            "BTC": D("5"),
        }
    )
    db.dispose()


def paper_venue(clock, fault_hook=None) -> PaperVenue:  # noqa: ANN001
    """A paper venue asking 101 for 100 BTC, 10 bps fees, 1,000,000 USDT."""
    data = FixedMarketData("sim_a", {SYMBOL: spot_market(SYMBOL)})
    data.set_book(SYMBOL, bids=[("99", "10")], asks=[("101", "100")])
    return PaperVenue(
        data, {"USDT": D(1_000_000)}, venue_id="sim_a", clock=clock, fault_hook=fault_hook
    )


def paper_twap_child(db_url: str) -> None:
    """The same TWAP on a paper venue (the venue dies with the process)."""
    now = {"at": T0}
    paper = paper_venue(lambda: now["at"], DieAt("after_send", 3))
    bus = EventBus()
    OrderRecorder(Database(db_url)).attach(bus)
    manager = OrderManager({"sim_a": paper}, bus, clock=lambda: now["at"])
    sink = ManagerSink(manager, strategy="fixed")
    parent = sink.attach(
        twap("twap1", SYMBOL, "buy", D("5"), start=T0, duration=timedelta(minutes=5),
             interval=timedelta(minutes=1), venue="sim_a", sink=sink, amount_step=D("0.00001"))
    )  # fmt: skip
    for minute in range(5):
        now["at"] = T0 + timedelta(minutes=minute)
        parent.on_tick(now["at"])
        sink.deliver()


def test_paper_twap_killed_mid_parent_closes_the_lost_child(db_url):
    """On a paper venue the third child, matched by a book that died with the process, is
    closed REJECTED (lost with the process) on reconciliation; the two recorded children
    keep their fills and are settled. Nothing stays SUBMITTED."""
    assert in_child(paper_twap_child, db_url) == KILLED
    db = Database(db_url)
    fresh = paper_venue(lambda: T0)
    entry = half_in_btc("sim_a:BTC/USDT")
    report = reconcile_strategy(db, entry, {"sim_a": fresh}, lambda: T0)
    assert report.unknown == ["twap1-3"] and sorted(report.settled) == ["twap1-1", "twap1-2"]
    orders, executions = table(db)
    assert [o.status for o in orders] == ["SETTLED", "SETTLED", "REJECTED"]
    assert sorted(e.client_order_id for e in executions) == ["twap1-1", "twap1-2"]
    assert all(e.amount == D("1") and e.price == D("101") for e in executions)
    db.dispose()


def test_a_trade_of_an_order_the_database_closed_is_listed_as_unbooked(binance, db_url):
    """A limit buy of 1 BTC at 99 is OPEN; the database is then told
    it was canceled (as a local cancel that lost its race with the fill would leave it),
    while Binance fills it at 99. Reconciliation does not rewrite a closed order: it lists
    the venue's trade as unbooked, and the balances differ by exactly that fill."""
    em, book = binance
    db = Database(db_url)
    manager = manager_on(db, binance_venue(em.base_url))
    order = manager.new_order("binance", SYMBOL, "buy", "limit", D("1"), D("99"), strategy="fixed")
    manager.submit(order)
    with db.transaction() as session:
        row = session.scalars(sa.select(CryptoOrder)).one()
        row.status = "CANCELED"
    assert book.trade_at("BTCUSDT", "99") == 1

    report = reconcile_strategy(
        db, half_in_btc(), {"binance": binance_venue(em.base_url)}, lambda: datetime.now(UTC)
    )
    ((trade_id, _, _),) = venue_trades(book)
    assert report.unbooked_trades == [
        {"venue": "binance", "symbol": SYMBOL, "trade_id": trade_id,
         "venue_order_id": order.venue_order_id, "side": "buy", "amount": "1.0", "price": "99.0"}
    ]  # fmt: skip
    assert (report.repaired, report.needs_attention) == (0, 1)
    assert report.balances["binance"] == {
        "BTC": {"venue": "1", "booked": "0", "difference": "1"},
        "USDT": {"venue": "900.901", "booked": "1000", "difference": "-99.099"},
    }
    assert table(db)[1] == []
    db.dispose()
