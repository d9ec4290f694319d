"""The SMA-crossover contract swept over every 1h file of the shared data.

The bar engine (`run_sma_cross_contract`) against references written here from the
contract (backtest/contract.py): signal on bar t's close, fill at bar t+1's open, all-in
with fractional units (notional = cash / (1 + fee)), fee on every fill's notional, a
cross on the last bar not filled, an open position marked at the last close.

* The reference engine: a plain Python loop whose moving averages are exact rational
  arithmetic on the prices as the files print them (the decimal text, as integers over
  one common denominator -- fractions.Fraction arithmetic, made fast): fast > slow is
  decided on ``sum_fast * slow_n`` against ``sum_slow * fast_n``, never on rounded
  floats. It covers every 1h file x 22 window pairs x 2 fee levels (0 and 10 bps).
* vectorbt `Portfolio.from_signals` replays the reference's crossovers (shifted one bar,
  the open as price) on every file, pair and fee level: an independent fill and
  accounting engine (see VECTORBT_CASH_FACTOR for its limits on ruined accounts).
* backtrader, being slow (2,000 to 6,000 bars/s here), runs 2 window pairs per file (one
  per fee level) on the first 10,000 bars of each file (the early years, where coarse
  ticks make ties common), deciding inside its own event loop with the same exact
  arithmetic over its data feed; the in-test reference covers every combination.

Trade counts (entries) must agree exactly, final equity within 1e-9 relative. Coarse
price ticks make exact ties of two averages common (BNB, XRP, SOL), so a float SMA summed
left to right decides some of these crossovers differently: `test_float_noise_...`
shows the sweep would catch that.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.reference_engines import reference_engine
from zvt_pipelines.backtest.contract import run_sma_cross_contract
from zvt_pipelines.data.candles import read_candle_file

pytestmark = pytest.mark.slow

CASH = 10_000.0
FEES_BPS = (0.0, 10.0)
PAIRS = [
    (2, 3), (3, 5), (4, 12), (5, 10), (5, 20), (6, 18), (7, 21), (8, 24), (9, 27), (10, 20),
    (10, 30), (10, 50), (12, 26), (15, 45), (20, 50), (20, 100), (24, 96), (25, 75), (30, 90),
    (40, 120), (50, 100), (50, 200),
]  # fmt: skip
BACKTRADER_PAIRS = {0.0: (5, 10), 10.0: (20, 50)}
BACKTRADER_BARS = 10_000
# The contract is linear in the starting cash. vectorbt treats an order of a tiny size
# as none and keeps absolute float tolerances; the (2, 3) and (3, 5) pairs at 10 bps pay
# fees thousands of times until equity is 1e-11 of a dollar. So vectorbt starts with 1e12
# times the cash and is compared per unit, its equity only where the account keeps at
# least 1/1,000 of its cash (its trade count everywhere).
VECTORBT_CASH_FACTOR = 1e12
VECTORBT_SMALLEST_EQUITY = CASH / 1_000
FILES = [
    "binance_BNB-USDT_1h.csv.gz",
    "binance_BTC-USDT_1h.csv.gz",
    "binance_ETH-USDT_1h.csv.gz",
    "binance_SOL-USDT_1h.csv.gz",
    "binance_XRP-USDT_1h.csv.gz",
    "binanceusdm_BTC-USDT-PERP_1h.csv.gz",
    "bybit_BTC-USDT_1h.csv.gz",
    "coinbase_BTC-USD_1h.csv.gz",
    "kraken_BTC-USDT_1h.csv.gz",
    "kraken_ETH-USDT_1h.csv.gz",
]


class Market:
    """One 1h file: the engine's frame and the printed decimals as exact integers."""

    def __init__(self, path: Path, rows: int | None = None) -> None:
        self.frame = read_candle_file(path).iloc[:rows]
        text = pd.read_csv(path, dtype=str).iloc[:rows]
        assert text["timestamp"].astype("int64").tolist() == (
            self.frame["ts"].astype("int64").tolist()
        )
        closes = [Fraction(value) for value in text["close"]]
        self.scale = math.lcm(*(value.denominator for value in closes))
        self.close_units = [int(value * self.scale) for value in closes]  # exact
        self.prefix = [0]
        for units in self.close_units:
            self.prefix.append(self.prefix[-1] + units)
        self.opens = self.frame["open"].tolist()
        self.closes = self.frame["close"].tolist()

    def crosses(self, fast: int, slow: int) -> list[tuple[int, str]]:
        """(bar, "buy" | "sell") for every crossover, decided in exact arithmetic."""
        prefix, found, previous = self.prefix, [], None
        for t in range(slow - 1, len(self.close_units)):
            fast_sum = prefix[t + 1] - prefix[t + 1 - fast]
            slow_sum = prefix[t + 1] - prefix[t + 1 - slow]
            difference = fast_sum * slow - slow_sum * fast  # sign of fast mean - slow mean
            now = (difference > 0) - (difference < 0)
            if previous is not None:
                if now > 0 and previous <= 0:
                    found.append((t, "buy"))
                elif now < 0 and previous >= 0:
                    found.append((t, "sell"))
            previous = now
        return found

    def replay(self, crosses: list[tuple[int, str]], fee_bps: float) -> tuple[float, int]:
        """The contract's fills for `crosses`: (final equity, entries)."""
        fee = fee_bps / 10_000
        cash, units, entries = CASH, 0.0, 0
        for t, kind in crosses:
            if t + 1 >= len(self.opens):
                break  # a cross on the last bar has no next open
            price = self.opens[t + 1]
            if kind == "buy" and units == 0.0:
                notional = cash / (1 + fee)
                units = notional / price
                cash = cash - notional - notional * fee
                entries += 1
            elif kind == "sell" and units > 0.0:
                proceeds = units * price
                cash = cash + proceeds - proceeds * fee
                units = 0.0
        return cash + units * self.closes[-1], entries


