"""Linear perpetuals on the paper venue: shorts need margin from equity, reductions do not."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from zvt_pipelines.errors import InsufficientFunds
from zvt_pipelines.venues.paper import FixedMarketData, PaperVenue, spot_market

PERP = "BTC/USDT:USDT"
NOW = datetime(2025, 3, 2, tzinfo=UTC)


def perp_venue(capital: str = "1000") -> PaperVenue:
    market = {
        **spot_market("BTC/USDT"),
        "symbol": PERP,
        "settle": "USDT",
        "type": "swap",
        "spot": False,
        "swap": True,
        "contract": True,
        "linear": True,
    }
    data = FixedMarketData("perp", {PERP: market})
    data.set_book(PERP, bids=[("99", "100")], asks=[("101", "100")])
    return PaperVenue(
        data,
        {"USDT": Decimal(capital)},
        venue_id="perp",
        leverage=Decimal(2),
        taker_bps=Decimal(10),
        clock=lambda: NOW,
    )


def test_short_within_margin_then_refused_beyond_it():
    """Capital 1,000 USDT, leverage 2, mark 100 (mid of 99/101), taker fee 10 bps.
    Short 9 BTC: needs 9 × 100 × (0.5 + 0.001) = 450.9 ≤ 1,000 → fills at the 99 bid,
    fee 9 × 99 × 0.001 = 0.891. Equity = 1,000 + 891 − 0.891 − 9 × 100 = 990.109; the open
    short holds 9 × 100 × 0.5 = 450 margin → 540.109 free. Another 11 BTC short needs
    11 × 100 × 0.501 = 551.1 > 540.109 → refused; buying 5 back only reduces → allowed."""
    venue = perp_venue()
    first = venue.create_order(PERP, "market", "sell", Decimal(9))
    assert Decimal(str(first["filled"])) == Decimal(9)
    assert venue.fetch_balance()["total"]["BTC"] == Decimal(-9)
    assert venue.fetch_balance()["total"]["USDT"] == Decimal("1000") + Decimal("891") - Decimal(
        "0.891"
    )
    with pytest.raises(InsufficientFunds, match="needs margin"):
        venue.create_order(PERP, "market", "sell", Decimal(11))
    venue.create_order(PERP, "market", "sell", Decimal(10))  # 501 ≤ 540.109: still fits
    reduce = venue.create_order(PERP, "market", "buy", Decimal(5))
    assert Decimal(str(reduce["filled"])) == Decimal(5)
    assert venue.fetch_balance()["total"]["BTC"] == Decimal(-14)
