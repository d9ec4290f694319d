"""Backtest speed: our SMA-crossover contract against backtrader and vectorbt.

Run: ``.venv/bin/python benchmarks/backtest_speed.py [--backtrader-full]`` (needs the
`bench` extras).

* 525,600 one-minute bars (a seeded random walk, one year): median wall time of each
  engine from price arrays to final equity, after a warm-up run. backtrader is timed on
  a shorter slice and extrapolated per bar (it runs at a constant cost per bar).
* A 1,000-point (fast, slow) grid on 8,760 hourly bars (the last year of the real
  BTC/USDT 1h file) on all cores.
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from zvt_pipelines.backtest import BacktestSettings, run_sma_cross_contract, sma_cross_grid
from zvt_pipelines.data.candles import read_candle_file

FAST, SLOW, FEE_BPS, CASH = 10, 30, 1.0, 10_000.0
BARS = 525_600
BACKTRADER_BARS = 20_000
SHARED_DATA = Path(
    os.environ.get("ZVT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


def random_walk(n: int, seed: int = 42) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 30_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.0008, n)))
    open_ = np.concatenate(([30_000.0], close[:-1]))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.0005, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.0005, n))
    ts = pd.date_range("2025-01-01", periods=n, freq="1min", tz="UTC").astype("datetime64[ms, UTC]")
    return pd.DataFrame(
        {"ts": ts, "open": open_, "high": high, "low": low, "close": close, "volume": 1.0}
    )


def median_seconds(run, repeats: int) -> tuple[float, object]:
    times, value = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        value = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def ours(frame: pd.DataFrame) -> float:
    return run_sma_cross_contract(frame, FAST, SLOW, FEE_BPS, CASH)["final_equity"]


def entries(frame: pd.DataFrame) -> int:
    return run_sma_cross_contract(frame, FAST, SLOW, FEE_BPS, CASH)["trades"]


def vectorbt_signals(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """Close, open and the contract's crossovers shifted to the fill bar."""
    prices = frame.set_index("ts")
    close = prices["close"]
    fast, slow = close.rolling(FAST).mean(), close.rolling(SLOW).mean()
    above = (fast > slow) & (fast.shift(1) <= slow.shift(1))
    below = (fast < slow) & (fast.shift(1) >= slow.shift(1))
    return close, prices["open"], above.shift(1, fill_value=False), below.shift(1, fill_value=False)


def vectorbt_run(frame: pd.DataFrame) -> float:
    return vectorbt_from_signals(*vectorbt_signals(frame))


def vectorbt_from_signals(close, open_, entries, exits) -> float:
    import vectorbt as vbt

    portfolio = vbt.Portfolio.from_signals(
        close=close,
        entries=entries,
        exits=exits,
        price=open_,
        fees=FEE_BPS / 10_000,
        size=np.inf,
        init_cash=CASH,
        freq="1min",
    )
    return float(portfolio.final_value())


def backtrader_run(frame: pd.DataFrame) -> float:
    import backtrader as bt

    fee = FEE_BPS / 10_000

    class Cross(bt.Strategy):
        def __init__(self):
            self.fast = bt.ind.SMA(self.data.close, period=FAST)
            self.slow = bt.ind.SMA(self.data.close, period=SLOW)

        def next(self):
            if len(self.data) >= self.data.buflen():
                return
            values = (self.fast[0], self.slow[0], self.fast[-1], self.slow[-1])
            if any(math.isnan(v) for v in values):
                return
            if values[0] > values[1] and values[2] <= values[3] and not self.position:
                size = self.broker.getcash() / (self.data.open[1] * (1 + fee)) * (1 - 1e-12)
                self.buy(size=size)
            elif values[0] < values[1] and values[2] >= values[3] and self.position:
                self.close()

    cerebro = bt.Cerebro(stdstats=False)
    feed = frame.set_index("ts")[["open", "high", "low", "close", "volume"]]
    feed.index = feed.index.tz_localize(None)
    cerebro.adddata(bt.feeds.PandasData(dataname=feed))
    cerebro.addstrategy(Cross)
    cerebro.broker.setcash(CASH)
    cerebro.broker.setcommission(commission=fee)
    cerebro.broker.set_checksubmit(False)
    cerebro.run()
    return cerebro.broker.getvalue()


