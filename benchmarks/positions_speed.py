"""Speed of position keeping: Decimal fills into FIFO lots, and mark-to-market three ways.

Run: `.venv/bin/python benchmarks/positions_speed.py [--quick]`. Seeded generated data.

* Fills: 20,000 random buys and sells (0.001..1 BTC, 0.1 % fee in USDT) applied through
  `PositionBook.apply` to one FIFO position, so sells keep consuming and splitting lots.
  Median of 5 runs after 1 warm-up.
* Mark-to-market through the product's objects: a `PositionBook` of 1,000 positions (one
  per symbol), revalued on 20 ticks of Decimal prices. One "price update" is one
  position's price on one tick.
  - `book path`: what `trading.rebalance.update_positions` does per tick, without the
    database: `PositionBook.mark(venue, symbol, price)` for every symbol, then
    `Position.snapshot()` of every position (unrealised PnL, margin). `PositionBook.mark`
    scans all positions per symbol, so this path is O(N²) in the positions per tick.
  - `position objects`: `Position.mark(price)` + `Position.unrealised_pnl()` on each
    position directly (the Decimal arithmetic without the book's scan).
  Median of 5 runs after 1 warm-up.
* Vectorised array revaluation, NOT through Position objects: `unrealised_pnl_vector` on
  float64 arrays (1,000 positions × a block of 1,000 ticks in one NumPy expression), the
  analytics path after `position_arrays` has converted the book once. Median of 50
  after 3 warm-ups.

Nothing is extrapolated. Decimal prices are built before timing.
"""

from __future__ import annotations

import argparse
import statistics
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
from harness import figure, quick_flag, spread, timings

from zvt_pipelines.model.orders import Fill, Liquidity, Side
from zvt_pipelines.portfolio.lots import AccountingMethod
from zvt_pipelines.portfolio.positions import (
    PositionBook,
    position_arrays,
    unrealised_pnl_vector,
)

T0 = datetime(2024, 8, 5, tzinfo=UTC)
VENUE = "sim_a"


def fill(n: int, symbol: str, side: Side, amount: Decimal, price: Decimal, fee: Decimal) -> Fill:
    return Fill(f"e{n}", f"c{n}", VENUE, symbol, side, amount, price, fee, "USDT",
                Liquidity.TAKER, T0 + timedelta(seconds=n))  # fmt: skip


def random_fills(count: int, rng: np.random.Generator) -> list[Fill]:
    """Seeded BTC/USDT fills with 3-decimal amounts, 2-decimal prices and a 0.1% fee in USDT."""
    fills = []
    for n in range(count):
        amount = Decimal(int(rng.integers(1, 1000))) / 1000
        price = Decimal(int(rng.integers(5_000_000, 7_000_000))) / 100
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        fee = (amount * price / 1000).quantize(Decimal("1e-8"))
        fills.append(fill(n, "BTC/USDT", side, amount, price, fee))
    return fills


def held_book(count: int, rng: np.random.Generator) -> tuple[PositionBook, np.ndarray]:
    """A book of `count` positions of 1.5 units (one short in three), and their entry prices."""
    book = PositionBook(AccountingMethod.FIFO)
    entries = []
    for n in range(count):
        price = Decimal(int(rng.integers(100, 100_000))) / 100
        side = Side.BUY if n % 3 else Side.SELL
        book.apply(fill(n, f"A{n}/USDT", side, Decimal("1.5"), price, Decimal(0)), "bench")
        entries.append(float(price))
    return book, np.array(entries)


def decimal_ticks(entry_prices: np.ndarray, ticks: int, rng: np.random.Generator) -> list:
    """`ticks` rows of Decimal prices (2 decimals) within about 1 % of the entry prices."""
    moves = entry_prices * (1 + rng.normal(0, 0.01, (ticks, len(entry_prices))))
    return [[Decimal(f"{p:.2f}") for p in row] for row in moves]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    quick_flag(parser)
    args = parser.parse_args()
    n_fills, n_positions, n_ticks = (2_000, 200, 5) if args.quick else (20_000, 1_000, 20)
    rng = np.random.default_rng(0)

    fills = random_fills(n_fills, rng)

    def apply_all() -> None:
        book = PositionBook(AccountingMethod.FIFO)
        for one in fills:
            book.apply(one, "bench")

    seconds = timings(apply_all, repeats=5)
    print(f"{n_fills:,} fills into one FIFO position: {spread(seconds, 1)}")
    rate = n_fills / statistics.median(seconds)
    print(f"  = {rate:,.0f} fills/s")
    figure(
        "fills into FIFO lots",
        f"{rate:,.0f} fills/s",
        f"PositionBook.apply of {n_fills:,} generated Decimal fills on one FIFO position; "
        "median of 5 after 1 warm-up",
    )

    book, entry_prices = held_book(n_positions, rng)
    prices = decimal_ticks(entry_prices, n_ticks, rng)
    symbols = [f"A{n}/USDT" for n in range(n_positions)]
    positions = list(book.positions.values())
    updates = n_positions * n_ticks

    def book_path() -> None:
        for row in prices:
            for symbol, price in zip(symbols, row, strict=True):
                book.mark(VENUE, symbol, price)
            for position in positions:
                position.snapshot(T0)

    def object_path() -> None:
        for row in prices:
            for position, price in zip(positions, row, strict=True):
                position.mark(price)
                position.unrealised_pnl()

    for label, work, what in (
        ("book path", book_path, "PositionBook.mark per symbol + Position.snapshot"),
        ("position objects", object_path, "Position.mark + Position.unrealised_pnl"),
    ):
        seconds = timings(work, repeats=5)
        rate = updates / statistics.median(seconds)
        print(f"mark-to-market, {label} ({what}), {n_positions:,} positions x {n_ticks} ticks:")
        print(f"  {spread(seconds, 1)} = {rate:,.0f} price updates/s")
        figure(
            f"mark-to-market, {label}",
            f"{rate:,.0f} price updates/s",
            f"{what} on {n_positions:,} Decimal positions × {n_ticks} ticks (generated); "
            "median of 5 after 1 warm-up",
            "≥ 1M updates/s",
        )

    quantities, entry_values = position_arrays(positions)
    block = entry_prices * (1 + rng.normal(0, 0.01, (1_000, n_positions)))

    def mark_block() -> None:
        unrealised_pnl_vector(quantities, entry_values, block).sum(axis=1)

    seconds = timings(mark_block, repeats=50, warmup=3)
    rate = block.size / statistics.median(seconds)
    print(
        f"vectorised float64 array revaluation (no Position objects), {n_positions:,} "
        f"positions x {len(block):,} ticks: {spread(seconds, 3)} = {rate:,.0f} price updates/s"
    )
    figure(
        "vectorised array revaluation (no Position objects)",
        f"{rate:,.0f} price updates/s",
        f"one NumPy expression (unrealised_pnl_vector) over float64 arrays, {n_positions:,} "
        f"positions × 1,000 ticks; median of 50 after 3 warm-ups",
    )


if __name__ == "__main__":
    main()
