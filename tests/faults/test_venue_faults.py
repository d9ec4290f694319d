"""Venue faults on the order path: a market buy of 1 BTC (ask 100.5) through the order
manager, a real `ccxt.binance` and the recorder, with the emulator answering badly.

Binance accepts a client order id again once its order has filled, so after an answer is
lost the order must be looked up, never blindly resent. Where it fills, the expected books
are 1000 − 100.5 − 0.1005 = 899.3995 USDT and 1 BTC, at the venue and in the fills.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from tests.fakes.binance_server import Fault
from tests.faults.support import (
    KEY,
    SECRET,
    SPOT_ONLY,
    booked_balances,
    half_in_btc,
    table,
    venue_balances,
    venue_trades,
)
from zvt_pipelines.errors import AuthenticationFailed, VenueUnavailable
from zvt_pipelines.oms.manager import OrderManager
from zvt_pipelines.oms.messages import EventBus
from zvt_pipelines.oms.persistence import OrderRecorder
from zvt_pipelines.storage.database import Database
from zvt_pipelines.trading.reconciliation import reconcile_strategy
from zvt_pipelines.venues.ccxt_venue import CcxtVenue
from zvt_pipelines.venues.credentials import Credentials
from zvt_pipelines.venues.retry import RetryPolicy

pytestmark = pytest.mark.slow
ORDER = "/api/v3/order"
FILLED_BOOKS = {"USDT": D("899.3995"), "BTC": D("1")}


def venue(base_url: str, key: str = KEY, secret: str = SECRET) -> CcxtVenue:
    """Client timeout 0.5 s, two attempts per call, millisecond backoff."""
    api = f"{base_url}/api/v3"
    return CcxtVenue(
        "binance",
        credentials=Credentials(key, secret),
        options=SPOT_ONLY,
        urls={"public": api, "private": api},
        timeout_ms=500,
        rate_limit_ms=1,
        retry=RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.01),
    )


def buy(db: Database, on: CcxtVenue, amount: str = "1"):  # noqa: ANN201
    bus = EventBus()
    OrderRecorder(db).attach(bus)
    manager = OrderManager({"binance": on}, bus, retry_wait=0.001)
    order = manager.new_order("binance", "BTC/USDT", "buy", "market", D(amount), strategy="fixed")
    return manager.submit(order, D("100.5"))


def posts(em) -> list:  # noqa: ANN001
    return [r for r in em.requests(ORDER) if r.method == "POST"]


@pytest.mark.parametrize(
    "faults, requests",
    [
        # processed, answered after the 0.5 s timeout; the lookup finds it
        ([Fault.slow(0.8)], ["POST", "GET"]),
        # processed, then a gateway error ("execution status unknown"); the lookup finds it
        ([Fault.lost(504)], ["POST", "GET"]),
        # refused before processing (rate limit): resent at once, no lookup needed
        ([Fault.http(429, retry_after=0)], ["POST", "POST"]),
        # refused with 503; the lookup says "does not exist", so it is resent
        ([Fault.http(503)], ["POST", "GET", "POST"]),
    ],
    ids=["timeout", "504-after-processing", "429", "503"],
)
def test_a_transient_fault_on_create_leaves_exactly_one_order(binance, db_url, faults, requests):
    em, book = binance
    em.inject(ORDER, *faults)
    db = Database(db_url)
    order = buy(db, venue(em.base_url))
    assert order.status.value == "FILLED"
    assert [r.method for r in em.requests(ORDER)] == requests
    assert len(book.orders) == 1 and len(posts(em)) == requests.count("POST")
    _, executions = table(db)
    assert [(e.execution_id, e.amount, e.price) for e in executions] == venue_trades(book)
    assert booked_balances(executions) == venue_balances(em) == FILLED_BOOKS
    db.dispose()


def test_persistent_5xx_after_the_venue_took_the_order_is_settled_by_reconciliation(
    binance, db_url
):
    """The POST is processed but answered 504; every lookup after it meets 503 until the
    manager's three sends (two attempts each) are spent: VenueUnavailable, the row stays
    SUBMITTED, and the order was never sent twice. Reconciliation finds it FILLED."""
    em, book = binance
    em.inject(ORDER, Fault.lost(504), *[Fault.http(503)] * 5)
    db = Database(db_url)
    with pytest.raises(VenueUnavailable):
        buy(db, venue(em.base_url))
    assert len(posts(em)) == 1 and len(book.orders) == 1
    orders, executions = table(db)
    assert [o.status for o in orders] == ["SUBMITTED"] and executions == []

    entry = half_in_btc()
    report = reconcile_strategy(
        db, entry, {"binance": venue(em.base_url)}, lambda: datetime.now(UTC)
    )
    assert report.fills_recorded == 1
    orders, executions = table(db)
    assert [o.status for o in orders] == ["SETTLED"]
    assert booked_balances(executions) == venue_balances(em) == FILLED_BOOKS
    db.dispose()


def test_insufficient_balance_is_a_rejected_order_sent_once(binance, db_url):
    """20 BTC at 100.5 needs 2012.01 USDT with the fee; the account has 1000. The OMS is
    told the account is richer (a stale balance) so the venue is the one that refuses."""
    em, book = binance
    db = Database(db_url)
    bus = EventBus()
    OrderRecorder(db).attach(bus)
    manager = OrderManager({"binance": venue(em.base_url)}, bus)
    manager.balances["binance"] = {"USDT": D("100000")}
    order = manager.submit(
        manager.new_order("binance", "BTC/USDT", "buy", "market", D("20"), strategy="fixed"),
        D("100.5"),
    )
    assert order.status.value == "REJECTED" and "insufficient balance" in order.reason
    assert len(posts(em)) == 1 and book.orders == {}
    orders, executions = table(db)
    assert [(o.status, o.reason) for o in orders] == [("REJECTED", order.reason)]
    assert executions == [] and venue_balances(em) == {"USDT": D("1000")}
    db.dispose()


@pytest.mark.parametrize(
    "key, secret, code",
    [("wrong-key-0123456789", SECRET, "-2015"), (KEY, "wrong-secret-xyz", "-1022")],
    ids=["wrong-key", "wrong-secret"],
)
def test_wrong_credentials_are_authentication_failed_and_nothing_is_written(
    binance, db_url, key, secret, code
):
    """Binance answers a wrong key with 401 -2015 and a wrong secret with 400 -1022
    ("Signature for this request is not valid."); both are AuthenticationFailed, raised at
    the first signed call (the balance read of pre-trade validation), before any order row."""
    em, book = binance
    db = Database(db_url)
    with pytest.raises(AuthenticationFailed, match=f"refused the API credentials.*{code}"):
        buy(db, venue(em.base_url, key, secret))
    assert posts(em) == [] and book.orders == {}
    assert table(db) == ([], [])
    db.dispose()
