"""Bars per second of the event-driven backtest (`backtest.event_driven.run_backtest`).

Run: `.venv/bin/python benchmarks/event_backtest_speed.py [--repeats 3] [--quick]`.

In memory (no database); real data from ZVT_SHARED_DATA (default `../shared/data`):

* sma_cross 10/30 on one instrument: `binance_BTC-USDT_1h.csv.gz`, the 8,760 hourly bars
  of 2023 (`--quick`: January 2023);
* cross-exchange arbitrage on two venues: `binance_BTC-USDT_1h.csv.gz` and
  `kraken_BTC-USDT_1h.csv.gz`, November 2023 (`--quick`: its first week); a "decision
  bar" is one hour seen on both venues.

Each case: one untimed warm-up run, then `--repeats` timed runs; the median rate is
printed with min and max. Nothing is extrapolated.
"""

from __future__ import annotations

import argparse
import statistics
from decimal import Decimal

import pandas as pd
from harness import SHARED_DATA, figure, quick_flag, spread, timings

from zvt_pipelines.backtest.event_driven import run_backtest
from zvt_pipelines.backtest.synthetic_books import VenueFees
from zvt_pipelines.data.candles import read_candle_file
from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.strategies.arb_cross import CrossExchangeArbStrategy
from zvt_pipelines.strategies.sma_cross import SmaCrossStrategy

BTC, KRAKEN = InstrumentId.parse("binance:BTC/USDT"), InstrumentId.parse("kraken:BTC/USDT")
HOUR = pd.Timedelta(hours=1)


def _slice(name: str, start: str, end: str) -> pd.DataFrame:
    frame = read_candle_file(SHARED_DATA / f"{name}.csv.gz")
    return frame.loc[(frame["ts"] >= start) & (frame["ts"] < end)].reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    quick_flag(parser)
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    sma_end, arb_end = ("2023-02-01", "2023-11-08") if args.quick else ("2024-01-01", "2023-12-01")

    year = _slice("binance_BTC-USDT_1h", "2023-01-01", sma_end)
    sma = SmaCrossStrategy({"fast": 10, "slow": 30}, instruments=[BTC])
    end = year["ts"].iloc[-1] + HOUR

    def one() -> None:
        run_backtest(sma, {BTC: year}, year["ts"].iloc[0], end, Decimal(10_000))

    seconds = timings(one, repeats)
    rate = len(year) / statistics.median(seconds)
    print(
        f"sma_cross, 1 instrument, {len(year):,} 1h bars: {spread(seconds, 1)} = {rate:,.0f} bars/s"
    )
    figure(
        "event engine, sma_cross, 1 instrument",
        f"{rate:,.0f} bars/s",
        f"run_backtest in memory on {len(year):,} real Binance BTC/USDT 1h bars "
        f"(binance_BTC-USDT_1h.csv.gz, 2023-01-01 to {sma_end}); median of {repeats} after "
        "1 warm-up",
    )

    binance = _slice("binance_BTC-USDT_1h", "2023-11-01", arb_end)
    kraken = _slice("kraken_BTC-USDT_1h", "2023-11-01", arb_end)
    fees = {"taker_fees": {"binance": "0.0002", "kraken": "0.0002"}, "max_amount": "0.01"}
    arb = CrossExchangeArbStrategy(fees, instruments=[BTC, KRAKEN])
    holdings = {"binance": {"BTC": Decimal("0.1")}, "kraken": {"BTC": Decimal("0.1")}}

    def two() -> None:
        run_backtest(
            arb, {BTC: binance, KRAKEN: kraken}, binance["ts"].iloc[0],
            binance["ts"].iloc[-1] + HOUR, Decimal(10_000),
            fees=VenueFees(Decimal(2), Decimal(2)), initial_holdings=holdings,
        )  # fmt: skip

    seconds = timings(two, repeats)
    rate = len(binance) / statistics.median(seconds)
    print(
        f"arb_cross, 2 venues, {len(binance):,} 1h bars each: {spread(seconds, 1)} "
        f"= {rate:,.0f} decision bars/s"
    )
    figure(
        "event engine, arbitrage, 2 venues",
        f"{rate:,.0f} decision bars/s",
        f"run_backtest in memory on real Binance and Kraken BTC/USDT 1h bars "
        f"(2023-11-01 to {arb_end}, {len(binance):,} and {len(kraken):,} bars); median of "
        f"{repeats} after 1 warm-up",
    )


if __name__ == "__main__":
    main()
