"""What MLflow tracking adds to one backtest: import, store setup, one run with artifacts.

Run: ``.venv/bin/python benchmarks/tracking_overhead.py [--repeats 3]``.

Each measurement runs in a fresh Python process (so `import mlflow` is paid every
time, as in one `zvt backtest` call): the backtest (SMA 24/96 on 8,760 hourly bars
of a seeded random walk) is timed first, then `import mlflow`, the client and store
setup, and `track_backtest` with every artifact (4 PNG charts, HTML report, CSVs,
YAML). Two cases: a fresh SQLite store (first run ever: MLflow creates and migrates
its schema) and an existing store. Medians over the repeats are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PHASES = ("backtest_s", "import_s", "setup_s", "run_s", "tracking_total_s")


def child(home: str) -> None:
    """One measurement in this process; prints a JSON line of phase seconds."""
    import numpy as np
    import pandas as pd

    from zvt_pipelines.backtest import run_sma_cross

    rng = np.random.default_rng(1)
    n = 8_760
    close = 30_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.006, n)))
    open_ = np.concatenate(([30_000.0], close[:-1]))
    ts = pd.date_range("2025-01-01", periods=n, freq="1h", tz="UTC").astype("datetime64[ms, UTC]")
    frame = pd.DataFrame(
        {"ts": ts, "open": open_, "high": np.maximum(open_, close), "low": np.minimum(open_, close)}
    )
    frame["close"], frame["volume"] = close, 1.0
    start = time.perf_counter()
    result = run_sma_cross(frame, 24, 96, 10.0, 10_000.0)
    backtest_s = time.perf_counter() - start

    start = time.perf_counter()
    import mlflow  # noqa: F401 - timing the import is the point

    from zvt_pipelines.tracking import TrackingTarget, data_fingerprint, track_backtest

    imported = time.perf_counter()
    env = {"ZVT_HOME": home}
    TrackingTarget.resolve(env=env).client().search_experiments(max_results=1)
    ready = time.perf_counter()
    track_backtest(
        result,
        strategy_name="sma_cross",
        params={"fast": 24, "slow": 96},
        engine_settings={"fee_bps": 10.0, "cash": 10_000.0},
        data_fingerprint=data_fingerprint(frame, "sim", "BTC/USDT", "1h"),
        env=env,
    )
    done = time.perf_counter()
    print(
        json.dumps(
            {
                "backtest_s": backtest_s,
                "import_s": imported - start,
                "setup_s": ready - imported,
                "run_s": done - ready,
                "tracking_total_s": done - start,
            }
        )
    )


def measure(home: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, __file__, "--child", home],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=home,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    with tempfile.TemporaryDirectory(prefix="zvt-bench-") as tmp:
        fresh = [measure(tempfile.mkdtemp(dir=tmp)) for _ in range(args.repeats)]
        shared = tempfile.mkdtemp(dir=tmp)
        measure(shared)  # creates and migrates the store
        existing = [measure(shared) for _ in range(args.repeats)]
    print(f"MLflow tracking overhead per backtest (median of {args.repeats} fresh processes)")
    print(f"{'phase':<18}{'fresh store':>14}{'existing store':>16}")
    for phase in PHASES:
        print(
            f"{phase:<18}"
            f"{statistics.median(m[phase] for m in fresh):>13.2f}s"
            f"{statistics.median(m[phase] for m in existing):>15.2f}s"
        )
    print("(backtest_s is the backtest itself, untracked; tracking_total_s is what tracking adds)")


if __name__ == "__main__":
    main()
