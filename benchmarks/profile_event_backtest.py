"""Profile the event-driven backtest of one strategy family under cProfile (issue 15, item 1).

Run: `.venv/bin/python benchmarks/profile_event_backtest.py FAMILY [--bars N] [--out PATH]`
writes a text summary (header: family, data, bars, wall time, bars/s; then the top
functions by cumulative and by total time) to `benchmarks/profiles/FAMILY.txt`.
`--no-profile` times the same run without cProfile instead (bars/s in-process after a
warm-up run of `--warmup-bars` bars, median of `--repeats`) and writes nothing.

The cases are the regression suite's (`tests/test_event_regression.py`, `build_case`):
same families, parameters, costs and real data from ZVT_SHARED_DATA, on `--bars`
decision bars (default 20,000). Single-instrument families: the first N bars of
`binance_BTC-USDT_1m.csv.gz`, decided every minute. Arbitrages: 1h files of two venues
(no venue pair has 1-minute data); arb_cross and arb_triangular are bounded by Kraken's
one year of hourly bars (at most 8,700 bars from 2023-03-12).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the cases live with the regression suite

from test_event_regression import REGRESSION_BARS, build_case  # noqa: E402

PROFILES = REPO / "benchmarks" / "profiles"
MAX_HOURLY = {"arb_cross": 8_700, "arb_triangular": 8_700}
TOP = 35


def _timed_run(family: str, bars: int) -> tuple[int, float, float]:
    """(decision bars, wall seconds, CPU seconds) of one run, the case built outside."""
    case = build_case(family, bars)
    wall, cpu = time.perf_counter(), time.process_time()
    result = case.run()
    return len(result.equity), time.perf_counter() - wall, time.process_time() - cpu


def _where(path: str) -> str:
    """A profiled file as `package/module.py` (site-packages and the repo prefix cut)."""
    for marker in ("site-packages/", f"{REPO}/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def _stats_text(stats: pstats.Stats, key: str) -> str:
    buffer = io.StringIO()
    stats.stream = buffer
    stats.sort_stats(key).print_stats(TOP)
    lines = buffer.getvalue().splitlines()
    start = next(k for k, line in enumerate(lines) if "ncalls" in line)
    return "\n".join(_shorten(line) for line in lines[start:] if line.strip())


def _shorten(line: str) -> str:
    head, sep, place = line.rpartition(" ")
    return f"{head}{sep}{_where(place)}" if "/" in place else line


def _own_time_by_file(stats: pstats.Stats, total: float) -> str:
    """Own (total) time summed per source file, with its share of the run."""
    by_file: dict[str, float] = {}
    for (path, _, _), (_, _, own, _, _) in stats.stats.items():
        name = _where(path) if path != "~" else "builtins (C)"
        by_file[name] = by_file.get(name, 0.0) + own
    rows = sorted(by_file.items(), key=lambda item: item[1], reverse=True)[:20]
    return "\n".join(f"{own:9.3f} s {own / total:6.1%}  {name}" for name, own in rows)


def _core_functions(stats: pstats.Stats) -> str:
    """The project's own functions (zvt_pipelines) by cumulative time, with their share of
    `run_backtest`'s."""
    rows = [
        (cumulative, calls, f"{_where(path)}:{line}({name})")
        for (path, line, name), (_, calls, _, cumulative, _) in stats.stats.items()
        if "zvt_pipelines/" in path
    ]
    rows.sort(reverse=True)
    total = rows[0][0]  # run_backtest: the whole run
    return "\n".join(
        f"{cumulative:9.3f} s {cumulative / total:6.1%} {calls:9,}  {where}"
        for cumulative, calls, where in rows[:TOP]
    )


def profile(family: str, bars: int, out: Path) -> None:
    """Run the case under cProfile (after an unprofiled warm-up) and write the summary."""
    _timed_run(family, 300)  # imports, numba caches, file cache
    case = build_case(family, bars)
    profiler = cProfile.Profile()
    began, cpu = time.perf_counter(), time.process_time()
    profiler.enable()
    result = case.run()
    profiler.disable()
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    decided = len(result.equity)
    stats = pstats.Stats(profiler)
    header = [
        f"family: {family}",
        f"data: {case.data}",
        f"decision bars: {decided:,}",
        f"orders: {len(result.orders):,}  fills: {len(result.fills):,}",
        f"wall time under cProfile: {wall:.2f} s = {decided / wall:,.0f} bars/s "
        f"(CPU {cpu:.2f} s = {decided / cpu:,.0f} bars/s; load average "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores)",
        f"command: .venv/bin/python benchmarks/profile_event_backtest.py {family} --bars {bars}",
        "(cProfile slows this pandas/Decimal-heavy code about 2x; figures without it: "
        "--no-profile)",
    ]
    text = "\n".join(
        [
            *header,
            "",
            f"== zvt_pipelines functions by cumulative time (top {TOP}): seconds, share "
            "of the run, calls ==",
            _core_functions(stats),
            "",
            "== own time per source file (top 20) ==",
            _own_time_by_file(stats, stats.total_tt),
            "",
            f"== top {TOP} functions by cumulative time ==",
            _stats_text(stats, "cumulative"),
            "",
            f"== top {TOP} functions by total (own) time ==",
            _stats_text(stats, "tottime"),
        ]
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    print("\n".join(header[:5]))
    print(f"written to {out}")


def speed(family: str, bars: int, warmup_bars: int, repeats: int) -> None:
    """Bars/s without cProfile: one warm-up run, then `repeats` timed runs."""
    _timed_run(family, warmup_bars)
    runs = [_timed_run(family, bars) for _ in range(repeats)]
    decided = runs[0][0]
    wall = statistics.median(r[1] for r in runs)
    cpu = statistics.median(r[2] for r in runs)
    print(
        f"{family}: {decided:,} decision bars, median of {repeats} after a {warmup_bars}-bar "
        f"warm-up: wall {wall:.2f} s = {decided / wall:,.0f} bars/s, CPU {cpu:.2f} s = "
        f"{decided / cpu:,.0f} bars/s (load average {os.getloadavg()[0]:.1f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("family", choices=sorted(REGRESSION_BARS))
    parser.add_argument("--bars", type=int, default=20_000)
    parser.add_argument("--out", type=Path, help="default benchmarks/profiles/FAMILY.txt")
    parser.add_argument("--no-profile", action="store_true", help="time only, write nothing")
    parser.add_argument("--warmup-bars", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    limit = MAX_HOURLY.get(args.family)
    if limit is not None and args.bars > limit:
        parser.error(f"--bars {args.bars}: {args.family} has at most {limit} hourly bars")
    if args.bars < 2:
        parser.error(f"--bars {args.bars}: need at least 2")
    if args.no_profile:
        speed(args.family, args.bars, args.warmup_bars, args.repeats)
    else:
        profile(args.family, args.bars, args.out or PROFILES / f"{args.family}.txt")


if __name__ == "__main__":
    main()
