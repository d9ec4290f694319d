"""Backtest speed: the bar engine's SMA-crossover contract against backtrader and vectorbt.

Run: ``.venv/bin/python benchmarks/backtest_speed.py [--backtrader-bars N] [--quick]``
(needs the `bench` extras).

* Data: 525,600 one-minute bars (one year) of a seeded random walk, generated here.
* Ours (`run_sma_cross_contract`, numba): one untimed warm-up call (numba compile or
  cache load, printed separately and excluded), then the median of 7 timed runs.
* vectorbt `Portfolio.from_signals`: one untimed warm-up on 1,000 bars (its numba
  compile), then the median of 5 runs on the full year; the ratio to ours is from this run.
* backtrader: by default ONE run on the full year (about 40 s: no repeats, no warm-up
  needed, it has no compiler), so its ratio is measured, not extrapolated. With
  `--backtrader-bars N` it runs 3 times on the first N bars and its full-year time is
  EXTRAPOLATED per bar; every line then says so and from how many bars.
* Grid: 1,000 (fast, slow) pairs on the last 8,760 bars of the real
  `binance_BTC-USDT_1h.csv.gz` (ZVT_SHARED_DATA) on all cores, warm-up excluded, median of 5.

Equities of the three engines are compared on the same bars as a check that they ran
the same contract.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time

import numpy as np
import pandas as pd
from harness import SHARED_DATA, figure, quick_flag

from zvt_pipelines.backtest import BacktestSettings, run_sma_cross_contract, sma_cross_grid
from zvt_pipelines.data.candles import read_candle_file

FAST, SLOW, FEE_BPS, CASH = 10, 30, 1.0, 10_000.0
BARS = 525_600


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


def time_backtrader(frame: pd.DataFrame, bars: int | None) -> tuple[float, float, int, str]:
    """(seconds for the whole frame, equity, bars run, how the time was obtained)."""
    if bars is None or bars >= len(frame):
        seconds, equity = median_seconds(lambda: backtrader_run(frame), 1)
        return seconds, equity, len(frame), f"measured: one run on all {len(frame):,} bars"
    sliced = frame.iloc[:bars].reset_index(drop=True)
    seconds, equity = median_seconds(lambda: backtrader_run(sliced), 3)
    whole = seconds / bars * len(frame)
    how = (
        f"EXTRAPOLATED per bar from the median of 3 runs on {bars:,} bars ({seconds:.3f} s) "
        f"to {len(frame):,} bars"
    )
    return whole, equity, bars, how


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--backtrader-bars",
        type=int,
        default=None,
        help="time backtrader on the first N bars and extrapolate (default: the full year, once)",
    )
    quick_flag(parser)
    args = parser.parse_args()
    bars = 20_000 if args.quick else BARS
    backtrader_bars = 5_000 if args.quick else args.backtrader_bars
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    frame = random_walk(bars)
    print(
        f"\n== SMA crossover {FAST}/{SLOW}, fee {FEE_BPS} bps, {len(frame):,} one-minute bars "
        "(seeded random walk) =="
    )

    start = time.perf_counter()
    ours(frame)
    print(
        f"ours, warm-up call (numba cache load / compile; excluded): "
        f"{time.perf_counter() - start:.3f} s"
    )
    ours_s, ours_equity = median_seconds(lambda: ours(frame), 7)
    print(
        f"ours      median of 7: {ours_s:.4f} s   final equity {ours_equity:,.6f}, "
        f"{entries(frame):,} entries"
    )

    vectorbt_run(frame.iloc[:1000])
    vbt_s, vbt_equity = median_seconds(lambda: vectorbt_run(frame), 5)
    print(
        f"vectorbt  median of 5 (after a 1,000-bar warm-up): {vbt_s:.4f} s   final equity {vbt_equity:,.6f}"
    )
    signals = vectorbt_signals(frame)
    vbt_sim_s, _ = median_seconds(lambda: vectorbt_from_signals(*signals), 5)
    print(f"vectorbt  from_signals alone (signals precomputed), median of 5: {vbt_sim_s:.4f} s")

    bt_s, bt_equity, bt_bars, bt_how = time_backtrader(frame, backtrader_bars)
    print(f"backtrader {bt_s:.1f} s for {len(frame):,} bars ({bt_how})")
    ours_same = ours(frame.iloc[:bt_bars].reset_index(drop=True))
    print(
        f"agreement: vectorbt/ours - 1 = {vbt_equity / ours_equity - 1:.2e}; "
        f"backtrader/ours - 1 on {bt_bars:,} bars = {bt_equity / ours_same - 1:.2e}"
    )
    print(f"ratio backtrader / ours: {bt_s / ours_s:,.0f}x   (target >= 100x)")
    print(f"ratio vectorbt / ours:   {vbt_s / ours_s:,.1f}x   (target >= 1x)")
    data = f"{len(frame):,} generated 1m bars"
    figure(
        f"ours, {len(frame):,} 1m bars",
        f"{ours_s:.3f} s",
        f"SMA {FAST}/{SLOW} bar engine on {data}; median of 7 after a warm-up call "
        "(numba compile excluded)",
        "< 0.2 s",
    )
    extrapolated = "EXTRAPOLATED" in bt_how
    figure(
        "backtrader / ours" + (" (extrapolated)" if extrapolated else ""),
        f"{bt_s / ours_s:,.0f}×",
        f"same contract and data; backtrader {bt_how}",
        "≥ 100×",
    )
    figure(
        "vectorbt / ours",
        f"{vbt_s / ours_s:,.1f}×",
        f"vectorbt from_signals (signals included) on {data}, median of 5 after a warm-up, "
        "same run",
        "≥ 1×",
    )

    hourly = read_candle_file(SHARED_DATA / "binance_BTC-USDT_1h.csv.gz").iloc[-8_760:]
    hourly = hourly.reset_index(drop=True)
    pairs = grid_pairs()
    setup = BacktestSettings(cash=CASH, fee_bps=FEE_BPS)
    print(f"\n== grid of {len(pairs):,} (fast, slow) pairs on {len(hourly):,} hourly bars ==")
    start = time.perf_counter()
    sma_cross_grid(hourly, pairs, setup)
    print(
        f"warm-up call (numba cache load / compile; excluded): {time.perf_counter() - start:.3f} s"
    )
    grid_s, table = median_seconds(lambda: sma_cross_grid(hourly, pairs, setup), 5)
    best = table.loc[table["final_equity"].idxmax()]
    print(f"grid median of 5: {grid_s:.4f} s   (target < 5 s)")
    print(
        f"best pair: fast {best['fast']}, slow {best['slow']}, final equity {best['final_equity']:,.2f}"
    )
    figure(
        "1,000-pair grid",
        f"{grid_s:.3f} s",
        f"SMA grid on the last {len(hourly):,} bars of the real binance_BTC-USDT_1h.csv.gz, "
        f"{os.cpu_count()} cores; median of 5 after a warm-up call (compile excluded)",
        "< 5 s",
    )


if __name__ == "__main__":
    main()
