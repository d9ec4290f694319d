"""Restart safety: a trading process SIGKILLed mid-order, then reconciliation on restart.

The venue lives outside the trading process: the Binance emulator runs in the test
process and the trader (a real `ccxt.binance` through CcxtVenue, the OrderManager and the
database recorder) runs in a forked child that the test kills with SIGKILL at a chosen
point. After restart the database must hold every venue fill exactly once.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from tests.fakes.binance_orders import install_order_endpoints
from tests.fakes.binance_server import BinanceEmulator
from zvt_pipelines.model.orders import OrderStatus
from zvt_pipelines.oms.manager import OrderManager
from zvt_pipelines.oms.messages import EventBus
from zvt_pipelines.oms.persistence import OrderRecorder
from zvt_pipelines.oms.reconcile import UNKNOWN_REASON, reconcile
from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.models import AuditLog, CryptoExecution, CryptoOrder
from zvt_pipelines.venues.ccxt_venue import CcxtVenue
from zvt_pipelines.venues.credentials import Credentials
from zvt_pipelines.venues.retry import RetryPolicy

SYMBOL = "BTC/USDT"
KEY, SECRET = "key-0123456789", "right-secret-xyz"
SPOT_ONLY = {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False}


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A migrated database URL that a child process can open too."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/trader.db"
        Database(url).upgrade()
        yield url
        return
    url = request.getfixturevalue("scratch_pg_url")
    database = Database(url)
    database.upgrade()
    database.dispose()
    yield url


@pytest.fixture
def exchange():
    """Emulator with book asks 100.5 x 0.2, 101 x 1 / bids 99.5 x 0.5; 1000 USDT, 1 BTC."""
    with BinanceEmulator(api_key=KEY, secret=SECRET) as em:
        em.set_order_book("BTCUSDT", [["99.50", "0.5"]], [["100.50", "0.2"], ["101.00", "1.0"]], 1)
        em.balances.update({"BTC": ("1.00000000", "0"), "USDT": ("1000.00000000", "0")})
        yield em, install_order_endpoints(em)


def venue_at(base_url: str) -> CcxtVenue:
    api = f"{base_url}/api/v3"
    venue = CcxtVenue(
        "binance",
        credentials=Credentials(api_key=KEY, secret=SECRET),
        options=SPOT_ONLY,
        urls={"public": api, "private": api},
        timeout_ms=2000,
        rate_limit_ms=1,
        retry=RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.01),
    )
    return venue


class StopsAt:
    """The venue, but `create_order` of the n-th order tells the parent and hangs (to be killed).

    `before=True` hangs before the request is sent, else after the venue has answered.
    """

    def __init__(self, venue: CcxtVenue, nth: int, before: bool, conn) -> None:  # noqa: ANN001
        self.venue, self.nth, self.before, self.conn = venue, nth, before, conn
        self.id = venue.id

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self.venue, name)

    def create_order(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        self.nth -= 1
        if self.nth == 0 and self.before:
            self._hang("about to send")
        answer = self.venue.create_order(*args, **kwargs)
        if self.nth == 0:
            self._hang(f"venue answered {answer['id']}")
        return answer

    def _hang(self, message: str) -> None:
        self.conn.send(message)
        time.sleep(60)


def trader(base_url: str, db_url: str, before: bool, conn) -> None:  # noqa: ANN001
    """The child: rest a limit sell, then send a market buy and die at the chosen point."""
    db = Database(db_url)
    bus = EventBus()
    OrderRecorder(db).attach(bus)
    manager = OrderManager({"binance": StopsAt(venue_at(base_url), 2, before, conn)}, bus)
    manager.submit(manager.new_order("binance", SYMBOL, "sell", "limit", D("0.3"), D("105")))
    manager.submit(manager.new_order("binance", SYMBOL, "buy", "market", D("0.1")), D("101"))
    conn.send("finished without being killed")


def run_and_kill(base_url: str, db_url: str, before: bool) -> str:
    context = multiprocessing.get_context("fork")
    parent_end, child_end = context.Pipe()
    child = context.Process(target=trader, args=(base_url, db_url, before, child_end), daemon=True)
    child.start()
    assert parent_end.poll(30), "the trader never reached the kill point"
    message = parent_end.recv()
    os.kill(child.pid, signal.SIGKILL)
    child.join(10)
    assert child.exitcode == -signal.SIGKILL
    return message


def restart(base_url: str, db_url: str):  # noqa: ANN201
    db = Database(db_url)
    bus = EventBus()
    OrderRecorder(db).attach(bus)
    manager = OrderManager({"binance": venue_at(base_url)}, bus)
    return db, manager


def rows(db: Database):  # noqa: ANN201
    with db.transaction() as session:
        orders = {o.side: o for o in session.scalars(sa.select(CryptoOrder))}
        executions = session.scalars(
            sa.select(CryptoExecution).order_by(CryptoExecution.execution_id)
        ).all()
        audits = session.scalars(sa.select(AuditLog).order_by(AuditLog.id)).all()
    return orders, executions, audits


def test_killed_after_the_venue_filled_it_and_fills_while_down_are_recorded_once(exchange, db_url):
    """Killed after Binance filled the market buy (0.1 @ 100.5) but before the OMS recorded it;
    while down, a trade at 106 fills the resting sell 0.3 @ 105. After restart the database
    holds exactly the venue's two trades; a second reconciliation adds nothing."""
    em, book = exchange
    assert run_and_kill(em.base_url, db_url, before=False).startswith("venue answered")
    db, _ = restart(em.base_url, db_url)
    orders, executions, _ = rows(db)
    assert (orders["buy"].status, orders["sell"].status) == ("SUBMITTED", "OPEN")
    assert executions == []
    assert book.trade_at("BTCUSDT", "106") == 1  # the market moves while the trader is down

    db, manager = restart(em.base_url, db_url)
    report = reconcile(manager, db)
    assert (report.checked, report.fills_recorded, report.unknown) == (2, 2, [])
    orders, executions, _ = rows(db)
    assert (orders["buy"].status, orders["sell"].status) == ("FILLED", "FILLED")
    assert orders["buy"].venue_order_id is not None and orders["buy"].average_price == D("100.5")
    venue_trades = sorted((str(t["id"]), D(t["qty"]), D(t["price"])) for t in book.trades)
    assert [(e.execution_id, e.amount, e.price) for e in executions] == venue_trades

    db, manager = restart(em.base_url, db_url)
    again = reconcile(manager, db)
    assert (again.fills_recorded, again.changed) == (0, {})
    assert len(rows(db)[1]) == 2


def test_killed_before_the_request_left_is_flagged_unknown(exchange, db_url):
    """Killed after SUBMITTED was recorded but before the request was sent: Binance has no
    such order, so reconciliation marks it REJECTED and writes a `reconcile_unknown` audit row."""
    em, book = exchange
    assert run_and_kill(em.base_url, db_url, before=True) == "about to send"
    assert len(book.orders) == 1  # only the resting sell reached the venue
    db, manager = restart(em.base_url, db_url)
    report = reconcile(manager, db)
    orders, executions, audits = rows(db)
    assert report.unknown == [orders["buy"].client_order_id]
    assert (orders["buy"].status, orders["buy"].reason) == ("REJECTED", UNKNOWN_REASON)
    assert orders["sell"].status == "OPEN" and executions == []
    assert [(a.action, a.old["status"]) for a in audits] == [
        ("order_rejected", "SUBMITTED"),
        ("reconcile_unknown", "SUBMITTED"),
    ]
    (reloaded,) = [o for o in manager.orders.values() if o.status is OrderStatus.OPEN]
    assert reloaded.venue_order_id == orders["sell"].venue_order_id
