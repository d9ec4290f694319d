"""Speed of the portfolio risk core: revaluation per tick and VaR by each method.

Run: `.venv/bin/python benchmarks/risk_speed.py [--quick]`. In memory, seeded generated
data, nothing extrapolated:

* revaluation: `valuation.revalue` of 1,000 positions (float64 arrays) on one price tick;
  median of 2,000 ticks after 50 warm-up ticks;
* VaR on 50 assets × 730 daily returns: Monte Carlo (100,000 paths, 1 day) median of 7,
  historical (1-day and 7-day overlapping) and parametric medians of 50, each after 1
  warm-up call.

`--quick` cuts the repeats (and the Monte Carlo paths to 10,000) to check the script runs.
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
from harness import figure, quick_flag, spread, timings

from zvt_pipelines.portfolio.valuation import revalue
from zvt_pipelines.portfolio.var import historical_var, monte_carlo_var, parametric_var


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    quick_flag(parser)
    quick = parser.parse_args().quick
    ticks_timed, repeats, paths = (200, 5, 10_000) if quick else (2_000, 50, 100_000)
    rng = np.random.default_rng(0)
    positions = 1_000
    quantities = rng.normal(0, 10, positions)
    entry_prices = rng.uniform(1, 1000, positions)
    ticks = entry_prices * (1 + rng.normal(0, 0.01, (200, positions)))
    tick_iter = iter(range(10**9))

    def one_tick() -> None:
        revalue(quantities, entry_prices, ticks[next(tick_iter) % len(ticks)], cash=1e6)

    seconds = timings(one_tick, repeats=ticks_timed, warmup=50)
    print(f"revaluation, {positions:,} positions per tick: {spread(seconds, 50, 'µs', 1e6)}")
    figure(
        "revaluation per tick",
        f"{statistics.median(seconds) * 1e6:.1f} µs",
        f"valuation.revalue of {positions:,} positions as float64 arrays (no Position objects; generated); "
        f"median of "
        f"{ticks_timed:,} ticks after 50 warm-up",
        "< 1 ms",
    )

    assets, days = 50, 730
    mixing = rng.normal(size=(assets, assets))
    covariance = 1e-4 * (mixing @ mixing.T / assets + np.eye(assets))
    returns = rng.multivariate_normal(np.full(assets, 5e-4), covariance, size=days)
    values = rng.uniform(-5_000, 20_000, assets)

    seconds = timings(
        lambda: monte_carlo_var(returns, values, 0.99, 1, paths=paths, seed=1), repeats=7
    )
    print(f"1-day Monte Carlo VaR, {paths:,} paths × {assets} assets: {spread(seconds, 1)}")
    figure(
        "1-day Monte Carlo VaR",
        f"{statistics.median(seconds):.3f} s",
        f"{paths:,} paths × {assets} assets, 730 generated daily returns; median of 7 after "
        "1 warm-up",
        "< 1 s",
    )
    for label, horizon in (("historical VaR, 1-day", 1), ("historical VaR, 7-day overlapping", 7)):
        seconds = timings(lambda h=horizon: historical_var(returns, values, 0.99, h), repeats)
        print(f"{label}, {days} days × {assets} assets: {spread(seconds, 1, 'ms', 1e3)}")
    seconds = timings(lambda: parametric_var(returns, values, 0.99), repeats)
    print(f"parametric VaR, {days} days × {assets} assets: {spread(seconds, 1, 'ms', 1e3)}")


if __name__ == "__main__":
    main()