def grid_pairs() -> list[tuple[int, int]]:
    return [(fast, slow) for fast in range(2, 42) for slow in range(45, 245, 8)]


def main() -> None:
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    frame = random_walk(BARS)
    print(f"\n== SMA crossover {FAST}/{SLOW}, fee {FEE_BPS} bps, {len(frame):,} one-minute bars ==")

    start = time.perf_counter()
    ours(frame)
    print(
        f"ours, first call in this process (numba cache load / compile): {time.perf_counter() - start:.3f} s"
    )
    ours_s, ours_equity = median_seconds(lambda: ours(frame), 7)
    print(
        f"ours      median of 7: {ours_s:.4f} s   final equity {ours_equity:,.6f}, {entries(frame):,} entries"
    )

    vectorbt_run(frame.iloc[:1000])
    vbt_s, vbt_equity = median_seconds(lambda: vectorbt_run(frame), 5)
    print(f"vectorbt  median of 5: {vbt_s:.4f} s   final equity {vbt_equity:,.6f}")
    signals = vectorbt_signals(frame)
    vbt_sim_s, _ = median_seconds(lambda: vectorbt_from_signals(*signals), 5)
    print(f"vectorbt  from_signals alone (signals precomputed), median of 5: {vbt_sim_s:.4f} s")

    if "--backtrader-full" in sys.argv:
        sliced = frame
        bt_s, bt_equity = median_seconds(lambda: backtrader_run(frame), 1)
        print(f"backtrader one run on all {BARS:,} bars: {bt_s:.1f} s")
    else:
        sliced = frame.iloc[:BACKTRADER_BARS].reset_index(drop=True)
        bt_slice_s, bt_equity = median_seconds(lambda: backtrader_run(sliced), 3)
        bt_s = bt_slice_s / BACKTRADER_BARS * BARS
        print(
            f"backtrader median of 3 on {BACKTRADER_BARS:,} bars: {bt_slice_s:.3f} s "
            f"-> extrapolated per bar to {BARS:,} bars: {bt_s:.1f} s "
            "(--backtrader-full runs all bars once)"
        )
    ours_slice = ours(sliced)
    print(
        f"agreement: vectorbt/ours - 1 = {vbt_equity / ours_equity - 1:.2e}; "
        f"backtrader/ours - 1 on {len(sliced):,} bars = {bt_equity / ours_slice - 1:.2e}"
    )
    print(f"ratio backtrader / ours: {bt_s / ours_s:,.0f}x   (target >= 100x)")
    print(f"ratio vectorbt / ours:   {vbt_s / ours_s:,.1f}x   (target >= 1x)")

    hourly = read_candle_file(SHARED_DATA / "binance_BTC-USDT_1h.csv.gz").iloc[-8_760:]
    hourly = hourly.reset_index(drop=True)
    pairs = grid_pairs()
    setup = BacktestSettings(cash=CASH, fee_bps=FEE_BPS)
    print(f"\n== grid of {len(pairs):,} (fast, slow) pairs on {len(hourly):,} hourly bars ==")
    start = time.perf_counter()
    sma_cross_grid(hourly, pairs, setup)
    print(
        f"first call in this process (numba cache load / compile): {time.perf_counter() - start:.3f} s"
    )
    grid_s, table = median_seconds(lambda: sma_cross_grid(hourly, pairs, setup), 5)
    best = table.loc[table["final_equity"].idxmax()]
    print(f"grid median of 5: {grid_s:.4f} s   (target < 5 s)")
    print(
        f"best pair: fast {best['fast']}, slow {best['slow']}, final equity {best['final_equity']:,.2f}"
    )


if __name__ == "__main__":
    main()
