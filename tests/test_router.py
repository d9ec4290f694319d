"""Smart order router over three hand-built venues; every best route is worked out by hand."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zvt_pipelines.errors import NoRoute, VenueUnavailable
from zvt_pipelines.model.orders import Side
from zvt_pipelines.oms.router import SmartOrderRouter
from zvt_pipelines.oms.sizing import DECIMAL_PLACES, floor_to_step, market_rules

SYMBOL = "BTC/USDT"


class BookVenue:
    """A venue that serves one fixed market, book and balance in ccxt's unified shapes."""

    def __init__(
        self,
        id: str,
        taker: float,
        asks=(),
        bids=(),
        usdt: float = 1e6,
        btc: float = 100.0,
        min_cost: float = 5.0,
        listed: bool = True,
        down: bool = False,
    ) -> None:
        self.id = id
        self.taker = taker
        self.book = {"bids": [list(b) for b in bids], "asks": [list(a) for a in asks]}
        self.balance = {"USDT": usdt, "BTC": btc}
        self.min_cost = min_cost
        self.listed = listed
        self.down = down

    def load_markets(self, reload: bool = False) -> dict[str, dict[str, Any]]:
        if self.down:
            raise VenueUnavailable(f"{self.id} timed out")
        if not self.listed:
            return {}
        return {
            SYMBOL: {
                "symbol": SYMBOL,
                "base": "BTC",
                "quote": "USDT",
                "taker": self.taker,
                "maker": self.taker,
                "precision": {"amount": 0.001, "price": 0.01},
                "limits": {"amount": {"min": 0.001}, "cost": {"min": self.min_cost}},
            }
        }

    def fetch_order_book(self, symbol: str, limit: int | None = None) -> dict[str, Any]:
        return self.book

    def fetch_balance(self) -> dict[str, Any]:
        return {"free": dict(self.balance), "used": {}, "total": dict(self.balance)}


def router(*venues: BookVenue) -> SmartOrderRouter:
    return SmartOrderRouter({v.id: v for v in venues})


def test_split_beats_every_single_venue():
    """Buy 2 BTC. Fee-adjusted asks: A 100*1.001 = 100.1 (1), 102*1.001 = 102.102 (5);
    B 100.5*1.001 = 100.6005 (1), 103*1.001 = 103.103 (5); C 101*1.002 = 101.202 (5).
    Alone: A = (100 + 102) * 1.001 = 202.202, B = (100.5 + 103) * 1.001 = 203.7035,
    C = 202 * 1.002 = 202.404, so A is the best single venue.
    Greedy merge: A's 1 @100.1 then B's 1 @100.6005 = 200.7005 < 202.202: split 1 on A, 1 on B.
    """
    venues = (
        BookVenue("a", 0.001, asks=[(100, 1), (102, 5)]),
        BookVenue("b", 0.001, asks=[(100.5, 1), (103, 5)]),
        BookVenue("c", 0.002, asks=[(101, 5)]),
    )
    report = router(*venues).route(SYMBOL, Side.BUY, D(2))
    assert report.single_venue_best == "a"
    assert report.quotes["a"].fill.total == D("202.202")
    assert report.quotes["b"].fill.total == D("203.7035")
    assert report.quotes["c"].fill.total == D("202.404")
    assert report.decision == "split"
    assert [(a.venue, a.amount, a.total) for a in report.allocations] == [
        ("a", D(1), D("100.1")),
        ("b", D(1), D("100.6005")),
    ]
    assert report.expected_total == D("200.7005")
    assert report.expected_average_price == D("100.35025")
    assert report.unallocated == 0


def test_limit_price_cuts_levels_and_excludes_venue_without_any():
    """Same books, buy 2 with limit 100.5: A keeps 1 @100, B keeps 1 @100.5, C has nothing within
    the limit and is excluded. No venue can fill 2 alone; the split 1 + 1 fills it for 200.7005."""
    venues = (
        BookVenue("a", 0.001, asks=[(100, 1), (102, 5)]),
        BookVenue("b", 0.001, asks=[(100.5, 1), (103, 5)]),
        BookVenue("c", 0.002, asks=[(101, 5)]),
    )
    report = router(*venues).route(SYMBOL, Side.BUY, D(2), limit_price=D("100.5"))
    assert report.excluded == {"c": "no level within limit price 100.5"}
    assert report.single_venue_best is None
    assert report.quotes["a"].limited_by == "depth"
    assert report.decision == "split"
    assert report.expected_total == D("200.7005")
    assert [a.worst_price for a in report.allocations] == [D(100), D("100.5")]


def test_lower_fee_beats_better_quoted_price():
    """Buy 1. A quotes 100 with 0.26% fee: 100.26. B quotes 100.1 with 0.05%: 100.15005.
    C quotes 100.2 with 0.1%: 100.3002. B is cheapest despite the worse quote; it takes it all."""
    venues = (
        BookVenue("a", 0.0026, asks=[(100, 2)]),
        BookVenue("b", 0.0005, asks=[(100.1, 2)]),
        BookVenue("c", 0.001, asks=[(100.2, 2)]),
    )
    report = router(*venues).route(SYMBOL, Side.BUY, D(1))
    assert report.decision == "single"
    assert report.single_venue_best == "b"
    (only,) = report.allocations
    assert (only.venue, only.amount, only.total, only.fee) == (
        "b",
        D(1),
        D("100.15005"),
        D("0.05005"),
    )


