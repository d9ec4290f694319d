"""OMS throughput: orders/s through validation -> single-venue routing -> simulated fill -> persistence.

Each order is a market order against a PaperVenue over a fixed deep book, so it fills at
once; "latency" is signal to recorded FILLED state (the `submit` call, including the
database writes). Modes:

* memory: no subscriber on the bus;
* sqlite / postgresql, `intent`: SUBMITTED is committed before the request leaves, then
  ack + fills in a second transaction (2 transactions per order; the crash-safe default);
* sqlite / postgresql, `batched`: submit + ack + fills of an order that fills at once in
  one transaction (1 per order; each state change still atomic, but a crash mid-request
  leaves no row, so only for venues listable by client id).

PostgreSQL comes from `ZVT_BENCH_PG_URL` (default postgresql+psycopg2://postgres@127.0.0.1:5432/test);
a scratch database is created and dropped. Run: `python benchmarks/oms_throughput.py [--orders N]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from scratch import scratch_database

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from zvt_pipelines.model.orders import OrderStatus  # noqa: E402
from zvt_pipelines.oms.events import EventBus  # noqa: E402
from zvt_pipelines.oms.manager import OrderManager  # noqa: E402
from zvt_pipelines.oms.persistence import OrderRecorder  # noqa: E402
from zvt_pipelines.storage.database import Database  # noqa: E402
from zvt_pipelines.venues.paper import FixedMarketData, PaperVenue, spot_market  # noqa: E402

SYMBOL = "BTC/USDT"
PG_URL = os.environ.get("ZVT_BENCH_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
T0 = datetime(2024, 1, 1, tzinfo=UTC)


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


def report(label: str, rate: float, latencies: list[float]) -> None:
    cuts = statistics.quantiles(latencies, n=100)
    print(
        f"{label:<28} {rate:>10,.0f} orders/s   p50 {cuts[49] * 1e3:6.3f} ms   p99 {cuts[98] * 1e3:6.3f} ms"
    )


def measure(label: str, publish_intent: bool, db: Database | None, orders: int) -> None:
    run(build(publish_intent, db), min(200, orders))  # warm-up: statement caches, connections
    report(label, *run(build(publish_intent, db), orders))


def commit_ceiling(db: Database, commits: int) -> None:
    """The bound persistence cannot beat: single-row insert + commit on a scratch table, same connection."""
    with db.engine.connect() as conn:
        conn.execute(sa.text("CREATE TABLE zvt_bench_commit (id integer PRIMARY KEY, x text)"))
        conn.commit()
        begin = time.perf_counter()
        for i in range(commits):
            conn.execute(sa.text("INSERT INTO zvt_bench_commit VALUES (:i, 'x')"), {"i": i})
            conn.commit()
        rate = commits / (time.perf_counter() - begin)
        conn.execute(sa.text("DROP TABLE zvt_bench_commit"))
        conn.commit()
    print(f"{db.dialect + ' commit ceiling':<28} {rate:>10,.0f} commits/s (1-row insert + commit)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=5000)
    args = parser.parse_args()
    print(f"{args.orders} market orders per mode, one venue, immediate fills\n")
    measure("memory", True, None, args.orders * 4)
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite:///{folder}/bench.db")
        db.upgrade()
        measure("sqlite intent (2 tx/order)", True, db, args.orders)
        measure("sqlite batched (1 tx/order)", False, db, args.orders)
        commit_ceiling(db, args.orders)
        db.dispose()
    try:
        with scratch_database(PG_URL) as url:
            db = Database(url)
            db.upgrade()
            measure("postgres intent (2 tx/order)", True, db, args.orders)
            measure("postgres batched (1 tx/order)", False, db, args.orders)
            commit_ceiling(db, args.orders)
            db.dispose()
    except sa.exc.OperationalError as exc:
        print(f"postgresql: skipped, no server at {PG_URL} ({exc.orig})")


if __name__ == "__main__":
    main()
