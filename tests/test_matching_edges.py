"""The matching engine's edges, called directly: ids, reasons, OCO links, stop triggers
exactly at their level, trailing anchors, symbols kept apart and the bar path.

Every expectation is worked by hand from the fill contract in `venues/matching.py`'s
module docstring.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from zvt_pipelines.errors import InvalidOrder, OrderNotFound
from zvt_pipelines.model.orders import OrderType, Side, TimeInForce
from zvt_pipelines.venues.matching import BookOrder, BookStatus, MatchingEngine, bar_path

T0 = datetime(2024, 1, 1, tzinfo=UTC)
BTC, ETH = "BTC/USDT", "ETH/USDT"
BOOK = {"bids": [["99", "1"], ["98", "2"]], "asks": [["101", "1"], ["102", "2"]]}


def book_order(order_id: str, side: str, order_type: str, amount: str, **kw) -> BookOrder:
    return BookOrder(
        order_id,
        f"c-{order_id}",
        kw.pop("symbol", BTC),
        Side(side),
        OrderType(order_type),
        D(amount),
        T0,
        **kw,
    )


@pytest.fixture
def engine() -> MatchingEngine:
    return MatchingEngine("paper", maker_bps=D(0), taker_bps=D(0), clock=lambda: T0)


def test_ids_are_the_session_tag_and_a_sequence_from_one(engine):
    assert re.fullmatch(r"[0-9a-f]{8}", engine.session)
    assert [engine.next_id() for _ in range(3)] == [f"{engine.session}-{n}" for n in (1, 2, 3)]
    other = MatchingEngine("paper")
    assert other.session != engine.session and other.next_id() == f"{other.session}-1"
    order = engine.submit(book_order("m1", "buy", "market", "1"), BOOK)
    assert order.fills[0].execution_id == f"paper-{engine.session}-4"


def test_guard_messages_and_close_reasons(engine):
    engine.submit(book_order("m1", "buy", "market", "0.5"), BOOK)
    with pytest.raises(InvalidOrder) as info:
        engine.submit(book_order("m1", "buy", "market", "0.5"), BOOK)
    assert str(info.value) == "paper: order id m1 already exists"
    with pytest.raises(OrderNotFound) as info:
        engine.cancel("nope")
    assert str(info.value) == "paper: unknown order id nope"
    with pytest.raises(InvalidOrder) as info:
        engine.cancel("m1")
    assert str(info.value) == "paper: order m1 is closed, not open"
    post = engine.submit(
        book_order("p1", "buy", "limit", "1", price=D("101"), time_in_force=TimeInForce.POST_ONLY),
        BOOK,
    )
    assert (post.status, post.reason) == (
        BookStatus.REJECTED,
        "post-only order would cross the book",
    )
    fok = engine.submit(
        book_order("f1", "buy", "limit", "2", price=D("101"), time_in_force=TimeInForce.FOK), BOOK
    )
    assert (fok.status, fok.reason, fok.filled) == (
        BookStatus.EXPIRED,
        "FOK: only 1 of 2 fillable",
        0,
    )
    big = engine.submit(book_order("m2", "sell", "market", "4"), BOOK)
    assert (big.status, big.reason, big.filled) == (
        BookStatus.EXPIRED,
        "no more liquidity for the remainder",
        D("3"),
    )
    rest = engine.submit(book_order("l1", "buy", "limit", "1", price=D("90")), BOOK)
    assert engine.cancel("l1").reason == "canceled by user"
    rest2 = engine.submit(book_order("l2", "buy", "limit", "1", price=D("90")), BOOK)
    engine.cancel("l2", "risk: halted")
    assert (rest.status, rest2.reason) == (BookStatus.CANCELED, "risk: halted")


def test_a_market_order_without_a_book_expires_unfilled(engine):
    order = engine.submit(book_order("m1", "buy", "market", "1"), None)
    assert (order.status, order.filled, order.fills) == (BookStatus.EXPIRED, 0, [])


def test_fill_callback_sees_every_fill(engine):
    seen = []
    engine.on_fill = lambda order, fill: seen.append((order.id, fill.amount, fill.price))
    engine.submit(book_order("m1", "buy", "market", "2"), BOOK)
    assert seen == [("m1", D("1"), D("101")), ("m1", D("1"), D("102"))]


def test_linked_orders_cancel_each_other_and_a_move_keeps_going(engine):
    """Last 100. Sell limits at 101 (a) and 102 (b) are linked; a sell limit at 103 (c) is
    not. A move to 104 reaches a first: a fills at 101 and cancels b; c still fills."""
    engine.on_price(BTC, D("100"), T0)
    for order_id, price in (("a", "101"), ("b", "102"), ("c", "103")):
        engine.submit(
            book_order(order_id, "sell", "limit", "1", price=D(price)), {"bids": [], "asks": []}
        )
    engine.link_oco("a", "b")
    assert (engine.orders["a"].linked_id, engine.orders["b"].linked_id) == ("b", "a")
    fills = engine.on_price(BTC, D("104"), T0)
    assert [(f.client_order_id, f.price) for f in fills] == [("c-a", D("101")), ("c-c", D("103"))]
    assert engine.orders["b"].status is BookStatus.CANCELED
    assert engine.orders["b"].reason == "OCO: linked order a filled"


@pytest.mark.parametrize(
    ("side", "order_type", "stop", "near"),
    [
        ("sell", "stop_loss", "95", "95.01"),
        ("buy", "stop_loss", "105", "104.99"),
        ("sell", "take_profit", "110", "109.99"),
        ("buy", "take_profit", "90", "90.01"),
    ],
)
def test_stops_fire_exactly_at_their_level(engine, side, order_type, stop, near):
    """Last 100: a print next to the stop does nothing; a print exactly at it fires it,
    filled at the stop as taker."""
    engine.on_price(BTC, D("100"), T0)
    order = engine.submit(book_order("s", side, order_type, "1", stop_price=D(stop)), None)
    assert engine.on_price(BTC, D(near), T0) == [] and order.trigger_pending
    [fill] = engine.on_price(BTC, D(stop), T0)
    assert (fill.price, order.status, order.trigger_pending) == (D(stop), BookStatus.CLOSED, False)


def test_a_trailing_stop_anchors_on_new_highs(engine):
    """Sell trailing by 5 from the last print 100: stop 95. The market rises to 110 (stop
    105), dips to 106 (no fire), then to 104: the move passes 105, filled there."""
    engine.on_price(BTC, D("100"), T0)
    trail = engine.submit(
        book_order("t", "sell", "trailing_stop", "1", trailing_amount=D("5")), None
    )
    assert trail.extreme == D("100") and trail.trigger_level() == D("95")
    engine.on_price(BTC, D("110"), T0)
    assert trail.extreme == D("110") and trail.trigger_level() == D("105")
    assert engine.on_price(BTC, D("106"), T0) == []
    assert trail.extreme == D("110")
    [fill] = engine.on_price(BTC, D("104"), T0)
    assert fill.price == D("105") and trail.status is BookStatus.CLOSED


def test_a_trailing_stop_without_any_price_yet_waits(engine):
    trail = engine.submit(
        book_order("t", "sell", "trailing_stop", "1", trailing_percent=D("2")), None
    )
    assert trail.extreme is None and trail.trigger_level() is None and not trail.fires_at(D("1"))
    assert engine.on_price(BTC, D("100"), T0) == []
    assert trail.trigger_level() == D("98")  # 100 x (1 - 2 %)


def test_prices_of_one_symbol_never_fill_another(engine):
    engine.on_price(BTC, D("100"), T0)
    engine.on_price(ETH, D("3000"), T0)
    btc = engine.submit(
        book_order("b", "buy", "limit", "1", price=D("99")), {"bids": [], "asks": []}
    )
    trail = engine.submit(
        book_order("t", "sell", "trailing_stop", "1", trailing_amount=D("5")), None
    )
    assert engine.on_price(ETH, D("10"), T0) == []
    assert btc.is_open and trail.extreme == D("100")
    assert [o.id for o in engine.open_orders(BTC)] == ["b", "t"] and engine.open_orders(ETH) == []


@pytest.mark.parametrize(
    ("bar", "path"),
    [
        (("100", "103", "96", "101"), ["100", "103", "96", "101"]),  # high nearer: up first
        (("100", "105", "98", "101"), ["100", "98", "105", "101"]),  # low nearer: down first
        (("100", "104", "96", "101"), ["100", "96", "104", "101"]),  # a tie: low first
    ],
)
def test_bar_path_visits_the_nearer_extreme_first(bar, path):
    assert bar_path(*(D(p) for p in bar)) == [D(p) for p in path]


def test_a_sell_without_a_book_and_a_fok_sell_use_the_bids(engine):
    no_book = engine.submit(book_order("s0", "sell", "market", "1"), None)
    assert (no_book.status, no_book.filled) == (BookStatus.EXPIRED, 0)
    fok = engine.submit(
        book_order("s1", "sell", "limit", "3", price=D("98"), time_in_force=TimeInForce.FOK), BOOK
    )
    assert [(f.price, f.amount) for f in fok.fills] == [(D("99"), D("1")), (D("98"), D("2"))]


def test_a_sell_limit_at_exactly_the_best_bid_trades_there(engine):
    order = engine.submit(book_order("s", "sell", "limit", "1", price=D("99")), BOOK)
    assert [(f.price, f.amount) for f in order.fills] == [(D("99"), D("1"))]


def test_fills_carry_venue_symbol_fee_currency_and_add_up_fees():
    """Taker 10 bps: buying 1 @ 101 and 1 @ 102 pays 0.101 + 0.102 = 0.203 USDT."""
    engine = MatchingEngine("paper", maker_bps=D(2), taker_bps=D(10), clock=lambda: T0)
    order = engine.submit(book_order("m", "buy", "market", "2"), BOOK)
    assert {(f.venue, f.symbol, f.fee_currency) for f in order.fills} == {("paper", BTC, "USDT")}
    assert [f.fee for f in order.fills] == [D("0.101"), D("0.102")]
    assert order.fee == D("0.203")


def test_a_partly_filled_limit_rests_and_closed_orders_leave_the_open_list(engine):
    """Buy 1.5 at 101 against asks 101 x 1: 1 fills, 0.5 rests open; a later print at 100.5
    fills the rest and closes it."""
    order = engine.submit(book_order("l", "buy", "limit", "1.5", price=D("101")), BOOK)
    assert (order.status, order.remaining) == (BookStatus.OPEN, D("0.5"))
    assert [o.id for o in engine.open_orders()] == ["l"]
    engine.on_price(BTC, D("100.5"), T0)
    assert order.status is BookStatus.CLOSED and engine.open_orders() == []
    engine.submit(book_order("c", "buy", "limit", "1", price=D("90")), BOOK)
    engine.cancel("c")
    assert engine.open_orders() == []


def test_a_falling_move_fills_the_nearest_level_first(engine):
    """Last 100; buy limits at 98 and 99; a move to 97 reaches 99 first, then 98."""
    engine.on_price(BTC, D("100"), T0)
    for order_id, price in (("far", "98"), ("near", "99")):
        engine.submit(
            book_order(order_id, "buy", "limit", "1", price=D(price)), {"bids": [], "asks": []}
        )
    fills = engine.on_price(BTC, D("97"), T0)
    assert [(f.client_order_id, f.price) for f in fills] == [
        ("c-near", D("99")),
        ("c-far", D("98")),
    ]


def test_a_canceled_partner_keeps_its_own_reason(engine):
    engine.on_price(BTC, D("100"), T0)
    for order_id, price in (("a", "101"), ("b", "102")):
        engine.submit(
            book_order(order_id, "sell", "limit", "1", price=D(price)), {"bids": [], "asks": []}
        )
    engine.link_oco("a", "b")
    engine.cancel("b", "user")
    engine.on_price(BTC, D("101.5"), T0)
    assert engine.orders["a"].status is BookStatus.CLOSED
    assert (engine.orders["b"].status, engine.orders["b"].reason) == (BookStatus.CANCELED, "user")


def test_a_trailing_stop_remembers_a_high_from_earlier_moves(engine):
    """Sell trailing by 5: up to 110 (stop 105), down to 106, up to 107 (the anchor stays
    110, not 107), down to 104: fills at 105."""
    engine.on_price(BTC, D("100"), T0)
    trail = engine.submit(
        book_order("t", "sell", "trailing_stop", "1", trailing_amount=D("5")), None
    )
    for price in ("110", "106", "107"):
        assert engine.on_price(BTC, D(price), T0) == []
    assert trail.extreme == D("110")
    [fill] = engine.on_price(BTC, D("104"), T0)
    assert fill.price == D("105")