@functools.lru_cache(maxsize=1)  # one file in memory at a time; each test walks one
def load(path: Path) -> Market:
    return Market(path)


def test_the_sweep_covers_every_1h_file(shared_data):
    assert sorted(path.name for path in shared_data.glob("*_1h.csv.gz")) == FILES


@pytest.mark.parametrize("name", FILES)
def test_engine_matches_the_exact_reference_and_vectorbt(shared_data, name):
    """Every pair x both fee levels: the engine, the exact loop and vectorbt agree."""
    vbt = reference_engine("vectorbt")
    market = load(shared_data / name)
    crosses = {pair: market.crosses(*pair) for pair in PAIRS}
    index = pd.DatetimeIndex(market.frame["ts"])
    entries, exits = {}, {}
    for pair, found in crosses.items():
        bars = np.zeros((2, len(index)), dtype=bool)
        for t, kind in found:
            if t + 1 < len(index):
                bars[0 if kind == "buy" else 1, t + 1] = True  # acted on at the next bar
        entries[pair], exits[pair] = bars
    for fee_bps in FEES_BPS:
        portfolio = vbt.Portfolio.from_signals(
            close=pd.Series(market.closes, index=index),
            entries=pd.DataFrame(entries, index=index),
            exits=pd.DataFrame(exits, index=index),
            price=pd.Series(market.opens, index=index),
            fees=fee_bps / 10_000,
            size=np.inf,
            init_cash=CASH * VECTORBT_CASH_FACTOR,
            freq="1h",
        )
        finals = portfolio.final_value().to_numpy() / VECTORBT_CASH_FACTOR
        records = portfolio.orders.records
        for column, pair in enumerate(PAIRS):
            ours = run_sma_cross_contract(market.frame, *pair, fee_bps, CASH)
            equity, count = market.replay(crosses[pair], fee_bps)
            buys = int(((records["col"] == column) & (records["side"] == 0)).sum())
            case = (name, pair, fee_bps)
            assert ours["trades"] == count == buys, case
            assert ours["final_equity"] == pytest.approx(equity, rel=1e-9), case
            if equity >= VECTORBT_SMALLEST_EQUITY:
                assert finals[column] == pytest.approx(equity, rel=1e-9), case


