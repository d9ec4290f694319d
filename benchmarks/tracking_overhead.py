"""What MLflow tracking adds to `zvt backtest`, measured as whole CLI processes.

Run: ``.venv/bin/python benchmarks/tracking_overhead.py [--repeats 5] [--phases] [--quick]``.

Each figure times the real command from process start to exit (interpreter start-up,
imports, reading the file, the backtest, printing the JSON, and for tracked runs the
MLflow import, store and artifacts):

    .venv/bin/zvt backtest --data <file> --param fast=10 --param slow=30 --json [--no-track]

on the real `binance_BTC-USDT_1h.csv.gz` (all 73,265 hourly bars; ZVT_SHARED_DATA or
`--data`), with ZVT_HOME a temporary folder and MLFLOW_TRACKING_URI unset, so runs go to
the default SQLite store under it. Three cases, each `--repeats` processes, min / median /
max of the wall time printed, with the median CPU time (user + system, from the OS's
accounting of the finished child; steadier than wall time on a busy machine):

* `--no-track`, after one untimed warm-up process (file cache);
* tracked, a fresh store each time (the first run ever: MLflow creates its schema);
* tracked, an existing store (created by one untimed run first).

The ratio is tracked median / untracked median of this run. Each tracked run's JSON must
carry an `mlflow_run_id` and each untracked run's must not, or the script stops.
`--phases` adds an in-process breakdown of a tracked run (backtest, `import mlflow`, store
set-up, `track_backtest`) in fresh interpreters. Nothing is extrapolated. The machine's
PYTHONDONTWRITEBYTECODE setting (no .pyc: slower imports) is printed, as it moves
these figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import SHARED_DATA, figure, quick_flag, spread

REPO = Path(__file__).resolve().parent.parent
ZVT = Path(sys.executable).parent / "zvt"  # the CLI of the interpreter running this
PARAMS = ("--param", "fast=10", "--param", "slow=30")
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


def phases(home: str) -> dict[str, float]:
    """One in-process phase breakdown, run in a fresh interpreter with its cwd at `home`."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("MLFLOW_TRACKING_URI", None)
    out = subprocess.run(
        [sys.executable, __file__, "--child", home],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=home,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def cli_seconds(data: Path, home: str, track: bool) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one `zvt backtest` process, start to exit;
    checks its JSON answer."""
    env = {**os.environ, "ZVT_HOME": home}
    env.pop("MLFLOW_TRACKING_URI", None)
    command = [str(ZVT), "backtest", "--data", str(data), *PARAMS, "--json"]
    if not track:
        command.append("--no-track")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, env=env, cwd=home, timeout=300)
    seconds = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {out.returncode}: {out.stderr[-500:]}")
    answer = json.loads(out.stdout.strip().splitlines()[-1])
    if bool(answer.get("mlflow_run_id")) != track:
        raise RuntimeError(f"tracking {track} but mlflow_run_id is {answer.get('mlflow_run_id')!r}")
    return seconds, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--data", type=Path, default=SHARED_DATA / "binance_BTC-USDT_1h.csv.gz")
    parser.add_argument("--phases", action="store_true", help="add the in-process breakdown")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    quick_flag(parser)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    repeats = 1 if args.quick else args.repeats
    print(f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}")
    print(f"command: zvt backtest --data {args.data.name} {' '.join(PARAMS)} --json [--no-track]")
    with tempfile.TemporaryDirectory(prefix="zvt-bench-") as tmp:
        untracked_home = tempfile.mkdtemp(dir=tmp)
        cli_seconds(args.data, untracked_home, track=False)  # warm-up: file cache
        untracked = [cli_seconds(args.data, untracked_home, False) for _ in range(repeats)]
        fresh = [cli_seconds(args.data, tempfile.mkdtemp(dir=tmp), True) for _ in range(repeats)]
        shared = tempfile.mkdtemp(dir=tmp)
        cli_seconds(args.data, shared, track=True)  # creates and migrates the store
        existing = [cli_seconds(args.data, shared, True) for _ in range(repeats)]
        breakdown = (
            [phases(tempfile.mkdtemp(dir=tmp)) for _ in range(repeats)] if args.phases else []
        )
    base = statistics.median(wall for wall, _ in untracked)
    cases = (
        ("--no-track", untracked, 1, "untracked", ", after 1 untimed warm-up process"),
        ("tracked, fresh store", fresh, 0, "tracked into a new SQLite store (schema created)", ""),
        (
            "tracked, existing store",
            existing,
            1,
            "tracked into an existing SQLite store",
            ", after 1 untimed process that created the store",
        ),
    )
    for label, runs, warmup, what, before in cases:
        seconds = [wall for wall, _ in runs]
        cpu = statistics.median(cpu for _, cpu in runs)
        ratio = statistics.median(seconds) / base
        print(
            f"{label:<24} wall {spread(seconds, warmup)}   {ratio:.2f}x --no-track; "
            f"CPU (user + system) median {cpu:.2f} s"
        )
        figure(
            f"zvt backtest {label}",
            f"{statistics.median(seconds):.2f} s"
            + ("" if runs is untracked else f" ({ratio:.1f}× --no-track)")
            + f"; CPU {cpu:.2f} s",
            f"whole CLI process, start to exit, {what}; real BTC/USDT 1h file (73,265 bars); "
            f"median of {len(seconds)} processes{before}",
            "< 2 s" if runs is untracked else "–",
        )
    if breakdown:
        print(
            f"in-process phases of a tracked run (median of {len(breakdown)} fresh interpreters):"
        )
        for phase in PHASES:
            print(f"  {phase:<18}{statistics.median(m[phase] for m in breakdown):>8.2f} s")


if __name__ == "__main__":
    main()
