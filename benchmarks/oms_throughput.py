"""OMS throughput: orders/s through validation -> routing -> simulated fill -> persistence.

Run: `.venv/bin/python benchmarks/oms_throughput.py [--orders 5000] [--repeats 3] [--quick]`.

What one order is: a 0.1 BTC market order (alternating buy and sell) submitted through the
product's `OrderManager` to one `PaperVenue` over a fixed 10-level book deep enough that it
fills at once; latency is the `submit` call, from signal to the FILLED state recorded
(database writes included). Generated data, no file. Modes:

* memory: no recorder on the bus (validation, state machine and matching only);
* sqlite / postgresql `intent-first` (the crash-safe default, `publish_intent=True`):
  SUBMITTED is committed before the request leaves, then ack + fill in a second transaction;
* sqlite / postgresql `one update per order` (`publish_intent=False`): submit + ack + fill
  recorded as one update, one transaction (a crash mid-request leaves no row).

Transactions per order are counted, not assumed: the recorded `OrderUpdate`s per order
(`OrderRecorder` writes each in one transaction; on PostgreSQL as one multi-statement
query on an autocommit connection, so SQLAlchemy sees no COMMIT to count). Persisted
figures are disk-bound: each commit waits for the log flush. So the script measures, in
the same run and on the same database, the commit ceiling (a loop of autocommitted 1-row INSERTs
on one connection) before and after the modes, and prints orders/s as a fraction of it.
Each mode: one untimed warm-up of 200 orders, then `--repeats` timed runs of `--orders`
orders (4 × `--orders` in memory); the median rate is printed, with p50/p99 latency over all timed orders. Nothing is
extrapolated. PostgreSQL: `ZVT_BENCH_PG_URL` (default postgres@127.0.0.1:5432), in a
scratch database created and dropped here.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from harness import PG_URL, commit_ceiling, figure, quick_flag
from scratch import scratch_database

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from zvt_pipelines.model.orders import OrderStatus  # noqa: E402
from zvt_pipelines.oms.manager import OrderManager  # noqa: E402
from zvt_pipelines.oms.messages import EventBus, OrderUpdate  # noqa: E402
from zvt_pipelines.oms.persistence import OrderRecorder  # noqa: E402
from zvt_pipelines.storage.database import Database  # noqa: E402
from zvt_pipelines.venues.paper import FixedMarketData, PaperVenue, spot_market  # noqa: E402

SYMBOL = "BTC/USDT"
T0 = datetime(2024, 1, 1, tzinfo=UTC)
WARMUP_ORDERS = 200


@dataclass
class ModeResult:
    rate: float  # median orders/s over the repeats
    p50_ms: float
    p99_ms: float
    transactions_per_order: float | None


def build(publish_intent: bool, db: Database | None) -> OrderManager:
    """A manager on one PaperVenue with a 10-level book of 1000 BTC a level and ample balances."""
    data = FixedMarketData("paper", {SYMBOL: spot_market(SYMBOL)})
    data.set_book(
        SYMBOL,
        bids=[(str(Decimal("99.99") - Decimal("0.01") * k), "1000") for k in range(10)],
        asks=[(str(Decimal("100.01") + Decimal("0.01") * k), "1000") for k in range(10)],
    )
    venue = PaperVenue(data, {"USDT": Decimal("1e12"), "BTC": Decimal("1e9")}, clock=lambda: T0)
    bus = EventBus()
    if db is not None:
        OrderRecorder(db).attach(bus)
    manager = OrderManager({"paper": venue}, bus, clock=lambda: T0, publish_intent=publish_intent)
    manager.refresh_balances("paper")
    return manager


def run(manager: OrderManager, orders: int) -> tuple[float, list[float]]:
    """Submit `orders` alternating market buys and sells of 0.1 BTC; (orders/s, latencies in s)."""
    latencies: list[float] = []
    reference = Decimal("100")
    amount = Decimal("0.1")
    begin = time.perf_counter()
    for i in range(orders):
        start = time.perf_counter()
        order = manager.new_order(
            "paper", SYMBOL, "buy" if i % 2 == 0 else "sell", "market", amount, strategy="bench"
        )
        manager.submit(order, reference)
        latencies.append(time.perf_counter() - start)
        if order.status is not OrderStatus.FILLED:
            raise RuntimeError(f"order {i} ended {order.status}: {order.reason}")
        del manager.orders[order.client_order_id]  # keep the working set flat, as a long run would
    return orders / (time.perf_counter() - begin), latencies


def measure(publish_intent: bool, db: Database | None, orders: int, repeats: int) -> ModeResult:
    """Warm-up run, then `repeats` timed runs on fresh managers; recorded updates counted."""
    run(build(publish_intent, db), WARMUP_ORDERS)
    updates = [0]

    def count(_update: OrderUpdate) -> None:
        updates[0] += 1

    rates, latencies = [], []
    for _ in range(repeats):
        manager = build(publish_intent, db)
        manager.bus.subscribe(OrderUpdate, count)
        rate, lat = run(manager, orders)
        rates.append(rate)
        latencies += lat
    cuts = statistics.quantiles(latencies, n=100)
    per_order = updates[0] / (orders * repeats) if db is not None else None
    return ModeResult(statistics.median(rates), cuts[49] * 1e3, cuts[98] * 1e3, per_order)


def describe(label: str, result: ModeResult, ceiling: float | None) -> str:
    line = (
        f"{label:<34} {result.rate:>9,.0f} orders/s   p50 {result.p50_ms:6.3f} ms   "
        f"p99 {result.p99_ms:6.3f} ms"
    )
    if result.transactions_per_order is not None:
        line += f"   {result.transactions_per_order:.2f} transactions/order"
    if ceiling:
        line += f"   = {result.rate / ceiling:.0%} of the commit ceiling"
    print(line, flush=True)
    return line


def persisted(name: str, db: Database, orders: int, repeats: int) -> None:
    """Both persisted modes on `db`, bracketed by commit-ceiling measurements."""
    before = commit_ceiling(db.engine, orders)
    print(f"{name} commit ceiling before: {before:,.0f} commits/s (autocommitted 1-row INSERTs)")
    intent = measure(True, db, orders, repeats)
    single = measure(False, db, orders, repeats)
    after = commit_ceiling(db.engine, orders)
    ceiling = (before + after) / 2
    print(f"{name} commit ceiling after:  {after:,.0f} commits/s; mean {ceiling:,.0f} used below")
    describe(f"{name} intent-first (crash-safe)", intent, ceiling)
    describe(f"{name} one update per order", single, ceiling)
    disk = "disk-bound; " if name == "postgresql" else ""
    for label, result in (("intent-first, crash-safe", intent), ("one update per order", single)):
        figure(
            f"{name} {label}",
            f"{result.rate:,.0f} orders/s = {result.rate / ceiling:.0%} of {ceiling:,.0f} "
            f"commits/s ceiling; p99 {result.p99_ms:.2f} ms",
            f"{disk}market orders through OrderManager to a PaperVenue, each state change "
            f"committed ({result.transactions_per_order:.2f} transactions/order); median of {repeats} x "
            f"{orders} orders after a {WARMUP_ORDERS}-order warm-up; ceiling = 1-row "
            "autocommitted-INSERT loop in the same run",
            "PostgreSQL ≥ 2,000/s; p99 < 5 ms" if name == "postgresql" else "–",
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=5000, help="timed orders per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pg-url", default=PG_URL)
    quick_flag(parser)
    args = parser.parse_args()
    orders, repeats = (300, 1) if args.quick else (args.orders, args.repeats)
    print(f"market orders, one PaperVenue, immediate fills: {repeats} x {orders} per mode\n")
    memory = measure(True, None, orders * 4, repeats)
    describe("memory (no persistence)", memory, None)
    figure(
        "memory",
        f"{memory.rate:,.0f} orders/s; p99 {memory.p99_ms:.2f} ms",
        f"validation → state machine → PaperVenue fill, no database; median of {repeats} x "
        f"{orders * 4} orders after a {WARMUP_ORDERS}-order warm-up",
        "≥ 10,000/s",
    )
    with scratch_database(None) as url:
        db = Database(url)
        db.upgrade()
        persisted("sqlite", db, orders, repeats)
        db.dispose()
    try:
        with scratch_database(args.pg_url) as url:
            db = Database(url)
            db.upgrade()
            persisted("postgresql", db, orders, repeats)
            db.dispose()
    except sa.exc.OperationalError as exc:
        print(f"postgresql: skipped, no server at {args.pg_url} ({exc.orig})")


if __name__ == "__main__":
    main()
