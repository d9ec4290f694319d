"""Cross-currency hedging: hand-worked books in Decimal, and hedges placed through the OMS."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from zvt_pipelines.errors import ConfigError, NoConversionPath
from zvt_pipelines.model.orders import OrderStatus, Side
from zvt_pipelines.oms.manager import OrderManager
from zvt_pipelines.portfolio.currency import PriceGraph
from zvt_pipelines.portfolio.hedging import (
    ExposureTarget,
    HedgeProposal,
    currency_exposures,
    place_hedges,
    propose_hedges,
)
from zvt_pipelines.venues.paper import FixedMarketData, PaperVenue, spot_market

QUOTES = {"BTC/USDT": D("60000"), "USDC/USDT": D("0.998")}
BOOK = {"paper": {"BTC": D("2"), "USDT": D("30000"), "USDC": D("5000")}}
HALF = ExposureTarget(max_weight=D("0.5"))


def markets(btc_min_cost: str = "5") -> dict[str, dict[str, dict]]:
    """BTC/USDT with a 0.00001 BTC step, USDC/USDT with a 1 USDC step; no fees listed."""
    return {
        "paper": {
            "BTC/USDT": spot_market("BTC/USDT", min_cost=btc_min_cost),
            "USDC/USDT": spot_market("USDC/USDT", "0.0001", "1"),
        }
    }


def test_btc_above_half_of_equity_is_sold_down() -> None:
    """2 BTC + 30,000 USDT + 5,000 USDC; BTC/USDT 60,000, USDC/USDT 0.998; base USDT, max 50 %.

    Equity E = 2·60,000 + 30,000 + 5,000·0.998 = 120,000 + 30,000 + 4,990 = 154,990 USDT.
    BTC weight 120,000 / 154,990 ≈ 77.4 % > 50 %; USDC 4,990 / 154,990 ≈ 3.2 % is inside.
    Gap 0.5·154,990 − 120,000 = −42,505 USDT (no fee listed, so no gross-up):
    42,505 / 60,000 = 0.708416… BTC, up to the 0.00001 step: sell 0.70842 BTC (42,505.2 USDT).
    After: 1.29158 BTC = 77,494.8 USDT, 72,505.2 USDT, 4,990 USDC-value; E still 154,990;
    BTC weight 77,494.8 / 154,990 ≈ 0.4999987 ≤ 0.5.
    """
    plan = propose_hedges(BOOK, PriceGraph(QUOTES), "USDT", HALF, markets())
    assert plan.before.equity == D("154990")
    assert plan.before.exposures["BTC"].weight == D("120000") / D("154990")
    assert plan.before.exposures["USDC"].value == D("4990")
    assert plan.proposals == (
        HedgeProposal(
            "paper",
            "BTC/USDT",
            Side.SELL,
            D("0.70842"),
            D("60000"),
            "BTC",
            D("-42505.2"),
            plan.proposals[0].reason,
        ),
    )
    assert plan.proposals[0].notional == D("42505.2")
    assert plan.skipped == ()
    # recomputed by hand from the balances the sale leaves
    btc_value = (D(2) - D("0.70842")) * 60000
    equity = btc_value + (30000 + D("42505.2")) + 5000 * D("0.998")
    assert equity == D("154990")
    assert btc_value / equity <= D("0.5")
    assert plan.after.exposures["BTC"].weight == btc_value / equity


def test_depegged_stablecoin_counts_at_its_market_price() -> None:
    """100,000 USDC at 0.95 USDT + 20,000 USDT; base USDT, max 50 %.

    At market: E = 95,000 + 20,000 = 115,000; USDC weight 95,000 / 115,000 ≈ 82.6 %.
    Gap 0.5·115,000 − 95,000 = −37,500 USDT = 37,500 / 0.95 = 39,473.68… USDC, up to the
    1 USDC step: sell 39,474 USDC for 39,474·0.95 = 37,500.3 USDT.
    (At par it would have been 0.5·120,000 − 100,000 = −40,000, i.e. 40,000 USDC.)
    After: 60,526 USDC = 57,499.7 USDT, 57,500.3 USDT; weight 57,499.7 / 115,000 < 0.5.
    """
    book = {"paper": {"USDC": D("100000"), "USDT": D("20000")}}
    plan = propose_hedges(book, PriceGraph({"USDC/USDT": D("0.95")}), "USDT", HALF, markets())
    assert plan.before.exposures["USDC"].value == D("95000")
    [proposal] = plan.proposals
    assert (proposal.symbol, proposal.side, proposal.amount) == ("USDC/USDT", Side.SELL, D(39474))
    assert proposal.notional == D("37500.3")
    usdc_value = (D(100000) - 39474) * D("0.95")
    assert usdc_value / (usdc_value + 20000 + D("37500.3")) < D("0.5")


def test_no_proposal_within_target() -> None:
    """Same book, max 80 %: BTC at 77.4 % and USDC at 3.2 % are both inside."""
    plan = propose_hedges(
        BOOK, PriceGraph(QUOTES), "USDT", ExposureTarget(max_weight=D("0.8")), markets()
    )
    assert plan.proposals == () and plan.skipped == ()
    assert plan.after == plan.before


def test_hedge_below_min_notional_is_skipped() -> None:
    """Max 77.4 %: gap 0.774·154,990 − 120,000 = −37.74 USDT → 0.000629 BTC → 0.00063 BTC
    (one step up), notional 0.00063·60,000 = 37.8 USDT, below a 100 USDT minimum cost."""
    target = ExposureTarget(max_weight=D("0.774"))
    plan = propose_hedges(BOOK, PriceGraph(QUOTES), "USDT", target, markets(btc_min_cost="100"))
    assert plan.proposals == ()
    [skipped] = plan.skipped
    assert (skipped.symbol, skipped.amount) == ("BTC/USDT", D("0.00063"))
    assert "notional 37.80000 below the minimum 100" in skipped.reason


def test_explicit_target_weight_buys_the_currency() -> None:
    """USDC pinned at 15 % ± 2 %, BTC unconstrained. USDC is at 4,990 / 154,990 ≈ 3.2 %.
    Gap 0.15·154,990 − 4,990 = 23,248.5 − 4,990 = 18,258.5 USDT = 18,258.5 / 0.998
    = 18,295.09… USDC, up to the step: buy 18,296 USDC for 18,296·0.998 = 18,259.408 USDT.
    After: 23,296 USDC = 23,249.408 USDT of 154,990: 15.0004 %."""
    target = ExposureTarget(weights={"USDC": D("0.15")}, tolerance=D("0.02"))
    plan = propose_hedges(BOOK, PriceGraph(QUOTES), "USDT", target, markets())
    [proposal] = plan.proposals
    assert (proposal.symbol, proposal.side, proposal.amount) == ("USDC/USDT", Side.BUY, D(18296))
    assert proposal.value == D("18259.408")
    assert abs(D(23296) * D("0.998") / D(154990) - D("0.15")) <= D("0.02")


def test_base_btc_hedges_a_quote_currency_by_buying_btc() -> None:
    """Base BTC: 1 BTC + 60,000 USDT at 60,000 is E = 2 BTC, USDT weight 1 / 2 = 50 % > 20 %.
    Gap 0.2·2 − 1 = −0.6 BTC of USDT value; on BTC/USDT one BTC bought spends 60,000 USDT
    worth 1 BTC, so buy 0.6 BTC for 36,000 USDT. After: 24,000 USDT = 0.4 BTC of 2: 20 %."""
    book = {"paper": {"BTC": D(1), "USDT": D(60000)}}
    target = ExposureTarget(max_weight=D("0.2"))
    plan = propose_hedges(book, PriceGraph(QUOTES), "BTC", target, markets())
    [proposal] = plan.proposals
    assert (proposal.symbol, proposal.side, proposal.amount) == ("BTC/USDT", Side.BUY, D("0.6"))
    assert (proposal.currency, proposal.value) == ("USDT", D("-0.6"))
    assert (D(60000) - D("0.6") * 60000) / 60000 / 2 == D("0.2")
    assert plan.after.exposures["USDT"].weight == D("0.2")


def test_split_over_venues_largest_balance_first() -> None:
    """Venue a: 0.5 BTC + 20,000 USDT, venue b: 0.5 BTC; BTC 60,000; base USDT, max 25 %.
    E = 60,000 + 20,000 = 80,000; BTC 75 %; gap 0.25·80,000 − 60,000 = −40,000 USDT.
    Equal BTC balances: venue a first, all its 0.5 BTC (−30,000); the rest −10,000 USDT =
    0.1666… BTC → 0.16667 BTC on b. After: 0.33333 BTC = 19,999.8 of 80,000 < 25 %."""
    book = {"a": {"BTC": D("0.5"), "USDT": D(20000)}, "b": {"BTC": D("0.5")}}
    btc = {"BTC/USDT": spot_market("BTC/USDT")}
    target = ExposureTarget(max_weight=D("0.25"))
    plan = propose_hedges(book, PriceGraph(QUOTES), "USDT", target, {"a": btc, "b": btc})
    legs = [(p.venue, p.side, p.amount) for p in plan.proposals]
    assert legs == [("a", Side.SELL, D("0.5")), ("b", Side.SELL, D("0.16667"))]
    assert (1 - D("0.5") - D("0.16667")) * 60000 / 80000 < D("0.25")


def test_currency_without_a_conversion_path_raises() -> None:
    book = {"paper": {"BTC": D(1), "XYZ": D(10)}}
    with pytest.raises(NoConversionPath, match="'XYZ'.*'USDT'"):
        propose_hedges(book, PriceGraph(QUOTES), "USDT", HALF, markets())


def test_bad_targets() -> None:
    with pytest.raises(ConfigError, match="max_weight=-0.1"):
        ExposureTarget(max_weight=D("-0.1"))
    with pytest.raises(ConfigError, match=r"weights\[BTC\]=0.5"):
        ExposureTarget(weights={"BTC": 0.5})
    with pytest.raises(ConfigError, match="base currency is the residual"):
        propose_hedges(
            BOOK, PriceGraph(QUOTES), "USDT", ExposureTarget(weights={"USDT": D(1)}), markets()
        )
    with pytest.raises(ConfigError, match="equity 0 USDT"):
        currency_exposures({"paper": {"USDT": D(0)}}, PriceGraph(QUOTES), "USDT")


def test_placed_hedges_leave_the_book_within_target() -> None:
    """The hand-built book on a PaperVenue charging a 10 bp taker fee in the quote currency;
    the BTC/USDT bid is 60,000 (the graph price), so the sale fills there.

    Fee-aware size: −42,505 / (1 − 0.5·0.001) = −42,526.263… USDT → 0.7087710… BTC → 0.70878.
    Fill: 0.70878·60,000 = 42,526.8 USDT, fee 42.5268. Balances: 1.29122 BTC (77,473.2),
    30,000 + 42,526.8 − 42.5268 = 72,484.2732 USDT, 5,000 USDC (4,990); E = 154,947.4732;
    BTC weight 77,473.2 / 154,947.4732 ≈ 0.4999983 ≤ 0.5.
    The fee-blind 0.70842 would leave 77,494.8 / (154,990 − 42.5052) ≈ 0.500136 > 0.5.
    """
    data = FixedMarketData("paper", markets()["paper"])
    data.set_book("BTC/USDT", bids=[("60000", "5")], asks=[("60010", "5")])
    data.set_book("USDC/USDT", bids=[("0.998", "100000")], asks=[("0.9981", "100000")])
    venue = PaperVenue(data, BOOK["paper"])
    manager = OrderManager({"paper": venue})
    plan = propose_hedges(
        {"paper": manager.refresh_balances("paper")},
        PriceGraph(QUOTES),
        "USDT",
        HALF,
        {"paper": manager.markets("paper")},
    )
    [order] = place_hedges(plan.proposals, manager)
    assert order.status is OrderStatus.FILLED
    assert (order.symbol, order.side, order.amount) == ("BTC/USDT", Side.SELL, D("0.70878"))
    assert order.strategy == "hedge"
    total = venue.fetch_balance()["total"]
    assert total["BTC"] == D("1.29122")
    assert total["USDT"] == D("72484.2732")
    btc_value = total["BTC"] * 60000
    equity = btc_value + total["USDT"] + total["USDC"] * D("0.998")
    assert equity == D("154947.4732")
    assert btc_value / equity <= D("0.5")
    assert D("77494.8") / (D("154990") - D("42.5052")) > D("0.5")
    assert manager.balances["paper"]["BTC"] == total["BTC"]
