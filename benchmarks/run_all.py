"""Run every benchmark script and print their figures as one markdown table (README's table).

Run: `.venv/bin/python benchmarks/run_all.py [--quick] [--only NAME ...] [--log-dir DIR]`.

Each script runs as its own process, one after another (never in parallel: they would
time each other), and prints `figure:` lines (see `harness.figure`); this collects them
into rows of command | what it measures | figure | target, followed by how long each
script took. Progress and failures go to stderr, the table to stdout, so
`run_all.py > table.md` refreshes README's table in one command. `--quick` passes
`--quick` to every script: a check that they run, not quotable figures. A failed or
timed-out script gets a row saying so and the exit status is 1.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from harness import FIGURE_PREFIX

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# (script, timeout in seconds); the order runs the quick ones first
SCRIPTS = (
    ("simulator_speed.py", 120),
    ("risk_speed.py", 120),
    ("positions_speed.py", 180),
    ("oms_throughput.py", 300),
    ("ingest_throughput.py", 300),
    ("alerts_speed.py", 300),
    ("event_backtest_speed.py", 300),
    ("rebalance_speed.py", 300),
    ("backtest_speed.py", 400),
    ("tracking_overhead.py", 400),
)


def cell(text: str) -> str:
    return text.strip().replace("|", "\\|")


def run(script: str, timeout: int, quick: bool, log_dir: Path | None) -> tuple[list, float, str]:
    """Run one script; (figure rows, seconds, '' or what went wrong)."""
    command = [sys.executable, str(HERE / script)] + (["--quick"] if quick else [])
    began = time.perf_counter()
    try:
        out = subprocess.run(
            command, cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False
        )
        stdout, problem = out.stdout, "" if out.returncode == 0 else f"exit {out.returncode}"
        stderr = out.stderr
    except subprocess.TimeoutExpired as exc:
        stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        stderr, problem = "", f"timed out after {timeout} s"
    seconds = time.perf_counter() - began
    if log_dir is not None:
        (log_dir / f"{Path(script).stem}.log").write_text(stdout + "\n--- stderr ---\n" + stderr)
    rows = []
    for line in stdout.splitlines():
        if line.startswith(FIGURE_PREFIX):
            label, value, measures, target = line[len(FIGURE_PREFIX) :].split(" | ", 3)
            rows.append((label, value, measures, target))
    if problem and stderr:
        problem += ": " + stderr.strip().splitlines()[-1]
    return rows, seconds, problem


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="pass --quick to every script")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these scripts")
    parser.add_argument("--log-dir", type=Path, help="keep each script's full output here")
    args = parser.parse_args()
    chosen = [
        (s, t) for s, t in SCRIPTS if not args.only or Path(s).stem in args.only or s in args.only
    ]
    if args.log_dir is not None:
        args.log_dir.mkdir(parents=True, exist_ok=True)
    table = ["| command | what it measures | figure | target |", "|---|---|---|---|"]
    durations = []
    failed = False
    for script, timeout in chosen:
        print(f"running {script} ...", file=sys.stderr, flush=True)
        rows, seconds, problem = run(script, timeout, args.quick, args.log_dir)
        command = f"`.venv/bin/python benchmarks/{script}`"
        for label, value, measures, target in rows:
            table.append(
                f"| {command} | {cell(measures)} | {cell(label)}: {cell(value)} | {cell(target)} |"
            )
        if problem:
            failed = True
            table.append(f"| {command} | – | FAILED: {cell(problem)} | – |")
        durations.append(f"| `{script}` | {seconds:.0f} s |")
        print(f"  {seconds:.0f} s {problem or 'ok'}", file=sys.stderr, flush=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    mode = " (--quick: checks only, figures not quotable)" if args.quick else ""
    print(f"Measured {stamp}{mode}.\n")
    print("\n".join(table))
    print("\n| script | wall time of the whole script |\n|---|---|")
    print("\n".join(durations))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