def test_balance_limits_a_venue_and_the_split_fills_the_rest():
    """Buy 2. A asks 100 (fee 0.1%, 100.1 per BTC) but holds only 150 USDT: 150 / 100.1 = 1.4985..
    BTC, 1.498 on the 0.001 step. B asks 101 (101.101 per BTC). Greedy: A 1.4985.., B the rest;
    rounding gives A 1.498, B 0.501 and the 0.001 left goes to B (A has no balance for more):
    A 1.498 * 100.1 = 149.9498, B 0.502 * 101.101 = 50.752702, total 200.702502,
    cheaper than B alone (2 * 101.101 = 202.202). C is excluded: no USDT at all.
    """
    venues = (
        BookVenue("a", 0.001, asks=[(100, 5)], usdt=150),
        BookVenue("b", 0.001, asks=[(101, 5)]),
        BookVenue("c", 0.001, asks=[(99, 5)], usdt=0),
    )
    report = router(*venues).route(SYMBOL, Side.BUY, D(2))
    assert report.excluded == {"c": "insufficient balance: no free USDT"}
    assert report.quotes["a"].fillable == D("1.498")
    assert report.quotes["a"].limited_by == "balance"
    assert report.decision == "split"
    assert [(a.venue, a.amount, a.total) for a in report.allocations] == [
        ("a", D("1.498"), D("149.9498")),
        ("b", D("0.502"), D("50.752702")),
    ]


def test_sell_drops_a_venue_whose_share_is_below_min_notional():
    """Sell 1. Fee-adjusted bids: A 100*0.999 = 99.9 (0.98), 99*0.999 = 98.901 (5);
    C 99.95*0.999 = 99.85005 (5, min notional 10); B has no BTC (excluded).
    Greedy: A 0.98, then C 0.02 -- worth 0.02 * 99.95 = 1.999 < 10, so C is dropped; without C,
    A sells 0.98 @100 + 0.02 @99: (98 + 1.98) * 0.999 = 99.88002, better than C alone
    (99.95 * 0.999 = 99.85005): A takes it all.
    """
    venues = (
        BookVenue("a", 0.001, bids=[(100, 0.98), (99, 5)]),
        BookVenue("b", 0.001, bids=[(99.9, 5)], btc=0),
        BookVenue("c", 0.001, bids=[(99.95, 5)], min_cost=10),
    )
    report = router(*venues).route(SYMBOL, Side.SELL, D(1))
    assert report.excluded == {"b": "insufficient balance: no free BTC"}
    assert report.dropped_from_split["c"].startswith("below min notional")
    assert report.quotes["c"].fill.total == D("99.85005")
    assert report.decision == "single"
    (only,) = report.allocations
    assert (only.venue, only.total, only.worst_price) == ("a", D("99.88002"), D(99))


def test_unlisted_down_and_broke_venues_give_no_route():
    venues = (
        BookVenue("a", 0.001, asks=[(100, 5)], listed=False),
        BookVenue("b", 0.001, asks=[(100, 5)], down=True),
        BookVenue("c", 0.001, asks=[(100, 5)], usdt=0),
    )
    with pytest.raises(NoRoute) as caught:
        router(*venues).route(SYMBOL, Side.BUY, D(1))
    assert caught.value.report.excluded == {
        "a": "symbol not listed",
        "b": "venue error: b timed out",
        "c": "insufficient balance: no free USDT",
    }
    assert caught.value.report.decision == "none"


def test_partial_when_depth_runs_out():
    """Buy 3 with only 1 + 1 on offer: 2 placed, 1 unallocated."""
    venues = (BookVenue("a", 0.001, asks=[(100, 1)]), BookVenue("b", 0.001, asks=[(101, 1)]))
    report = router(*venues).route(SYMBOL, Side.BUY, D(3))
    assert report.decision == "partial"
    assert report.unallocated == D(1)


def test_market_rules_in_decimal_places_mode_and_flooring():
    rules = market_rules({"precision": {"amount": 3}, "taker": 0.001}, DECIMAL_PLACES)
    assert rules.amount_step == D("0.001")
    assert rules.min_notional == 0
    assert floor_to_step(D("1.23456"), D("0.001")) == D("1.234")


levels = st.lists(
    st.tuples(st.integers(9_000, 11_000), st.integers(1, 3_000)), min_size=1, max_size=6
)
venue_specs = st.tuples(
    levels, st.sampled_from([0.0, 0.0005, 0.001, 0.002]), st.integers(0, 400_000)
)


@settings(max_examples=150, deadline=None)
@given(specs=st.lists(venue_specs, min_size=3, max_size=3), units=st.integers(1, 5_000))
def test_route_respects_depth_balance_step_and_never_loses_to_one_venue(specs, units):
    """Random books (prices 90..110, sizes 0.001..3), fees and USDT balances on three venues:
    allocations plus the unallocated rest add up to the order; each allocation is on the 0.001
    step, within the venue's depth and balance; a split is never dearer than the best single venue."""
    venues = []
    for n, (book, fee, usdt_cents) in enumerate(specs):
        asks = sorted((price / 100, size / 1000) for price, size in book)
        venues.append(BookVenue(f"v{n}", fee, asks=asks, usdt=usdt_cents / 100, min_cost=0))
    amount = D(units) / 1000
    try:
        report = router(*venues).route(SYMBOL, Side.BUY, amount)
    except NoRoute:
        return
    assert sum(a.amount for a in report.allocations) + report.unallocated == amount
    for allocation in report.allocations:
        venue = next(v for v in venues if v.id == allocation.venue)
        assert allocation.amount % D("0.001") == 0
        assert allocation.amount <= sum(D(str(size)) for _, size in venue.book["asks"])
        assert allocation.total <= D(str(venue.balance["USDT"]))
    if report.decision == "split" and report.single_venue_best is not None:
        assert report.expected_total < report.quotes[report.single_venue_best].fill.total
