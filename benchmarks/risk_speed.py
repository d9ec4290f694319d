"""Speed of the portfolio risk core: revaluation per tick and VaR by each method.

Run: `.venv/bin/python benchmarks/risk_speed.py`. Prints medians over repeated runs on seeded
random data (1,000 positions; 50 assets × 730 daily returns).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np

from zvt_pipelines.portfolio.valuation import revalue
from zvt_pipelines.portfolio.var import historical_var, monte_carlo_var, parametric_var


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


def main() -> None:
    rng = np.random.default_rng(0)
    positions = 1_000
    quantities = rng.normal(0, 10, positions)
    entry_prices = rng.uniform(1, 1000, positions)
    ticks = entry_prices * (1 + rng.normal(0, 0.01, (200, positions)))
    tick_iter = iter(range(10**9))

    def one_tick() -> None:
        revalue(quantities, entry_prices, ticks[next(tick_iter) % len(ticks)], cash=1e6)

    revaluation = median_seconds(one_tick, repeats=2_000, warmup=50)
    print(f"revaluation, {positions:,} positions per tick: median {revaluation * 1e6:.1f} µs")

    assets, days = 50, 730
    mixing = rng.normal(size=(assets, assets))
    covariance = 1e-4 * (mixing @ mixing.T / assets + np.eye(assets))
    returns = rng.multivariate_normal(np.full(assets, 5e-4), covariance, size=days)
    values = rng.uniform(-5_000, 20_000, assets)

    monte_carlo = median_seconds(
        lambda: monte_carlo_var(returns, values, 0.99, 1, paths=100_000, seed=1), repeats=7
    )
    print(f"1-day Monte Carlo VaR, 100,000 paths × {assets} assets: median {monte_carlo:.3f} s")
    historical = median_seconds(lambda: historical_var(returns, values, 0.99), repeats=50)
    historical_7 = median_seconds(lambda: historical_var(returns, values, 0.99, 7), repeats=50)
    print(
        f"historical VaR, {days} days × {assets} assets: 1-day median {historical * 1e3:.2f} ms, "
        f"7-day overlapping median {historical_7 * 1e3:.2f} ms"
    )
    parametric = median_seconds(lambda: parametric_var(returns, values, 0.99), repeats=50)
    print(f"parametric VaR, {days} days × {assets} assets: median {parametric * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
