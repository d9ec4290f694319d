"""What every benchmark script shares: timing with warm-up, the commit ceiling, figure lines.

A script prints human-readable lines plus one `figure:` line per headline number;
`run_all.py` collects those lines into README's table, so every figure names its script.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

SHARED_DATA = Path(
    os.environ.get("ZVT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
PG_URL = os.environ.get("ZVT_BENCH_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
FIGURE_PREFIX = "figure: "


def timings(work: Callable[[], object], repeats: int, warmup: int = 1) -> list[float]:
    """Wall seconds of `repeats` timed calls of `work()` after `warmup` untimed ones."""
    for _ in range(warmup):
        work()
    seconds = []
    for _ in range(repeats):
        began = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - began)
    return seconds


def spread(seconds: list[float], warmup: int | str, unit: str = "s", scale: float = 1.0) -> str:
    """'median X (min A, max B; N runs after W warm-up)' for a list of timings; a `warmup`
    string replaces 'W warm-up' when the warm-up is not a count of the same runs."""
    values = [s * scale for s in seconds]
    before = f"{warmup} warm-up" if isinstance(warmup, int) else warmup
    return (
        f"median {statistics.median(values):.4g} {unit} (min {min(values):.4g}, "
        f"max {max(values):.4g}; {len(values)} runs after {before})"
    )


def commit_ceiling(engine: sa.Engine, commits: int, warmup: int = 100) -> float:
    """Committed transactions/s of the cheapest kind: one 1-row INSERT per transaction on an
    autocommit connection (one round trip, one commit each), timed over `commits` after
    `warmup` untimed ones.

    On PostgreSQL each commit waits for its WAL flush, so this is the disk's bound on any
    write path that commits per order: persisted figures are quoted as a fraction of it.
    """
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("CREATE TABLE zvt_bench_commit (id integer PRIMARY KEY, x text)")
        began = 0.0
        for i in range(warmup + commits):
            if i == warmup:
                began = time.perf_counter()
            conn.exec_driver_sql(f"INSERT INTO zvt_bench_commit VALUES ({i}, 'x')")
        rate = commits / (time.perf_counter() - began)
        conn.exec_driver_sql("DROP TABLE zvt_bench_commit")
    return rate


def figure(label: str, value: str, measures: str, target: str = "–") -> None:
    """Print one headline figure as a line `run_all.py` collects: label | value | what | target."""
    print(f"{FIGURE_PREFIX}{label} | {value} | {measures} | {target}", flush=True)


def quick_flag(parser: argparse.ArgumentParser) -> None:
    """`--quick`: small sizes and few repeats, to check the script runs (figures not quotable)."""
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes and few repeats: checks the script works; its figures are not quotable",
    )
