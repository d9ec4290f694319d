"""Bars per second of the event-driven backtest (`backtest.event_driven.run_backtest`).

Two cases on the real data (`ZVT_SHARED_DATA`, default `../shared/data`): sma_cross on
one instrument, Binance BTC/USDT 1h for a year (2023), and cross-exchange arbitrage on
Binance and Kraken BTC/USDT 1h over one month. Prints the median of `--repeats` runs.

    .venv/bin/python benchmarks/event_backtest_speed.py --repeats 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from decimal import Decimal
from pathlib import Path

import pandas as pd

from zvt_pipelines.backtest.event_driven import run_backtest
from zvt_pipelines.backtest.synthetic_books import VenueFees
from zvt_pipelines.data.candles import read_candle_file
from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.strategies.arb_cross import CrossExchangeArbStrategy
from zvt_pipelines.strategies.sma_cross import SmaCrossStrategy

DATA = Path(
    os.environ.get("ZVT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
BTC, KRAKEN = InstrumentId.parse("binance:BTC/USDT"), InstrumentId.parse("kraken:BTC/USDT")
HOUR = pd.Timedelta(hours=1)


def _slice(name: str, start: str, end: str) -> pd.DataFrame:
    frame = read_candle_file(DATA / f"{name}.csv.gz")
    return frame.loc[(frame["ts"] >= start) & (frame["ts"] < end)].reset_index(drop=True)


def _median_rate(run, bars: int, repeats: int) -> float:
    seconds = []
    for _ in range(repeats):
        began = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - began)
    return bars / statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    repeats = parser.parse_args().repeats

    year = _slice("binance_BTC-USDT_1h", "2023-01-01", "2024-01-01")
    sma = SmaCrossStrategy({"fast": 10, "slow": 30}, instruments=[BTC])
    end = year["ts"].iloc[-1] + HOUR

    def one() -> None:
        run_backtest(sma, {BTC: year}, year["ts"].iloc[0], end, Decimal(10_000))

    rate = _median_rate(one, len(year), repeats)
    print(f"sma_cross, 1 instrument, {len(year)} 1h bars: {rate:,.0f} bars/s (median of {repeats})")

    binance = _slice("binance_BTC-USDT_1h", "2023-11-01", "2023-12-01")
    kraken = _slice("kraken_BTC-USDT_1h", "2023-11-01", "2023-12-01")
    fees = {"taker_fees": {"binance": "0.0002", "kraken": "0.0002"}, "max_amount": "0.01"}
    arb = CrossExchangeArbStrategy(fees, instruments=[BTC, KRAKEN])
    holdings = {"binance": {"BTC": Decimal("0.1")}, "kraken": {"BTC": Decimal("0.1")}}

    def two() -> None:
        run_backtest(
            arb, {BTC: binance, KRAKEN: kraken}, binance["ts"].iloc[0],
            binance["ts"].iloc[-1] + HOUR, Decimal(10_000),
            fees=VenueFees(Decimal(2), Decimal(2)), initial_holdings=holdings,
        )  # fmt: skip

    rate = _median_rate(two, len(binance), repeats)
    print(
        f"arb_cross, 2 venues, {len(binance)} 1h bars each: {rate:,.0f} decision bars/s (median of {repeats})"
    )


if __name__ == "__main__":
    main()
