"""Orders through a real `ccxt.binance` (CcxtVenue) against the local Binance emulator.

ccxt is never mocked: it signs each request with HMAC-SHA256 and the emulator checks the
signature, the API key header and the recvWindow before the order endpoints run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from tests.fakes.binance_orders import BinanceOrders, install_order_endpoints
from tests.fakes.binance_server import BinanceEmulator, Fault
from zvt_pipelines.errors import (
    AuthenticationFailed,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
    VenueUnavailable,
)
from zvt_pipelines.model.orders import OrderStatus
from zvt_pipelines.oms.manager import OrderManager
from zvt_pipelines.oms.messages import EventBus
from zvt_pipelines.venues.ccxt_venue import CcxtVenue
from zvt_pipelines.venues.credentials import Credentials
from zvt_pipelines.venues.retry import RetryPolicy

SYMBOL = "BTC/USDT"
ORDER = "/api/v3/order"
SPOT_ONLY = {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False}
KEY, SECRET = "key-0123456789", "right-secret-xyz"
# Margins that hold on a loaded 2-core machine: an ordinary request has CLIENT_TIMEOUT_MS
# to answer (it needs a few ms idle), and a scripted late answer comes LATE_S after the
# request, a full 1.5 s after the client has given up.
CLIENT_TIMEOUT_MS = 1_500
LATE_S = 3.0


@pytest.fixture
def emulator():
    """Book: bids 99.5 x 0.5, 99 x 1; asks 100.5 x 0.2, 101 x 1. 1000 USDT and 1 BTC free."""
    with BinanceEmulator(api_key=KEY, secret=SECRET) as em:
        em.set_order_book(
            "BTCUSDT",
            [["99.50", "0.5"], ["99.00", "1.0"]],
            [["100.50", "0.2"], ["101.00", "1.0"]],
            7,
        )
        em.balances.update({"BTC": ("1.00000000", "0"), "USDT": ("1000.00000000", "0")})
        yield em


@pytest.fixture
def book(emulator) -> BinanceOrders:
    return install_order_endpoints(emulator)


def make_venue(em: BinanceEmulator, secret: str = SECRET, attempts: int = 3) -> CcxtVenue:
    api = f"{em.base_url}/api/v3"
    venue = CcxtVenue(
        "binance",
        credentials=Credentials(api_key=KEY, secret=secret),
        options=SPOT_ONLY,
        urls={"public": api, "private": api},
        timeout_ms=CLIENT_TIMEOUT_MS,
        rate_limit_ms=1,
        retry=RetryPolicy(max_attempts=attempts, base_delay=0.001, max_delay=0.01),
    )
    return venue


@pytest.fixture
def venue(emulator, book) -> CcxtVenue:
    return make_venue(emulator)


@pytest.fixture
def manager(venue) -> OrderManager:
    return OrderManager({"binance": venue}, EventBus(), sleep=lambda s: None)


def test_limit_order_create_fetch_cancel_signed(manager, emulator, book):
    """Limit buy 0.1 @ 95 rests (best ask 100.5); 0.1 x 95 x 1.001 = 9.5095 USDT locked, then released."""
    order = manager.submit(manager.new_order("binance", SYMBOL, "buy", "limit", D("0.1"), D("95")))
    assert order.status is OrderStatus.OPEN and order.venue_order_id == "1000"
    (post,) = emulator.requests(ORDER)
    assert post.method == "POST" and post.headers["x-mbx-apikey"] == KEY and post.param("signature")
    assert post.param("newClientOrderId") == order.client_order_id
    assert emulator.balances["USDT"] == ("990.49050000", "9.50950000")
    assert manager.sync(order.client_order_id).status is OrderStatus.OPEN
    manager.cancel(order.client_order_id)
    assert order.status is OrderStatus.CANCELED
    assert [r.method for r in emulator.requests(ORDER)] == ["POST", "GET", "DELETE"]
    assert emulator.balances["USDT"] == ("1000.00000000", "0.00000000")


def test_market_order_fills_with_binance_trade_ids(manager, book):
    """Buy 0.5 at market: 0.2 @ 100.5 + 0.3 @ 101 = 20.1 + 30.3 = 50.4 USDT; commission 0.0201 + 0.0303."""
    order = manager.submit(
        manager.new_order("binance", SYMBOL, "buy", "market", D("0.5")), D("101")
    )
    assert order.status is OrderStatus.FILLED
    assert [(f.execution_id, f.amount, f.price, f.fee) for f in order.fills] == [
        ("50000", D("0.2"), D("100.5"), D("0.0201")),
        ("50001", D("0.3"), D("101"), D("0.0303")),
    ]
    assert order.average_price == D("100.8")


def test_signature_is_verified(emulator, book):
    with pytest.raises(AuthenticationFailed):
        make_venue(emulator, secret="wrong-secret").create_order(SYMBOL, "limit", "buy", 0.1, 95)
    assert book.orders == {}


def test_insufficient_balance_and_invalid_orders_are_typed(venue, manager):
    with pytest.raises(InsufficientFunds, match="insufficient balance"):
        venue.create_order(SYMBOL, "limit", "sell", 2, 120)
    with pytest.raises(InvalidOrder, match="NOTIONAL"):
        venue.create_order(SYMBOL, "limit", "buy", 0.001, 95)
    with pytest.raises(OrderNotFound):
        venue.fetch_order("999999", SYMBOL)
    rejected = manager.submit(
        manager.new_order(
            "binance", SYMBOL, "sell", "limit", D("0.9"), D("120"), time_in_force="PO"
        )
    )
    assert rejected.status is OrderStatus.OPEN  # LIMIT_MAKER resting: accepted


def test_venue_rejection_becomes_a_rejected_order(venue, emulator):
    """The OMS thinks 2 BTC are free (stale balance); Binance says -2010: REJECTED with its message."""
    manager = OrderManager({"binance": venue}, EventBus())
    manager.balances["binance"] = {"BTC": D("5"), "USDT": D("1000")}
    order = manager.submit(manager.new_order("binance", SYMBOL, "sell", "limit", D("2"), D("120")))
    assert order.status is OrderStatus.REJECTED and "insufficient balance" in order.reason


def test_duplicate_client_order_id_is_refused_by_the_venue(venue):
    venue.create_order(SYMBOL, "limit", "buy", 0.1, 95, {"clientOrderId": "zvt-dup-1"})
    with pytest.raises(InvalidOrder, match="Duplicate order sent"):
        venue.create_order(SYMBOL, "limit", "buy", 0.1, 95, {"clientOrderId": "zvt-dup-1"})


def test_http_5xx_on_create_is_retried_with_the_client_id(manager, emulator, book):
    """The POST meets 503 (outcome unknown), so the order is looked up by its client id
    before any resend: that GET meets 502, the next GET says "does not exist" (-2013), and
    only then is the order sent again, with the same client id."""
    emulator.inject(ORDER, Fault.http(503), Fault.http(502))
    order = manager.submit(
        manager.new_order("binance", SYMBOL, "buy", "market", D("0.1")), D("101")
    )
    assert order.status is OrderStatus.FILLED
    requests = emulator.requests(ORDER)
    assert [r.method for r in requests] == ["POST", "GET", "GET", "POST"]
    assert {r.param("newClientOrderId") or r.param("origClientOrderId") for r in requests} == {
        order.client_order_id
    }
    assert len(book.orders) == 1


def test_persistent_5xx_is_venue_unavailable(venue, emulator):
    emulator.inject("/api/v3/openOrders", *[Fault.http(500)] * 3)
    with pytest.raises(VenueUnavailable, match="3 time"):
        venue.fetch_open_orders(SYMBOL)


def test_create_timeout_then_retry_leaves_exactly_one_order(manager, emulator, book):
    """Attempt 1 places the order but answers after LATE_S (past the client timeout). Binance
    accepts a client id again once its order has filled, so nothing is resent blindly:
    attempt 2 looks the order up by its client id (that answer is late too), attempt 3 finds
    it and adopts it: one POST, one order, one fill, FILLED."""
    emulator.inject(ORDER, Fault.slow(LATE_S), Fault.slow(LATE_S))
    order = manager.submit(
        manager.new_order("binance", SYMBOL, "buy", "market", D("0.1")), D("101")
    )
    assert order.status is OrderStatus.FILLED and len(order.fills) == 1
    assert list(book.by_client_id) == [order.client_order_id] and len(book.trades) == 1
    posts = [r for r in emulator.requests(ORDER) if r.method == "POST"]
    assert [p.param("newClientOrderId") for p in posts] == [order.client_order_id]
    assert [r for r in emulator.requests(ORDER) if r.method == "GET"][0].param(
        "origClientOrderId"
    ) == order.client_order_id


def test_fill_while_resting_is_found_in_my_trades(manager, book):
    """Sell 0.3 @ 105 rests; a trade at 105.5 fills it as maker; sync books it from myTrades."""
    order = manager.submit(
        manager.new_order("binance", SYMBOL, "sell", "limit", D("0.3"), D("105"))
    )
    assert book.trade_at("BTCUSDT", "105.5") == 1
    manager.sync(order.client_order_id)
    assert order.status is OrderStatus.FILLED
    assert [(f.amount, f.price, f.liquidity.value) for f in order.fills] == [
        (D("0.3"), D("105"), "maker")
    ]
    assert (
        order.fills[0].timestamp.tzinfo is UTC
        or order.fills[0].timestamp.utcoffset().total_seconds() == 0
    )
    assert order.fills[0].timestamp <= datetime.now(UTC)


def test_persistent_timeouts_are_venue_unavailable(venue, emulator):
    """Three answers slower than the client timeout exhaust the 3 attempts."""
    emulator.inject("/api/v3/openOrders", *[Fault.slow(LATE_S)] * 3)
    with pytest.raises(VenueUnavailable, match="RequestTimeout"):
        venue.fetch_open_orders(SYMBOL)
