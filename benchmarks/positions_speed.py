"""Speed of position keeping: Decimal fills applied per second (FIFO) and float64 mark-to-market.

Run: `.venv/bin/python benchmarks/positions_speed.py`. Prints medians over repeated runs on
seeded random data. Fills: 20,000 random buys and sells (0.001..1 BTC, fees in USDT) on one
FIFO position, so sells keep consuming and splitting lots. Mark-to-market: 1,000 positions
revalued on a block of 1,000 price ticks (a 1,000 x 1,000 price matrix); one "price update" is
one position's price on one tick, so a block is 1,000,000 updates.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np

from zvt_pipelines.model.orders import Fill, Liquidity, Side
from zvt_pipelines.portfolio.lots import AccountingMethod
from zvt_pipelines.portfolio.positions import (
    Position,
    PositionKey,
    position_arrays,
    unrealised_pnl_vector,
)

T0 = datetime(2024, 8, 5, tzinfo=UTC)


def median_seconds(work: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median wall time of `work()` over `repeats` runs, after `warmup` untimed runs."""
    for _ in range(warmup):
        work()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def random_fills(count: int, rng: np.random.Generator) -> list[Fill]:
    """Seeded fills with 3-decimal amounts, 2-decimal prices and a 0.1% fee in USDT."""
    fills = []
    for n in range(count):
        amount = Decimal(int(rng.integers(1, 1000))) / 1000
        price = Decimal(int(rng.integers(5_000_000, 7_000_000))) / 100
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        fills.append(
            Fill(
                f"e{n}",
                f"c{n}",
                "sim_a",
                "BTC/USDT",
                side,
                amount,
                price,
                (amount * price / 1000).quantize(Decimal("1e-8")),
                "USDT",
                Liquidity.TAKER,
                T0 + timedelta(seconds=n),
            )  # fmt: skip
        )
    return fills


def main() -> None:
    rng = np.random.default_rng(0)
    fills = random_fills(20_000, rng)

    def apply_all() -> None:
        position = Position(PositionKey("sim_a", "BTC/USDT"), AccountingMethod.FIFO)
        for one in fills:
            position.apply(one)

    seconds = median_seconds(apply_all, repeats=5)
    print(f"fills applied to a FIFO position: median {len(fills) / seconds:,.0f} fills/s")

    positions = []
    for n in range(1_000):
        position = Position(PositionKey("sim_a", f"A{n}/USDT"))
        price = Decimal(int(rng.integers(100, 100_000))) / 100
        side = Side.BUY if n % 3 else Side.SELL
        position.apply(Fill(f"m{n}", f"m{n}", "sim_a", f"A{n}/USDT", side, Decimal("1.5"), price,
                            Decimal(0), "USDT", Liquidity.TAKER, T0))  # fmt: skip
        positions.append(position)
    quantities, entry_values = position_arrays(positions)
    entry_prices = np.abs(entry_values / quantities)
    ticks = entry_prices * (1 + rng.normal(0, 0.01, (1_000, len(positions))))

    def mark_block() -> None:
        unrealised_pnl_vector(quantities, entry_values, ticks).sum(axis=1)

    block = median_seconds(mark_block, repeats=50, warmup=3)
    print(
        f"mark-to-market, {len(positions):,} positions x {len(ticks):,} ticks: median "
        f"{ticks.size / block:,.0f} price updates/s ({len(ticks) / block:,.0f} portfolio marks/s)"
    )


if __name__ == "__main__":
    main()
