"""Arbitrage: triangular cycles and cross-exchange spreads worked by hand; funding carry on
real Binance funding rates and candles."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from zvt_pipelines.data.candles import read_candle_file
from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.model.orders import OrderType
from zvt_pipelines.strategies import (
    BookTop,
    MarketData,
    PortfolioView,
    PositionView,
    SignalKind,
    rebalance,
)
from zvt_pipelines.strategies.arb_cross import CrossExchangeArbStrategy, best_cross_opportunity
from zvt_pipelines.strategies.arb_funding import FundingCarryStrategy
from zvt_pipelines.strategies.arb_triangular import TriangularArbStrategy, find_triangular_cycles

NOW = pd.Timestamp("2024-01-01", tz="UTC")
D = Decimal


def book(bid, ask, size=100) -> BookTop:
    return BookTop(D(str(bid)), D(str(ask)), D(size), D(size))


# --- triangular ---------------------------------------------------------------------------


def planted_books(eth_usdt_bid):
    return {
        "BTC/USDT": book(49990, 50000),
        "ETH/BTC": book("0.05", "0.0501"),
        "ETH/USDT": book(eth_usdt_bid, eth_usdt_bid + 1),
    }


def test_triangular_finds_the_planted_cycle():
    """USDT -> BTC (buy at 50000) -> ETH (buy at 0.0501 BTC) -> USDT (sell at 2600):
    2600 / (50000 x 0.0501) = 2600 / 2505 = 1.03792; three 0.1% fees: x 0.999^3."""
    cycles = find_triangular_cycles(planted_books(2600), "USDT", D("0.001"))
    assert len(cycles) == 1
    (cycle,) = cycles
    assert cycle.path == ("USDT", "BTC", "ETH", "USDT")
    assert [(leg.symbol, leg.side.value, leg.price) for leg in cycle.legs] == [
        ("BTC/USDT", "buy", D(50000)),
        ("ETH/BTC", "buy", D("0.0501")),
        ("ETH/USDT", "sell", D(2600)),
    ]
    assert abs(cycle.rate - D(2600) / D(2505) * D("0.999") ** 3) < D("1e-24")


def test_triangular_ignores_a_cycle_the_fees_eat():
    """With ETH/USDT bid 2506: gross 2506 / 2505 = 1.0004, but x 0.999^3 = 0.99740 < 1.
    The reverse cycle (buy ETH at 2507, sell for 0.05 BTC, sell BTC at 49990) is 0.99701."""
    assert find_triangular_cycles(planted_books(2506), "USDT", D("0.001")) == []
    (free,) = find_triangular_cycles(planted_books(2506), "USDT", D(0))
    assert free.rate == D(2506) / D(2505)


def test_triangular_strategy_emits_three_limit_legs_sized_along_the_cycle():
    venue = "binance"
    ids = [InstrumentId.parse(f"{venue}:{s}") for s in ("BTC/USDT", "ETH/BTC", "ETH/USDT")]
    books = {i: b for i, b in zip(ids, planted_books(2600).values(), strict=True)}
    strategy = TriangularArbStrategy({"fee": "0.001"}, instruments=ids, amount_per_trade=D(1000))
    view = MarketData(NOW, "1m", {}, order_books=books)
    legs = strategy.generate_signals(view)
    assert [s.kind for s in legs] == [SignalKind.BUY, SignalKind.BUY, SignalKind.SELL]
    assert all(s.order_type is OrderType.LIMIT for s in legs)
    btc = D(1000) / D(50000)  # 0.02 BTC bought
    assert legs[0].amount == btc
    eth = btc * D("0.999") / D("0.0501")  # BTC after the fee buys this much ETH
    assert abs(legs[1].amount - eth) < D("1e-24")
    assert abs(legs[2].amount - eth * D("0.999")) < D("1e-24")


# --- cross-exchange -------------------------------------------------------------------------


A = InstrumentId.parse("venue_a:BTC/USDT")
B = InstrumentId.parse("venue_b:BTC/USDT")
FEES = {"venue_a": D("0.001"), "venue_b": D("0.001")}


def wallets(usdt_a=10_000, btc_b=10):
    return PortfolioView(
        equity=D(100_000), balances={"venue_a": {"USDT": D(usdt_a)}, "venue_b": {"BTC": D(btc_b)}}
    )


def test_cross_exchange_signals_only_when_spread_beats_fees():
    """Buy A at 100.00, sell B at 100.25: 100.25 x 0.999 - 100 x 1.001 = +0.04975 per BTC.
    At a bid of 100.15 the same arithmetic gives -0.05015: no trade."""
    found = best_cross_opportunity({A: book(99.9, 100), B: book(100.25, 100.3)}, FEES, wallets())
    assert (found.buy, found.sell) == (A, B)
    assert found.edge == D("100.25") * D("0.999") - D(100) * D("1.001") == D("0.04975")
    assert (
        best_cross_opportunity({A: book(99.9, 100), B: book(100.15, 100.3)}, FEES, wallets())
        is None
    )


def test_cross_exchange_size_limited_by_each_venues_own_balance():
    """Quote on A: 1001 USDT buys 1001 / (100 x 1.001) = 10 BTC; base on B: 3 BTC -> 3."""
    books = {A: book(99.9, 100, 20), B: book(100.25, 100.3, 20)}
    assert best_cross_opportunity(books, FEES, wallets(1001, 3)).amount == 3
    assert best_cross_opportunity(books, FEES, wallets(1001, 50)).amount == 10
    assert best_cross_opportunity(books, FEES, wallets(1001, 0)) is None  # nothing to sell on B
    strategy = CrossExchangeArbStrategy({"taker_fees": FEES}, instruments=[A, B])
    plan = rebalance(strategy, MarketData(NOW, "1m", {}, order_books=books), wallets(1001, 3))
    assert [(s.instrument, s.kind, s.amount) for s in plan.limit_orders] == [
        (A, SignalKind.BUY, D(3)),
        (B, SignalKind.SELL, D(3)),
    ]


# --- funding carry on real data ----------------------------------------------------------------


SPOT = InstrumentId.parse("binance:BTC/USDT")
PERP = InstrumentId.parse("binanceusdm:BTC/USDT:USDT")


@pytest.fixture(scope="module")
def carry_data(shared_data):
    funding = pd.read_csv(shared_data / "binanceusdm_BTC-USDT-PERP_funding_8h.csv.gz")
    funding["ts"] = pd.to_datetime(funding["timestamp"], unit="ms", utc=True).astype(
        "datetime64[ms, UTC]"
    )
    spot = read_candle_file(shared_data / "binance_BTC-USDT_1h.csv.gz")
    perp = read_candle_file(shared_data / "binanceusdm_BTC-USDT-PERP_1h.csv.gz")
    return funding[["ts", "funding_rate"]], spot, perp


def independent_edge(funding, spot, perp, now):
    """mean(last 3 settled rates) x 72/8 - 2 x (0.001 + 0.0005) - max(0, -(perp/spot - 1))."""
    settled = funding.loc[funding["ts"] <= now, "funding_rate"].tail(3)
    closed = now - pd.Timedelta(hours=1)
    s = spot.loc[spot["ts"] <= closed, "close"].iloc[-1]
    p = perp.loc[perp["ts"] <= closed, "close"].iloc[-1]
    return settled.mean() * 9 - 0.003 - max(0.0, -(p / s - 1)), settled.mean()


def view_at(carry_data, now):
    funding, spot, perp = carry_data

    def window(frame):
        return frame.loc[
            (frame["ts"] > now - pd.Timedelta(days=3)) & (frame["ts"] < now + pd.Timedelta(days=3))
        ]

    return MarketData(
        now, "1h", {SPOT: window(spot), PERP: window(perp)}, funding={PERP: window(funding)}
    )


def test_funding_carry_enters_in_a_high_funding_period(carry_data):
    funding, spot, perp = carry_data
    rolling = funding["funding_rate"].rolling(3).mean()
    candidates = funding.loc[
        (rolling > 0.0006) & (funding["ts"] > pd.Timestamp("2020-01-01", tz="UTC")), "ts"
    ]
    now = next(t for t in candidates if independent_edge(funding, spot, perp, t)[0] > 0.001)
    strategy = FundingCarryStrategy({}, instruments=[SPOT, PERP], amount_per_trade=D(5000))
    signals = strategy.generate_signals(
        view_at(carry_data, now), portfolio=PortfolioView(equity=D(10**5))
    )
    assert [(s.instrument, s.kind) for s in signals] == [
        (SPOT, SignalKind.BUY),
        (PERP, SignalKind.SELL),
    ]
    assert signals[0].amount == signals[1].amount  # delta-neutral
    estimate = strategy.estimate(view_at(carry_data, now))
    assert float(estimate.edge) == pytest.approx(
        independent_edge(funding, spot, perp, now)[0], rel=1e-9
    )


def test_funding_carry_stays_out_and_exits_when_funding_turns_negative(carry_data):
    funding, spot, perp = carry_data
    rolling = funding["funding_rate"].rolling(3).mean()
    now = funding.loc[
        (rolling < 0) & (funding["ts"] > pd.Timestamp("2020-01-01", tz="UTC")), "ts"
    ].iloc[0]
    strategy = FundingCarryStrategy({}, instruments=[SPOT, PERP])
    view = view_at(carry_data, now)
    assert strategy.generate_signals(view, portfolio=PortfolioView(equity=D(10**5))) == []
    held = PortfolioView(
        equity=D(10**5),
        positions={
            SPOT: PositionView(SPOT, D(1), D(10_000)),
            PERP: PositionView(PERP, D(-1), D(10_000)),
        },
    )
    exits = strategy.generate_signals(view, portfolio=held)
    assert [(s.instrument, s.kind) for s in exits] == [
        (SPOT, SignalKind.EXIT),
        (PERP, SignalKind.EXIT),
    ]
