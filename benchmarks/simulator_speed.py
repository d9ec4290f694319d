"""How fast the market simulator generates data (target: a year of 1m candles in < 1 s).

Run: `.venv/bin/python benchmarks/simulator_speed.py`. Each figure is the median of a few
repeats after a warm-up (numba compilation, loaded from its cache after the first run);
candle figures use a fresh simulator per repeat, so nothing is served from the day cache.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import pandas as pd

from zvt_pipelines.venues.simulated import SimulatedVenue
from zvt_pipelines.venues.simulator import MarketSimulator, default_simulator

START, END = pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2025-01-01", tz="UTC")


def median_seconds(work: Callable[[], object], repeats: int = 5) -> float:
    """Median wall time of `work()` over `repeats` runs, measured with perf_counter."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    default_simulator().candles("sim_a", "BTC/USDT", START, START + pd.Timedelta(days=1))
    default_simulator().trades("sim_a", "BTC/USDT", START, START + pd.Timedelta(minutes=1))

    rows = len(default_simulator().candles("sim_a", "BTC/USDT", START, END))
    year = median_seconds(lambda: default_simulator().candles("sim_a", "BTC/USDT", START, END))
    print(f"1 year of 1m candles, 1 symbol ({rows:,} rows): {year:.3f} s (target < 1 s)")

    perp = MarketSimulator(7, ("sim_a",), ("BTC/USDT:USDT",))
    perp.candles("sim_a", "BTC/USDT:USDT", START, START + pd.Timedelta(days=1))
    perp_year = median_seconds(
        lambda: MarketSimulator(7, ("sim_a",), ("BTC/USDT:USDT",)).candles(
            "sim_a", "BTC/USDT:USDT", START, END
        )
    )
    print(f"1 year of 1m candles, perpetual (basis + premium): {perp_year:.3f} s")

    sim = default_simulator()
    day = START + pd.Timedelta(days=3)
    trades = len(sim.trades("sim_a", "BTC/USDT", day, day + pd.Timedelta(days=1)))
    trade_day = median_seconds(
        lambda: default_simulator().trades("sim_a", "BTC/USDT", day, day + pd.Timedelta(days=1)),
        repeats=3,
    )
    print(f"1 day of trades as ccxt dicts ({trades:,} trades): {trade_day:.3f} s")

    book = median_seconds(lambda: sim.order_book("sim_a", "BTC/USDT", day, depth=100), 50)
    print(f"order book snapshot, 100 levels a side: {book * 1e3:.2f} ms")

    venue = SimulatedVenue("sim_a", sim, clock=lambda: END)
    venue.fetch_ohlcv("BTC/USDT", "1h")
    page = median_seconds(lambda: venue.fetch_ohlcv("BTC/USDT", "1m"), 20)
    hours = median_seconds(lambda: venue.fetch_ohlcv("BTC/USDT", "1h"), 5)
    print(f"fetch_ohlcv 1000 x 1m (cached days): {page * 1e3:.1f} ms; 1000 x 1h: {hours:.3f} s")


if __name__ == "__main__":
    main()
