"""Market making: hard inventory limits under random fills; skew and spread by hand."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from zvt_pipelines.strategies import BookTop
from zvt_pipelines.strategies.market_making import MarketMakingParams, make_quotes

D = Decimal
BOOK = BookTop(D(99), D(101), D(3), D(1))  # mid 100; micro (99x1 + 101x3) / 4 = 100.5


def params(**overrides) -> MarketMakingParams:
    values = {
        "base_spread_bps": 20,
        "vol_multiplier": 0,
        "skew_bps": 10,
        "max_inventory": 1,
        "quote_size": "0.3",
    }
    return MarketMakingParams.model_validate({**values, **overrides})


def test_flat_inventory_quotes_symmetric_around_fair():
    """Half spread 100 x 20/2 bps = 0.1: bid 99.9, ask 100.1."""
    quotes = make_quotes(BOOK, D(0), D(0), params())
    assert (quotes.bid, quotes.ask) == (D("99.9"), D("100.1"))
    micro = make_quotes(BOOK, D(0), D(0), params(fair_price="micro"))
    assert micro.fair == D("100.5")


def test_skew_moves_quotes_away_from_inventory_by_the_documented_amount():
    """Long 0.5 of a 1 limit with skew 10 bps: reservation 100 x (1 - 0.001 x 0.5) = 99.95,
    both quotes 0.05 lower; short 0.5 moves them 0.05 higher."""
    flat = make_quotes(BOOK, D(0), D(0), params())
    long = make_quotes(BOOK, D("0.5"), D(0), params())
    short = make_quotes(BOOK, D("-0.5"), D(0), params())
    assert long.reservation == D("99.95")
    assert (flat.bid - long.bid, flat.ask - long.ask) == (D("0.05"), D("0.05"))
    assert (short.bid - flat.bid, short.ask - flat.ask) == (D("0.05"), D("0.05"))


def test_volatility_widens_the_spread():
    """sigma 0.002 with multiplier 1 adds 100 x 0.002 = 0.2 to the half spread."""
    quotes = make_quotes(BOOK, D(0), D("0.002"), params(vol_multiplier=1))
    assert (quotes.bid, quotes.ask) == (D("99.7"), D("100.3"))


def test_no_quote_on_the_side_that_would_breach():
    """Limit 1, size 0.3: at +0.8 a filled bid would make 1.1 -> no bid; the ask stays."""
    quotes = make_quotes(BOOK, D("0.8"), D(0), params())
    assert quotes.bid is None and quotes.ask is not None
    quotes = make_quotes(BOOK, D("-0.8"), D(0), params())
    assert quotes.ask is None and quotes.bid is not None


@pytest.mark.parametrize("seed", range(5))
def test_inventory_never_exceeds_the_limit_under_random_fills(seed):
    rng = random.Random(seed)
    p = params()
    inventory = D(0)
    for _ in range(2_000):
        quotes = make_quotes(BOOK, inventory, D(0), p)
        side = rng.choice(("bid", "ask", "none"))
        if side == "bid" and quotes.bid is not None:
            inventory += quotes.size
        elif side == "ask" and quotes.ask is not None:
            inventory -= quotes.size
        assert abs(inventory) <= p.max_inventory
    assert inventory in {D("-0.9"), D("-0.6"), D("-0.3"), D(0), D("0.3"), D("0.6"), D("0.9")}
