"""The event-driven backtest: parity with the fast engine, no look-ahead, hand-worked fills.

Parity (sma_cross, zero spread, 10 bps fee, fill at the next open) is against
`run_targets`; the other references are numbers read from the raw candle file in the
test or worked by hand in the docstrings.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_DOWN, Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest

from zvt_pipelines.backtest.engine import run_targets
from zvt_pipelines.backtest.event_driven import run_backtest
from zvt_pipelines.backtest.settings import BacktestSettings
from zvt_pipelines.backtest.synthetic_books import MarketRules, VenueFees
from zvt_pipelines.data.candles import read_candle_file
from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.model.timeframe import timeframe_ms
from zvt_pipelines.strategies.arb_triangular import TriangularArbStrategy
from zvt_pipelines.strategies.base import BaseCryptoStrategy, MarketData
from zvt_pipelines.strategies.sma_cross import SmaCrossStrategy

D = Decimal
BTC = InstrumentId.parse("binance:BTC/USDT")
HOUR = pd.Timedelta(hours=1)


@pytest.fixture(scope="module")
def btc_1h(shared_data) -> pd.DataFrame:
    frame = read_candle_file(shared_data / "binance_BTC-USDT_1h.csv.gz")
    keep = (frame["ts"] >= "2024-01-01") & (frame["ts"] < "2024-03-01")
    return frame.loc[keep].reset_index(drop=True)


def test_sma_cross_matches_the_fast_engine(btc_1h):
    """Same strategy, fee 10 bps, zero spread, fill at the next open.

    The live path sizes a target of 1 as ``equity / last close`` and the backtest shrinks
    it to what the cash pays at the ask with the fee, ``cash / (open (1 + fee))``: the
    fast engine's all-in. The only difference left is the amount step: each buy is cut
    to a multiple of 1e-8 BTC, leaving at most ``1e-8 x price`` uninvested. The bound
    below allows that per fill, compounded by the largest price move of the slice.
    """
    strategy = SmaCrossStrategy({"fast": 10, "slow": 30}, instruments=[BTC])
    end = btc_1h["ts"].iloc[-1] + HOUR
    event = run_backtest(
        strategy, {BTC: btc_1h}, btc_1h["ts"].iloc[0], end, D(10_000), fees=VenueFees(D(10), D(10))
    )
    fast = run_targets(
        btc_1h, strategy.target_series(btc_1h), BacktestSettings(cash=10_000.0, fee_bps=10.0)
    )
    assert event.n_trades == fast.n_trades > 10
    assert list(event.fills["time"]) == list(fast.fills["time"])
    np.testing.assert_allclose(event.fills["price"], fast.fills["price"], rtol=0)
    growth = btc_1h["high"].max() / btc_1h["low"].min()
    bound = len(fast.fills) * 1e-8 * btc_1h["high"].max() * growth
    assert abs(event.final_equity - fast.final_equity) <= bound
    np.testing.assert_allclose(event.equity.to_numpy(), fast.equity.to_numpy(), atol=bound)
    assert event.fees_paid == pytest.approx(fast.fees_paid, abs=bound * 1e-3 * 2)


class Probe(BaseCryptoStrategy):
    """Records, at each decision, the latest close time of every view it is given."""

    strategy_type = "probe"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen: list[tuple[pd.Timestamp, str, pd.Timestamp]] = []
        self.books: list[tuple[pd.Timestamp, Decimal]] = []

    def generate_signals(self, market_data: MarketData, **kwargs: Any) -> list:
        for timeframe in (None, "1m", "4h"):
            frame = market_data.candles(BTC, timeframe) if timeframe else market_data.candles(BTC)
            tf = timeframe or market_data.timeframe
            if len(frame):
                closed = frame["ts"].iloc[-1] + pd.Timedelta(milliseconds=timeframe_ms(tf))
                self.seen.append((market_data.now, tf, closed))
        self.books.append((market_data.now, market_data.order_book(BTC).mid))
        return []

    def calculate_position_size(self, signal, portfolio, **kwargs: Any) -> Decimal:
        return D(0)

    def should_exit(self, position, market_data, **kwargs: Any) -> bool:
        return False


def test_no_view_reaches_past_the_decision_time(shared_data):
    """Base 1m, decisions hourly, views at 1h, 1m and 4h: every bar a view holds closed
    by `now`; the coarse 4h view shows a bar only once its four hours are over; the book
    top is the close of the last 1m bar before `now` (read here from the raw file)."""
    minute = read_candle_file(shared_data / "binance_BTC-USDT_1m.csv.gz").iloc[:1_500]
    probe = Probe(instruments=[BTC], frequency="1h")
    start = minute["ts"].iloc[0].ceil("h")
    run_backtest(probe, {BTC: minute}, start, start + 20 * HOUR, D(1_000))
    assert len(probe.books) == 19  # the last bar's decision is never taken: nothing to fill it
    for now, timeframe, closed in probe.seen:
        assert closed <= now, (now, timeframe, closed)
        if timeframe == "1m":
            assert closed == now  # the freshest bar is there: the view is not stale either
        if timeframe == "4h":
            assert closed > now - pd.Timedelta(hours=4)
    closes = minute.set_index("ts")["close"]
    for now, mid in probe.books:
        assert mid == D(repr(float(closes[now - pd.Timedelta(minutes=1)])))


def test_fill_pays_half_spread_and_fee_at_the_next_open(btc_1h):
    """A one-off target of 0.5 decided on bar 0's close fills at bar 1's open plus half
    the spread, rounded up to the tick: ask = ceil(open x 1.0005, 0.01), fee 7 bps."""

    class BuyOnce(SmaCrossStrategy):
        def target_series(self, frame: pd.DataFrame) -> np.ndarray:
            out = np.full(len(frame), np.nan)
            out[-1] = 0.5 if len(frame) == 40 else np.nan
            return out

    frame = btc_1h.iloc[:45]
    strategy = BuyOnce(instruments=[BTC])
    start = frame["ts"].iloc[39]
    result = run_backtest(
        strategy,
        {BTC: frame},
        start,
        frame["ts"].iloc[44],
        D(10_000),
        fees=VenueFees(D(7), D(2)),
        half_spread_bps=D(5),
        rules=MarketRules(price_tick=D("0.01")),
    )
    assert len(result.fills) == 1
    fill = result.fills.iloc[0]
    open_ = D(repr(float(frame["open"].iloc[40])))
    ask = (open_ * D("1.0005") / D("0.01")).to_integral_value(rounding=ROUND_CEILING) * D("0.01")
    close_ = D(repr(float(frame["close"].iloc[39])))
    units = (D("0.5") * D(10_000) / close_).quantize(D("1e-8"), rounding=ROUND_DOWN)
    assert fill["time"] == frame["ts"].iloc[40]
    assert fill["price"] == float(ask)
    assert fill["units"] == float(units)
    assert fill["fee"] == pytest.approx(float(units * ask * D("0.0007")), rel=1e-12)
    assert fill["slippage_cost"] == pytest.approx(float(units * (ask - open_)), rel=1e-9)


def _flat_candles(start: pd.Timestamp, price: str, bars: int) -> pd.DataFrame:
    value = float(price)
    return pd.DataFrame(
        {
            "ts": pd.date_range(start, periods=bars, freq="1min").astype("datetime64[ms, UTC]"),
            "open": value,
            "high": value,
            "low": value,
            "close": value,
            "volume": 1_000.0,
        }
    )


def test_triangular_arbitrage_on_a_hand_built_venue():
    """The data folder has no three markets of one venue, so: BTC/USDT 50000, ETH/USDT
        3000, ETH/BTC 0.059 (implied 0.06) on venue `tri`, flat, zero spread, fee 0.1 %.

        USDT -> BTC -> ETH -> USDT with 1000 USDT: buy 0.02 BTC (pays 1000 + 1 fee), buy
        floor8(0.01998 / 0.059) ETH, sell floor8(0.01998 x 0.999 / 0.059) ETH at 3000 less
        0.1 %; two bars give one executed decision. (No minimum notional: the ETH/BTC leg is
    worth 0.02 BTC, and the minimum is in each market's quote currency.)
    """
    venue = "tri"
    start = pd.Timestamp("2024-01-01", tz="UTC")
    markets = {"BTC/USDT": "50000", "ETH/USDT": "3000", "ETH/BTC": "0.059"}
    candles = {
        InstrumentId.parse(f"{venue}:{s}"): _flat_candles(start, p, 2) for s, p in markets.items()
    }
    strategy = TriangularArbStrategy(
        {"start": "USDT", "fee": "0.001"},
        instruments=list(candles),
        amount_per_trade=D(1000),
        frequency="1m",
    )
    fees, rules = VenueFees(D(10), D(10)), MarketRules(min_notional=D(0))
    result = run_backtest(
        strategy, candles, start, start + pd.Timedelta(minutes=2), D(10_000), fees=fees, rules=rules
    )
    step = D("1e-8")
    eth_bought = (D("0.01998") / D("0.059")).quantize(step, rounding=ROUND_DOWN)
    eth_sold = (D("0.01998") * D("0.999") / D("0.059")).quantize(step, rounding=ROUND_DOWN)
    usdt = D(10_000) - D(1000) * D("1.001") + eth_sold * 3000 * D("0.999")
    eth_cost = eth_bought * D("0.059")
    btc = D("0.02") - eth_cost - (eth_cost * D("0.001")).quantize(D("1e-12"))  # venue fee quantum
    assert result.balances[venue]["USDT"] == usdt
    assert result.balances[venue]["BTC"] == btc
    assert result.balances[venue]["ETH"] == eth_bought - eth_sold
    assert usdt > D(10_000)  # the cycle paid, net of three fees

    dear = TriangularArbStrategy(
        {"start": "USDT", "fee": "0.01"}, instruments=list(candles), frequency="1m"
    )
    none = run_backtest(
        dear, candles, start, start + pd.Timedelta(minutes=2), D(10_000), fees=VenueFees(D(100))
    )
    assert none.fills.empty  # 1.01695 x 0.99^3 < 1: no cycle at a 1 % fee


def test_signed_round_trips_split_a_fill_that_crosses_zero():
    """Short 2 @ 10, buy 1 @ 8, buy 2 @ 9 (1 closes the short, 1 opens a long), sell 1 @ 12.

    Short: exit (8 + 9) / 2 = 8.5, pnl 20 - 17 - (0.2 + 0.1 + 0.1) = 2.6.
    Long: entry 9, exit 12, pnl 3 - (0.1 + 0.1) = 2.8.
    """
    from zvt_pipelines.backtest.event_driven import signed_round_trips

    t = pd.Timestamp("2024-01-01", tz="UTC")
    fills = pd.DataFrame(
        {"time": [t] * 4, "units": [-2.0, 1.0, 2.0, -1.0], "price": [10.0, 8.0, 9.0, 12.0],
         "fee": [0.2, 0.1, 0.2, 0.1]}
    )  # fmt: skip
    trades = signed_round_trips(fills, last_close=11.0)
    assert trades["size"].tolist() == [-2.0, 1.0]
    assert trades["exit_price"].tolist() == [8.5, 12.0]
    assert trades["pnl"].tolist() == pytest.approx([2.6, 2.8], abs=1e-12)
    assert not trades["is_open"].any()
