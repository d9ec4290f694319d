"""The fill contract of resting limits (venues/matching.py): a resting limit fills at its
limit price or better, and only at a price that traded after it rested.

Each case is a price path worked by hand in its docstring. The venue's book is set so the
limits rest instead of taking (bids 95 x 10, asks 105 x 10 unless a case says otherwise);
maker fee 2 bps.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from zvt_pipelines.venues.paper import FixedMarketData, PaperVenue, spot_market

T0 = datetime(2024, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
SYMBOL = "BTC/USDT"


def paper(asks: list[tuple[str, str]] | None = None) -> PaperVenue:
    data = FixedMarketData("paper", {SYMBOL: spot_market(SYMBOL)})
    data.set_book(SYMBOL, bids=[("95", "10")], asks=asks or [("105", "10")])
    return PaperVenue(
        data,
        {"USDT": D("100000"), "BTC": D("10")},
        maker_bps=D(2),
        taker_bps=D(10),
        clock=lambda: T0,
    )


def fills_of(venue: PaperVenue, order: dict) -> list[tuple[D, D]]:
    return [(t["amount"], t["price"]) for t in venue.fetch_order(order["id"])["trades"]]


def test_limit_resting_below_the_last_trade_fills_at_the_next_print_not_the_stale_one():
    """Last trade 100; a buy limit 101 rests (the book's best ask is 105).

    The next print is 100.5: prices that traded after the order rested are (100, 100.5],
    all at or below 101, and the print itself is 100.5, so it fills 1 @ 100.5 as maker
    (fee 100.5 * 2 bps = 0.0201). 100 traded before the order existed: never its price.
    """
    venue = paper()
    venue.on_price(SYMBOL, D("100"), T0)
    order = venue.create_order(SYMBOL, "limit", "buy", D("1"), D("101"))
    assert venue.fetch_order(order["id"])["status"] == "open"
    (fill,) = venue.on_price(SYMBOL, D("100.5"), T0 + MINUTE)
    assert (fill.price, fill.amount, fill.fee, fill.liquidity.value) == (
        D("100.5"),
        D("1"),
        D("0.0201"),
        "maker",
    )
    assert venue.fetch_order(order["id"])["status"] == "closed"


def test_sell_limit_resting_above_the_last_trade_mirrors_the_buy():
    """Last trade 100; a sell limit 99 rests (best bid 95). Next print 99.6 -> fill @ 99.6."""
    venue = paper()
    venue.on_price(SYMBOL, D("100"), T0)
    order = venue.create_order(SYMBOL, "limit", "sell", D("2"), D("99"))
    venue.on_price(SYMBOL, D("99.6"), T0 + MINUTE)
    assert fills_of(venue, order) == [(D("2"), D("99.6"))]


def test_marketable_resting_limit_whose_next_print_is_beyond_it_fills_at_the_limit():
    """Last trade 100; buy limit 101 rests. Next print 102: the move 100 -> 102 trades every
    price in between, so after the order rested 101 traded (and 100.5, ...); the limit is
    the worst of those for the buyer and the contract's price: 1 @ 101."""
    venue = paper()
    venue.on_price(SYMBOL, D("100"), T0)
    order = venue.create_order(SYMBOL, "limit", "buy", D("1"), D("101"))
    venue.on_price(SYMBOL, D("102"), T0 + MINUTE)
    assert fills_of(venue, order) == [(D("1"), D("101"))]


def test_remainder_of_a_partly_filled_limit_fills_at_a_later_print():
    """Asks 100 x 1, 100.8 x 0.5, 105 x 10; last trade 100. Buy 3 @ 101 takes 1 @ 100 and
    0.5 @ 100.8 (taker); 1.5 rest at 101.

    Next print 100.6 (at or below 101, after the remainder rested): 1.5 @ 100.6, maker fee
    1.5 * 100.6 * 2 bps = 0.03018. Average (100 + 50.4 + 150.9) / 3 = 100.4333...
    """
    venue = paper(asks=[("100", "1"), ("100.8", "0.5"), ("105", "10")])
    venue.on_price(SYMBOL, D("100"), T0)
    order = venue.create_order(SYMBOL, "limit", "buy", D("3"), D("101"))
    assert fills_of(venue, order) == [(D("1"), D("100")), (D("0.5"), D("100.8"))]
    (fill,) = venue.on_price(SYMBOL, D("100.6"), T0 + MINUTE)
    assert (fill.amount, fill.price, fill.fee) == (D("1.5"), D("100.6"), D("0.03018"))
    placed = venue.fetch_order(order["id"])
    assert placed["status"] == "closed" and placed["cost"] == D("301.3")


def test_limit_at_exactly_the_last_trade_needs_a_new_print_at_its_price():
    """Last trade 100; buy limit 100 rests. Next print 100.5: the move 100 -> 100.5 prints
    nothing at or below 100 after the order rested -> no fill. Then 100.5 -> 99.8 passes
    100 (touched exactly): fills 1 @ 100."""
    venue = paper()
    venue.on_price(SYMBOL, D("100"), T0)
    order = venue.create_order(SYMBOL, "limit", "buy", D("1"), D("100"))
    assert venue.on_price(SYMBOL, D("100.5"), T0 + MINUTE) == []
    venue.on_price(SYMBOL, D("99.8"), T0 + 2 * MINUTE)
    assert fills_of(venue, order) == [(D("1"), D("100"))]


def test_limit_touched_exactly_fills_at_the_limit():
    """Last trade 100; buy limit 99 rests below it. Prints 99.5 (no fill), 99 (touched
    exactly: 1 @ 99), and a sell limit 101 touched by a later 101 fills @ 101."""
    venue = paper()
    venue.on_price(SYMBOL, D("100"), T0)
    buy = venue.create_order(SYMBOL, "limit", "buy", D("1"), D("99"))
    assert venue.on_price(SYMBOL, D("99.5"), T0 + MINUTE) == []
    venue.on_price(SYMBOL, D("99"), T0 + 2 * MINUTE)
    sell = venue.create_order(SYMBOL, "limit", "sell", D("1"), D("101"))
    venue.on_price(SYMBOL, D("101"), T0 + 3 * MINUTE)
    assert fills_of(venue, buy) == [(D("1"), D("99"))]
    assert fills_of(venue, sell) == [(D("1"), D("101"))]


def test_gap_through_a_limit_that_rested_before_the_open_fills_at_the_better_open():
    """Bar 1 closes at 100; a buy limit 99 rests. Bar 2: O 97 H 98 L 96 C 97.5. The open
    gaps from 100 to 97 with no trade in between and 97 traded after the order rested:
    1 @ 97, better than the limit."""
    venue = paper()
    venue.on_bar(SYMBOL, D("100"), D("100"), D("100"), D("100"), T0)
    order = venue.create_order(SYMBOL, "limit", "buy", D("1"), D("99"))
    venue.on_bar(SYMBOL, D("97"), D("98"), D("96"), D("97.5"), T0 + MINUTE)
    assert fills_of(venue, order) == [(D("1"), D("97"))]


def test_limit_placed_after_a_gapped_open_never_gets_that_open():
    """Bar 2 opens at 97 (gap from 100) and closes at 98; a buy limit 99 is placed after it.
    Bar 3: O 98.5 H 99.5 L 98.2 C 99.2 -- its open 98.5 is the first print after the order
    rested (at or below 99): 1 @ 98.5, not bar 2's 97 open nor its 98 close."""
    venue = paper()
    venue.on_bar(SYMBOL, D("100"), D("100"), D("100"), D("100"), T0)
    venue.on_bar(SYMBOL, D("97"), D("98.4"), D("96.5"), D("98"), T0 + MINUTE)
    order = venue.create_order(SYMBOL, "limit", "buy", D("1"), D("99"))
    venue.on_bar(SYMBOL, D("98.5"), D("99.5"), D("98.2"), D("99.2"), T0 + 2 * MINUTE)
    assert fills_of(venue, order) == [(D("1"), D("98.5"))]


def test_gap_open_beyond_the_limit_fills_later_in_the_bar_at_the_limit():
    """Bar 1 closes at 100; a buy limit 101 rests (marketable against the last trade, but
    the book had no ask at or below 101). Bar 2: O 102 H 103 L 100.5 C 101.5.

    The gap prints only 102 (above the limit): no fill there. The path is 102 -> 103 (high
    1 away, low 1.5 away) -> 100.5 -> 101.5; it falls through 101 on the way to 100.5, so
    1 @ 101. (Filling at the stale 100, or at the 102 open above the limit, would break
    the contract.)
    """
    venue = paper()
    venue.on_bar(SYMBOL, D("100"), D("100"), D("100"), D("100"), T0)
    order = venue.create_order(SYMBOL, "limit", "buy", D("1"), D("101"))
    fills = venue.on_bar(SYMBOL, D("102"), D("103"), D("100.5"), D("101.5"), T0 + MINUTE)
    assert [(f.amount, f.price) for f in fills] == [(D("1"), D("101"))]
    assert venue.fetch_order(order["id"])["status"] == "closed"


def test_gap_open_beyond_the_limit_and_a_bar_that_never_comes_back_leaves_it_open():
    """Bar 1 closes at 100; buy limit 101 rests. Bar 2: O 102 H 104 L 101.5 C 103 never
    trades at or below 101 after the order rested -> still open, nothing filled."""
    venue = paper()
    venue.on_bar(SYMBOL, D("100"), D("100"), D("100"), D("100"), T0)
    order = venue.create_order(SYMBOL, "limit", "buy", D("1"), D("101"))
    assert venue.on_bar(SYMBOL, D("102"), D("104"), D("101.5"), D("103"), T0 + MINUTE) == []
    placed = venue.fetch_order(order["id"])
    assert (placed["status"], placed["filled"]) == ("open", D("0"))


@pytest.mark.parametrize(
    ("print_price", "expected"),
    [("94.5", D("94.5")), ("96", D("96"))],
)
def test_stop_placed_beyond_its_trigger_fires_at_the_next_print(print_price, expected):
    """Last trade 94; a sell stop at 95 is already beyond its trigger when placed. It fires
    as a market order at the next print (94.5 or 96), not at the 94 that traded before."""
    venue = paper()
    venue.on_price(SYMBOL, D("94"), T0)
    order = venue.create_order(SYMBOL, "market", "sell", D("1"), None, {"stopLossPrice": D("95")})
    venue.on_price(SYMBOL, D(print_price), T0 + MINUTE)
    assert fills_of(venue, order) == [(D("1"), expected)]
