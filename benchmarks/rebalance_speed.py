"""One rebalance over N strategies: plan → orders → fills → positions, on the simulated venues.

Builds a SQLite (or PostgreSQL, --database-url) trading database holding two days of
simulated 1-minute candles for four instruments, deploys N strategies cycling through the
bar families (sma_cross, momentum, mean_reversion, dca) and a fixed-weight strategy that
always trades, then times one full rebalance of all of them in one process (the core
loop the Dagster rebalance job runs per strategy). Target: 1,000 strategies under 60 s.

    .venv/bin/python benchmarks/rebalance_speed.py [--strategies 1000] [--repeats 1]
"""

import argparse
import statistics
import tempfile
import time

import numpy as np
import pandas as pd

from zvt_pipelines.data.ingest import ingest_range
from zvt_pipelines.markets import load_markets_config
from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.settings import DEFAULT_MARKETS
from zvt_pipelines.storage.database import Database
from zvt_pipelines.strategies import (
    BarStrategy,
    StrategyParams,
    parse_strategies_config,
    register_strategy,
)
from zvt_pipelines.trading.commands import rebalance_now
from zvt_pipelines.trading.lifecycle import sync_strategies
from zvt_pipelines.trading.market_view import CandleCache
from zvt_pipelines.venues.factory import build_sources

INSTRUMENTS = ("sim_a:BTC/USDT", "sim_a:ETH/USDT", "sim_b:BTC/USDT", "sim_b:ETH/USDT")


class WeightParams(StrategyParams):
    weight: float = 0.3


@register_strategy("bench_weight")
class BenchWeight(BarStrategy):
    """Holds a fixed fraction of equity: every rebalance of a new strategy sends an order."""

    params_model = WeightParams

    def target_series(self, frame: pd.DataFrame) -> np.ndarray:
        return np.full(len(frame), self.params.weight)


FAMILIES = (
    ("bench_weight", {"weight": 0.3}),
    ("sma_cross", {"fast": 5, "slow": 20}),
    ("momentum", {"trend_window": 24}),
    ("mean_reversion", {}),
    ("dca", {"budget": 5000}),
)


def strategies(count: int) -> list:
    entries = []
    for index in range(count):
        family, params = FAMILIES[index % len(FAMILIES)]
        entries.append(
            {
                "name": f"s{index:04d}",
                "type": family,
                "symbol": INSTRUMENTS[index % len(INSTRUMENTS)],
                "amount_per_trade": 100,
                "frequency": "1h",
                "params": params,
            }
        )
    return list(parse_strategies_config(entries).strategies)


def database(url: str | None, folder: str) -> Database:
    db = Database(url or f"sqlite:///{folder}/bench.db")
    db.upgrade()
    markets = load_markets_config(DEFAULT_MARKETS)
    sources = build_sources(markets)
    start = pd.Timestamp("2025-03-01", tz="UTC")
    for text in INSTRUMENTS:
        instrument = InstrumentId.parse(text)
        ingest_range(
            db, sources[instrument.venue], instrument, "1m", start, start + pd.Timedelta(days=2)
        )
    return db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategies", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()
    markets = load_markets_config(DEFAULT_MARKETS)
    seconds, orders = [], []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as folder:
            db = database(args.database_url, folder)
            entries = strategies(args.strategies)
            sync_strategies(db, entries, actor="bench")
            cache = CandleCache(db)
            began = time.perf_counter()
            sent = sum(len(rebalance_now(db, markets, entry, cache).orders) for entry in entries)
            seconds.append(time.perf_counter() - began)
            orders.append(sent)
            db.dispose()
    median = statistics.median(seconds)
    print(
        f"rebalance of {args.strategies} strategies ({orders[0]} orders): median {median:.1f} s "
        f"({median / args.strategies * 1000:.1f} ms per strategy); min {min(seconds):.1f} s, "
        f"max {max(seconds):.1f} s over {len(seconds)} runs; target 60 s"
    )


if __name__ == "__main__":
    main()
