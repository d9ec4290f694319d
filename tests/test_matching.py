"""The matching engine through `PaperVenue`: every order type and time in force, by hand-worked numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from zvt_pipelines.errors import InsufficientFunds, InvalidOrder, OrderNotFound, UnknownSymbol
from zvt_pipelines.venues.matching import bar_path, fee_of
from zvt_pipelines.venues.paper import FixedMarketData, PaperVenue, spot_market

T0 = datetime(2024, 1, 1, tzinfo=UTC)
SYMBOL = "BTC/USDT"


@pytest.fixture
def venue() -> PaperVenue:
    """Book: bids 99 x 1, 98 x 2; asks 101 x 1, 102 x 2, 103 x 5. Fees 10 bps taker, 2 bps maker."""
    data = FixedMarketData("paper", {SYMBOL: spot_market(SYMBOL)})
    data.set_book(
        SYMBOL, bids=[("99", "1"), ("98", "2")], asks=[("101", "1"), ("102", "2"), ("103", "5")]
    )
    return PaperVenue(
        data,
        {"USDT": D("10000"), "BTC": D("5")},
        maker_bps=D(2),
        taker_bps=D(10),
        latency=timedelta(milliseconds=250),
        clock=lambda: T0,
    )


def test_market_buy_walks_the_book_and_pays_taker_fee(venue):
    """Buy 2.5: 1 @ 101 + 1.5 @ 102 = 101 + 153 = 254 USDT; fees 0.101 + 0.153 = 0.254.

    USDT 10000 - 254 - 0.254 = 9745.746; BTC 5 + 2.5 = 7.5. Fills stamped ack + 250 ms.
    """
    order = venue.create_order(SYMBOL, "market", "buy", D("2.5"))
    assert order["status"] == "closed"
    assert order["filled"] == D("2.5") and order["cost"] == D("254")
    assert order["average"] == D("101.6")
    trades = order["trades"]
    assert [(t["price"], t["amount"], t["takerOrMaker"]) for t in trades] == [
        (D("101"), D("1"), "taker"),
        (D("102"), D("1.5"), "taker"),
    ]
    assert trades[0]["timestamp"] == int((T0 + timedelta(milliseconds=250)).timestamp() * 1000)
    balance = venue.fetch_balance()
    assert balance["USDT"]["total"] == D("9745.746")
    assert balance["BTC"]["total"] == D("7.5")


def test_market_order_larger_than_the_book_expires_the_rest(venue):
    """Sell 4 against bids 1 @ 99 + 2 @ 98: 3 fill, 1 expires."""
    order = venue.create_order(SYMBOL, "market", "sell", D("4"))
    assert order["filled"] == D("3") and order["remaining"] == D("1")
    assert order["status"] == "expired"


def test_limit_partially_fills_then_rests_and_fills_as_maker_from_the_stream(venue):
    """Buy 3 @ 102: takes 1 @ 101 and 2 @ 102 -> filled; buy 5 @ 101.5 takes 1 @ 101, 4 rest.

    The rest fills when the price touches 101.5: maker fee 4 * 101.5 * 2 bps = 0.0812.
    """
    order = venue.create_order(SYMBOL, "limit", "buy", D("5"), D("101.5"))
    assert order["status"] == "open" and order["filled"] == D("1")
    assert venue.fetch_balance()["USDT"]["used"] == D("4") * D("101.5") * D("1.001")
    venue.on_price(SYMBOL, D("102"), T0)
    assert venue.fetch_order(order["id"])["filled"] == D("1")
    fills = venue.on_price(SYMBOL, D("101.4"), T0 + timedelta(minutes=1))
    assert [(f.amount, f.price, f.fee, f.liquidity.value) for f in fills] == [
        (D("4"), D("101.5"), D("0.0812"), "maker")
    ]
    assert venue.fetch_order(order["clientOrderId"])["status"] == "closed"
    assert venue.fetch_balance()["USDT"]["used"] == 0


def test_ioc_fills_what_it_can_and_expires_the_rest(venue):
    """IOC buy 2 @ 101: 1 fills @ 101, 1 expires."""
    order = venue.create_order(SYMBOL, "limit", "buy", D("2"), D("101"), {"timeInForce": "IOC"})
    assert (order["filled"], order["status"]) == (D("1"), "expired")


def test_fok_not_fully_fillable_expires_with_nothing_filled(venue):
    """FOK buy 4 @ 102: only 1 + 2 = 3 available at or below 102 -> nothing fills."""
    order = venue.create_order(SYMBOL, "limit", "buy", D("4"), D("102"), {"timeInForce": "FOK"})
    assert (order["filled"], order["status"]) == (D("0"), "expired")
    assert venue.fetch_my_trades() == []


def test_fok_fully_fillable_fills(venue):
    """FOK buy 3 @ 102: 1 @ 101 + 2 @ 102 = 3."""
    order = venue.create_order(SYMBOL, "limit", "buy", D("3"), D("102"), {"timeInForce": "FOK"})
    assert (order["filled"], order["status"], order["cost"]) == (D("3"), "closed", D("305"))


def test_post_only_that_would_cross_is_rejected_and_one_that_rests_is_open(venue):
    crossing = venue.create_order(SYMBOL, "limit", "buy", D("1"), D("101"), {"postOnly": True})
    assert (crossing["status"], crossing["filled"]) == ("rejected", D("0"))
    resting = venue.create_order(SYMBOL, "limit", "sell", D("1"), D("101"), {"postOnly": True})
    assert resting["status"] == "open"


def test_stop_loss_triggers_on_the_way_down_and_fills_at_the_stop(venue):
    """Sell stop at 95: 97 does nothing, 94 fires it at 95 (a continuous move passes 95)."""
    venue.on_price(SYMBOL, D("100"), T0)
    order = venue.create_order(SYMBOL, "market", "sell", D("1"), None, {"stopLossPrice": D("95")})
    assert venue.on_price(SYMBOL, D("97"), T0) == []
    (fill,) = venue.on_price(SYMBOL, D("94"), T0)
    assert (fill.price, fill.liquidity.value) == (D("95"), "taker")
    assert venue.fetch_order(order["id"])["status"] == "closed"


def test_stop_gap_fills_at_the_open_not_the_stop(venue):
    """Previous close 100, next bar opens at 90 (gap through the 95 stop): fill at 90."""
    venue.on_bar(SYMBOL, D("100"), D("100"), D("100"), D("100"), T0)
    venue.create_order(SYMBOL, "market", "sell", D("1"), None, {"stopLossPrice": D("95")})
    fills = venue.on_bar(SYMBOL, D("90"), D("92"), D("89"), D("91"), T0 + timedelta(minutes=1))
    assert [f.price for f in fills] == [D("90")]


def test_take_profit_and_stop_limit(venue):
    """Sell TP at 110 fires at 110 on the way up; buy stop-limit stop 105 limit 104 rests then fills at 104."""
    venue.on_price(SYMBOL, D("100"), T0)
    venue.create_order(SYMBOL, "market", "sell", D("1"), None, {"takeProfitPrice": D("110")})
    stop_limit = venue.create_order(
        SYMBOL, "limit", "buy", D("1"), D("104"), {"stopPrice": D("105")}
    )
    fills = venue.on_price(SYMBOL, D("111"), T0)
    assert [(f.side.value, f.price) for f in fills] == [("sell", D("110"))]
    assert (
        venue.fetch_order(stop_limit["id"])["status"] == "open"
    )  # fired at 105, limit 104 not marketable
    (fill,) = venue.on_price(SYMBOL, D("103"), T0)
    assert (fill.side.value, fill.price, fill.liquidity.value) == ("buy", D("104"), "maker")


def test_trailing_stop_ratchets_up_with_the_price_then_fires(venue):
    """Sell trailing 5%: anchor 100 (stop 95) -> 120 (stop 114) -> falls to 113: fires at 114."""
    venue.on_price(SYMBOL, D("100"), T0)
    order = venue.create_order(SYMBOL, "market", "sell", D("1"), None, {"trailingPercent": D("5")})
    assert venue.fetch_order(order["id"])["triggerPrice"] == D("95")
    venue.on_price(SYMBOL, D("120"), T0)
    assert venue.fetch_order(order["id"])["triggerPrice"] == D("114")
    assert venue.on_price(SYMBOL, D("115"), T0) == []
    (fill,) = venue.on_price(SYMBOL, D("113"), T0)
    assert fill.price == D("114")


def test_trailing_buy_by_amount_follows_the_low(venue):
    """Buy trailing 3 USDT: anchor 100 -> low 90 (stop 93) -> rises to 94: fires at 93."""
    venue.on_price(SYMBOL, D("100"), T0)
    venue.create_order(SYMBOL, "market", "buy", D("1"), None, {"trailingAmount": D("3")})
    venue.on_price(SYMBOL, D("90"), T0)
    (fill,) = venue.on_price(SYMBOL, D("94"), T0)
    assert fill.price == D("93")


def test_oco_legs_in_one_bar_the_nearer_extreme_wins(venue):
    """Bar O=100 H=106 L=97 C=101: high is 6 away, low 3 away -> path 100, 97, 106, 101.

    Sell TP 105 and sell stop 98 both lie inside the bar; the path reaches 98 first, so the
    stop fills at 98 and the take-profit is canceled.
    """
    assert bar_path(D(100), D(106), D(97), D(101)) == [D(100), D(97), D(106), D(101)]
    venue.on_price(SYMBOL, D("100"), T0)
    tp = venue.create_order(SYMBOL, "limit", "sell", D("1"), D("105"))
    stop = venue.create_order(
        SYMBOL,
        "market",
        "sell",
        D("1"),
        None,
        {"stopLossPrice": D("98"), "ocoWith": tp["clientOrderId"]},
    )
    fills = venue.on_bar(SYMBOL, D("100"), D("106"), D("97"), D("101"), T0)
    assert [f.price for f in fills] == [D("98")]
    assert venue.fetch_order(stop["id"])["status"] == "closed"
    assert venue.fetch_order(tp["id"])["status"] == "canceled"


def test_oco_equal_distances_visit_the_low_first(venue):
    """O=100 H=105 L=95: equal distance -> low first, so the stop (conservative) wins."""
    assert bar_path(D(100), D(105), D(95), D(100)) == [D(100), D(95), D(105), D(100)]


def test_oco_partial_fill_of_one_leg_cancels_the_other(venue):
    """Buy limit 3 @ 102 crossing the book fills at once; a partially filled leg also cancels its partner."""
    stop = venue.create_order(SYMBOL, "market", "buy", D("5"), None, {"stopLossPrice": D("150")})
    limit = venue.create_order(SYMBOL, "limit", "buy", D("5"), D("101"), {"ocoWith": stop["id"]})
    assert limit["filled"] == D("1") and limit["status"] == "open"
    assert venue.fetch_order(stop["id"])["status"] == "canceled"


def test_oco_pair_reserves_once(venue):
    """Two sell legs of 4 BTC against 5 BTC: reserved 4, not 8."""
    tp = venue.create_order(SYMBOL, "limit", "sell", D("4"), D("200"))
    venue.create_order(
        SYMBOL, "market", "sell", D("4"), None, {"stopLossPrice": D("50"), "ocoWith": tp["id"]}
    )
    assert venue.fetch_balance()["BTC"]["used"] == D("4")


def test_client_order_id_is_idempotent(venue):
    first = venue.create_order(SYMBOL, "market", "buy", D("1"), None, {"clientOrderId": "c-1"})
    again = venue.create_order(SYMBOL, "market", "buy", D("1"), None, {"clientOrderId": "c-1"})
    assert again["id"] == first["id"]
    assert len(venue.fetch_my_trades()) == 1


def test_cancel_and_errors(venue):
    order = venue.create_order(SYMBOL, "limit", "buy", D("1"), D("90"))
    assert venue.cancel_order(order["id"])["status"] == "canceled"
    with pytest.raises(InvalidOrder, match="canceled, not open"):
        venue.cancel_order(order["id"])
    with pytest.raises(OrderNotFound):
        venue.fetch_order("nope")
    with pytest.raises(UnknownSymbol):
        venue.create_order("DOGE/USDT", "market", "buy", D("1"))
    with pytest.raises(InvalidOrder, match="step"):
        venue.create_order(SYMBOL, "limit", "buy", D("0.000001"), D("90"))
    with pytest.raises(InsufficientFunds, match="needs"):
        venue.create_order(SYMBOL, "limit", "buy", D("200"), D("90"))
    with pytest.raises(InsufficientFunds):
        venue.create_order(SYMBOL, "market", "sell", D("6"))


def test_fee_rounds_to_a_picounit():
    """0.00001 BTC @ 100.001 = 0.00100001; x 7.5 bps = 0.0000007500075 -> 0.000000750008 (half-even)."""
    assert fee_of(D("0.00001") * D("100.001"), D("7.5")) == D("0.000000750008")


def test_paper_venue_over_the_simulated_venue():
    """The market-data half from the seeded simulator: a market buy walks its book level by level,
    and a resting limit below the market fills when a later candle's low reaches it."""
    import pandas as pd

    from zvt_pipelines.venues.simulator.market import MarketSimulator
    from zvt_pipelines.venues.simulator.venue import SimulatedVenue

    origin = pd.Timestamp("2024-01-01", tz="UTC")
    now = [origin + pd.Timedelta(hours=1)]
    simulated = SimulatedVenue(
        "sim", MarketSimulator(seed=7, venues=["sim"], origin=origin), clock=lambda: now[0]
    )
    venue = PaperVenue(simulated, {"USDT": D("1000000")}, clock=lambda: now[0].to_pydatetime())
    book = venue.fetch_order_book(SYMBOL)  # the depth PaperVenue matches against
    asks = [(D(str(p)), D(str(q))) for p, q, *_ in book["asks"]]
    amount = asks[0][1] + asks[1][1] / 2  # the whole first level and half the second
    amount -= amount % D("0.00001")
    order = venue.create_order(SYMBOL, "market", "buy", amount)
    prices = [t["price"] for t in order["trades"]]
    assert prices == [asks[0][0], asks[1][0]] and order["filled"] == amount
    assert venue.fetch_balance()["BTC"]["total"] == amount

    placed_ms = int(now[0].timestamp() * 1000)
    now[0] += pd.Timedelta(hours=10)  # the clock moves on; the candles since then are history
    candles = simulated.fetch_ohlcv(SYMBOL, "1m", since=placed_ms, limit=600)
    lowest = min(D(str(c[3])) for c in candles)
    limit_price = lowest.quantize(D("0.01"), rounding="ROUND_CEILING")  # touched by the path
    assert limit_price < asks[0][0]
    resting = venue.create_order(SYMBOL, "limit", "buy", D("0.01"), limit_price)
    assert resting["status"] == "open"
    for _, o, h, low, c, _ in candles:
        venue.on_bar(SYMBOL, D(str(o)), D(str(h)), D(str(low)), D(str(c)))
    assert venue.fetch_order(resting["id"])["status"] == "closed"
    assert venue.fetch_order(resting["id"])["average"] == limit_price


def test_markets_carry_the_paper_fees(venue):
    """Maker 2 bps = 0.0002, taker 10 bps = 0.001, as ccxt fee fractions (the router reads them)."""
    market = venue.load_markets()[SYMBOL]
    assert (market["maker"], market["taker"]) == (D("0.0002"), D("0.001"))
