"""Ingest throughput: one year of 1-minute candles (525,600 rows) into SQLite and PostgreSQL.

Run: `.venv/bin/python benchmarks/ingest_throughput.py [--repeats 3] [--pg-url URL] [--quick]`.

Data: one year of simulated BTC/USDT 1m candles from the product's market simulator
(`default_simulator`, generated here, not a file). What is timed: `replace_candles`, the
atomic partition write the market-data assets use (DELETE of the range + bulk insert in
one transaction; PostgreSQL via COPY), in two cases: into an empty table, and replacing
the year already stored. One untimed warm-up write, then `--repeats` timed rounds (the
table emptied, and on PostgreSQL vacuumed, before each); median, min and max printed.
Both databases are in scratch files/databases created and dropped here. The figures are
disk-bound (one large transaction flushed to disk); on PostgreSQL the commit ceiling of
the same database (a loop of autocommitted 1-row INSERTs) is measured and printed beside them
for scale. Nothing is extrapolated. Target: PostgreSQL year in under 5 s.
"""

import argparse
import statistics
import time

import pandas as pd
import sqlalchemy as sa
from harness import PG_URL, commit_ceiling, figure, quick_flag, spread
from scratch import scratch_database

from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.market_data import count_candles, replace_candles
from zvt_pipelines.venues.simulator.market import default_simulator


def candles(minutes: int) -> tuple[pd.DataFrame, pd.Timestamp, pd.Timestamp]:
    start = pd.Timestamp("2025-01-01", tz="UTC")
    end = start + pd.Timedelta(minutes=minutes)
    frame = default_simulator().candles("sim_a", "BTC/USDT", start, end)
    if len(frame) != minutes:
        raise RuntimeError(f"simulator gave {len(frame)} candles, expected {minutes}")
    return frame, start, end


def empty(db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM market_ohlcv"))
    if db.dialect == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM market_ohlcv"))


def measure(
    db: Database, frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, repeats: int
) -> tuple[list[float], list[float]]:
    """Seconds to store the frame into an empty table, and to replace it once stored."""

    def write() -> float:
        began = time.perf_counter()
        replace_candles(db, "sim_a", "BTC/USDT", "1m", frame, start, end)
        seconds = time.perf_counter() - began
        if count_candles(db) != len(frame):
            raise RuntimeError("candles duplicated or lost by replace_candles")
        return seconds

    empty(db)
    write()  # warm-up: connections, statement caches, table files
    fresh, replace = [], []
    for _ in range(repeats):
        empty(db)
        fresh.append(write())
        replace.append(write())
    return fresh, replace


def report(name: str, rows: int, timings: tuple[list[float], list[float]], ceiling: str) -> None:
    for label, seconds in zip(("into empty", "replacing"), timings, strict=True):
        median = statistics.median(seconds)
        print(f"{name:<11} {label:<11} {rows:,} candles: {spread(seconds, 1)}")
        print(f"{'':<23} = {rows / median:,.0f} candles/s")
        figure(
            f"{name} {label}",
            f"{median:.2f} s ({rows / median:,.0f} candles/s){ceiling}",
            f"disk-bound; replace_candles of {rows:,} simulated 1m candles (generated) in one "
            f"transaction; median of {len(seconds)} after 1 warm-up",
            "PG < 5 s" if name == "PostgreSQL" else "–",
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pg-url", default=PG_URL)
    quick_flag(parser)
    args = parser.parse_args()
    minutes, repeats = (43_200, 1) if args.quick else (525_600, args.repeats)
    frame, start, end = candles(minutes)
    with scratch_database(None) as url:
        db = Database(url)
        db.upgrade()
        report("SQLite", minutes, measure(db, frame, start, end, repeats), "")
        db.dispose()
    try:
        with scratch_database(args.pg_url) as url:
            db = Database(url)
            db.upgrade()
            timings = measure(db, frame, start, end, repeats)
            ceiling = commit_ceiling(db.engine, 2_000)
            print(
                f"PostgreSQL commit ceiling (loop of autocommitted 1-row INSERTs): {ceiling:,.0f} commits/s"
            )
            report("PostgreSQL", minutes, timings, f"; commit ceiling {ceiling:,.0f}/s")
            db.dispose()
    except sa.exc.OperationalError as exc:
        print(f"PostgreSQL  skipped: no server at {args.pg_url} ({exc.orig})")


if __name__ == "__main__":
    main()