def backtrader_run(market: Market, fast: int, slow: int, fee_bps: float) -> tuple[float, int]:
    """backtrader's broker and event loop; crossovers decided in exact arithmetic on the
    feed's closes (the printed decimals, over the file's common denominator)."""
    bt = reference_engine("backtrader")
    scale, fee = market.scale, fee_bps / 10_000

    class ExactCross(bt.Strategy):
        def __init__(self):
            self.prefix, self.previous, self.entries = [0], None, 0

        def notify_order(self, order):
            if order.status == order.Completed and order.isbuy():
                self.entries += 1

        def next(self):
            units = Fraction(repr(self.data.close[0])) * scale
            assert units.denominator == 1  # the feed carries the printed price
            self.prefix.append(self.prefix[-1] + int(units))
            t = len(self.prefix) - 2
            if t < slow - 1:
                return
            fast_sum = self.prefix[-1] - self.prefix[-1 - fast]
            slow_sum = self.prefix[-1] - self.prefix[-1 - slow]
            difference = fast_sum * slow - slow_sum * fast
            now, previous = (difference > 0) - (difference < 0), self.previous
            self.previous = now
            if previous is None or len(self.data) >= self.data.buflen():
                return  # no earlier mean, or a cross on the last bar: nothing to fill
            if now > 0 and previous <= 0 and not self.position:
                # All in at the next open (backtrader fills market orders there); a 1e-14
                # shave keeps float rounding from leaving cash a hair below zero.
                price = self.data.open[1]
                self.buy(size=self.broker.getcash() / (price * (1 + fee)) * (1 - 1e-14))
            elif now < 0 and previous >= 0 and self.position:
                self.close()

    cerebro = bt.Cerebro(stdstats=False, cheat_on_open=False)
    feed = market.frame.set_index("ts")[["open", "high", "low", "close", "volume"]]
    feed.index = feed.index.tz_localize(None)
    cerebro.adddata(bt.feeds.PandasData(dataname=feed))
    cerebro.addstrategy(ExactCross)
    cerebro.broker.setcash(CASH)
    cerebro.broker.setcommission(commission=fee)
    cerebro.broker.set_checksubmit(False)  # the check would price the order at this close
    strategy = cerebro.run()[0]
    return cerebro.broker.getvalue(), strategy.entries


@pytest.mark.parametrize("name", FILES)
def test_engine_matches_backtrader(shared_data, name):
    """Two pairs per file (one per fee level) on the file's first 10,000 bars."""
    market = Market(shared_data / name, rows=BACKTRADER_BARS)
    for fee_bps, pair in BACKTRADER_PAIRS.items():
        ours = run_sma_cross_contract(market.frame, *pair, fee_bps, CASH)
        equity, entries = backtrader_run(market, *pair, fee_bps)
        case = (name, pair, fee_bps)
        assert ours["trades"] == entries, case
        assert ours["final_equity"] == pytest.approx(equity, rel=1e-9), case


def test_float_noise_would_change_trades_on_real_data(shared_data):
    """The sweep has teeth: on BNB/USDT, SMAs summed left to right in floats (the old
    engine, and the old loop reference) enter a different number of times than exact
    arithmetic for some of the swept pairs."""
    market = Market(shared_data / "binance_BNB-USDT_1h.csv.gz")
    closes = market.closes
    differing = []
    for fast, slow in PAIRS[:10]:
        previous, naive = None, []
        for t in range(slow - 1, len(closes)):
            now_f = sum(closes[t - fast + 1 : t + 1]) / fast
            now_s = sum(closes[t - slow + 1 : t + 1]) / slow
            if previous is not None:
                if now_f > now_s and previous[0] <= previous[1]:
                    naive.append((t, "buy"))
                elif now_f < now_s and previous[0] >= previous[1]:
                    naive.append((t, "sell"))
            previous = (now_f, now_s)
        exact = market.crosses(fast, slow)
        if market.replay(naive, 10.0)[1] != market.replay(exact, 10.0)[1]:
            differing.append((fast, slow))
    assert len(differing) >= 3, differing
