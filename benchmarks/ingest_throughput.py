"""Ingest throughput: one year of 1-minute candles (525,600 rows) into SQLite and PostgreSQL.

Prints the median of a few repeats (candles/s) for `replace_candles`, the atomic partition
write the market-data assets use (DELETE of the range + bulk insert in one transaction;
PostgreSQL via COPY). Target: PostgreSQL above 100,000 candles/s (the year in under 5 s).

    .venv/bin/python benchmarks/ingest_throughput.py [--repeats 3] [--pg-url URL]
"""

import argparse
import os
import statistics
import time

import pandas as pd
import sqlalchemy as sa
from scratch import scratch_database

from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.market_data import count_candles, replace_candles
from zvt_pipelines.venues.simulator import default_simulator

ROWS = 525_600
DEFAULT_PG = os.environ.get(
    "ZVT_BENCH_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)


def one_year() -> tuple[pd.DataFrame, pd.Timestamp, pd.Timestamp]:
    start = pd.Timestamp("2025-01-01", tz="UTC")
    end = start + pd.Timedelta(minutes=ROWS)
    frame = default_simulator().candles("sim_a", "BTC/USDT", start, end)
    assert len(frame) == ROWS
    return frame, start, end


def measure(
    db: Database, frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, repeats: int
) -> tuple[list[float], list[float]]:
    """Seconds to store the year into an empty table, and to replace an already stored year."""
    fresh, replace = [], []
    for _ in range(repeats):
        with db.engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM market_ohlcv"))
        if db.dialect == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("VACUUM market_ohlcv"))
        for seconds in (fresh, replace):
            began = time.perf_counter()
            replace_candles(db, "sim_a", "BTC/USDT", "1m", frame, start, end)
            seconds.append(time.perf_counter() - began)
            assert count_candles(db) == ROWS  # replaced, never duplicated
    return fresh, replace


def report(name: str, timings: tuple[list[float], list[float]]) -> None:
    for label, seconds in zip(("into empty", "replacing"), timings, strict=True):
        median = statistics.median(seconds)
        print(
            f"{name:<11} {label:<11} {ROWS:,} candles: median {median:.2f} s "
            f"({ROWS / median:,.0f} candles/s); min {min(seconds):.2f} s, max {max(seconds):.2f} s "
            f"over {len(seconds)} runs"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pg-url", default=DEFAULT_PG)
    args = parser.parse_args()
    frame, start, end = one_year()
    with scratch_database(None) as url:
        db = Database(url)
        db.upgrade()
        report("SQLite", measure(db, frame, start, end, args.repeats))
        db.dispose()
    try:
        with scratch_database(args.pg_url) as url:
            db = Database(url)
            db.upgrade()
            report("PostgreSQL", measure(db, frame, start, end, args.repeats))
            db.dispose()
    except sa.exc.OperationalError as exc:
        print(f"PostgreSQL  skipped: no server at {args.pg_url} ({exc.orig})")


if __name__ == "__main__":
    main()
