"""How fast the market simulator generates data (target: a year of 1m candles in < 1 s).

Run: `.venv/bin/python benchmarks/simulator_speed.py [--quick]`. In memory, generated data.

The headline is the timing `tests/test_simulator.py` used to assert: a fresh
`MarketSimulator(2, ("v",))` generating BTC/USDT 1m candles for 2024 (527,040 rows,
checked), after a one-day warm-up on another simulator (numba compilation or its cache
load, excluded). Each candle figure builds a fresh simulator per repeat, so nothing is
served from the day cache; each figure is the median of a few repeats (printed with min,
max and the warm-up). Nothing is extrapolated. `--quick` does one repeat of each.
"""

from __future__ import annotations

import argparse
import statistics

import pandas as pd
from harness import figure, quick_flag, spread, timings

from zvt_pipelines.venues.simulator.market import MarketSimulator, default_simulator
from zvt_pipelines.venues.simulator.venue import SimulatedVenue

START, END = pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2025-01-01", tz="UTC")
YEAR_ROWS = 527_040  # minutes in 2024, a leap year
DAY = pd.Timedelta(days=1)


def year_of_candles() -> None:
    frame = MarketSimulator(2, ("v",)).candles("v", "BTC/USDT", START, END)
    if len(frame) != YEAR_ROWS:
        raise RuntimeError(f"a year of 1m candles has {len(frame)} rows, expected {YEAR_ROWS}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    quick_flag(parser)
    repeats = 1 if parser.parse_args().quick else 5

    MarketSimulator(2, ("v",)).candles("v", "BTC/USDT", START, START + DAY)  # numba warm-up
    seconds = timings(year_of_candles, repeats, warmup=0)
    print(
        f"1 year of 1m candles, 1 symbol ({YEAR_ROWS:,} rows), fresh simulator: "
        f"{spread(seconds, 'a 1-day warm-up')} (target < 1 s)"
    )
    figure(
        "a year of simulated 1m candles",
        f"{statistics.median(seconds):.3f} s",
        f"fresh MarketSimulator, BTC/USDT 2024 ({YEAR_ROWS:,} rows); median of {repeats} "
        "after a 1-day warm-up (numba compile excluded)",
        "< 1 s",
    )

    MarketSimulator(7, ("sim_a",), ("BTC/USDT:USDT",)).candles(
        "sim_a", "BTC/USDT:USDT", START, START + DAY
    )
    seconds = timings(
        lambda: MarketSimulator(7, ("sim_a",), ("BTC/USDT:USDT",)).candles(
            "sim_a", "BTC/USDT:USDT", START, END
        ),
        repeats,
        warmup=0,
    )
    print(
        f"1 year of 1m candles, perpetual (basis + premium): {spread(seconds, 'a 1-day warm-up')}"
    )

    sim = default_simulator()
    day = START + pd.Timedelta(days=3)
    trades = len(sim.trades("sim_a", "BTC/USDT", day, day + DAY))
    seconds = timings(
        lambda: default_simulator().trades("sim_a", "BTC/USDT", day, day + DAY),
        repeats=min(repeats, 3),
    )
    print(f"1 day of trades as ccxt dicts ({trades:,} trades): {spread(seconds, 1)}")

    seconds = timings(lambda: sim.order_book("sim_a", "BTC/USDT", day, depth=100), repeats * 10)
    print(f"order book snapshot, 100 levels a side: {spread(seconds, 1, 'ms', 1e3)}")

    venue = SimulatedVenue("sim_a", sim, clock=lambda: END)
    page = timings(lambda: venue.fetch_ohlcv("BTC/USDT", "1m"), repeats * 4)
    hours = timings(lambda: venue.fetch_ohlcv("BTC/USDT", "1h"), repeats)
    print(f"fetch_ohlcv 1000 x 1m (days cached after warm-up): {spread(page, 1, 'ms', 1e3)}")
    print(f"fetch_ohlcv 1000 x 1h: {spread(hours, 1)}")


if __name__ == "__main__":
    main()
