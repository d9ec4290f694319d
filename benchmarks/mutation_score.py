"""`make mutation`: mutmut on the money paths, one module at a time, then the score per module.

Run: `.venv/bin/python benchmarks/mutation_score.py [module ...] [--survivors] [--report]`
(module names as in MODULES, e.g. `throttle`; none means all, matching last). CPU-heavy:
it runs under `nice` and is kept out of `make test` and CI. Configuration (files, tests,
pytest arguments) is `[tool.mutmut]` in pyproject.toml.

mutmut runs in a staging copy under `$ZVT_HOME/mutation` (default `.zvt/mutation`):
mutmut 3 never mutates a decorated function, so the copies of `backtest/kernels.py` and
`analytics/indicator_kernels.py` have their `@njit` lines commented out (line numbers kept) and the run sets NUMBA_DISABLE_JIT=1, so
the kernels are mutated and run as plain Python. Only changed files are copied again, so
mutmut keeps the results of functions that did not change.

The score counts a mutant as killed when a test failed or timed out (an endless loop is
caught); survivors and mutants no selected test reaches count against it.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODULES = {
    "throttle": "zvt_pipelines.alerts.throttle",
    "order": "zvt_pipelines.oms.order",
    "lots": "zvt_pipelines.portfolio.lots",
    "var": "zvt_pipelines.portfolio.var",
    "limits": "zvt_pipelines.portfolio.limits",
    "metrics": "zvt_pipelines.analytics.metrics",
    "kernels": "zvt_pipelines.backtest.kernels",
    "indicator_kernels": "zvt_pipelines.analytics.indicator_kernels",
    "matching": "zvt_pipelines.venues.matching",
}
# numba-compiled modules, staged with their @njit lines commented out
KERNELS = (
    REPO / "zvt_pipelines" / "backtest" / "kernels.py",
    REPO / "zvt_pipelines" / "analytics" / "indicator_kernels.py",
)
JIT_DECORATOR = re.compile(r"^@njit\b.*$", re.MULTILINE)
KILLED = {"killed", "timeout", "caught by type check"}


def stage_root() -> Path:
    home = Path(os.environ.get("ZVT_HOME", REPO / ".zvt"))
    return home / "mutation"


def _sync_file(source: Path, target: Path) -> None:
    """Copy `source` to `target` when their contents differ. The copy gets a fresh
    timestamp: mutmut regenerates a mutated file only when its source is newer."""
    if target.exists() and filecmp.cmp(source, target, shallow=False):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def _sync_tree(source: Path, target: Path) -> None:
    for path in source.rglob("*"):
        if "__pycache__" in path.parts or path.is_dir() or path in KERNELS:
            continue
        _sync_file(path, target / path.relative_to(source))
    for path in target.rglob("*"):  # files deleted in the source
        if path.is_file() and not (source / path.relative_to(target)).exists():
            path.unlink()


def without_jit(source: str) -> str:
    """The kernels' source with every `@njit(...)` line commented out, line numbers kept."""
    return JIT_DECORATOR.sub(lambda m: f"# {m.group(0)}  (off for mutation testing)", source)


def stage() -> Path:
    """Bring the staging copy up to date with the working tree; returns its folder."""
    root = stage_root()
    for folder in ("zvt_pipelines", "tests", "config"):
        _sync_tree(REPO / folder, root / folder)
    _sync_file(REPO / "pyproject.toml", root / "pyproject.toml")
    for kernels in KERNELS:
        staged = root / kernels.relative_to(REPO)
        text = without_jit(kernels.read_text())
        if not staged.exists() or staged.read_text() != text:
            staged.write_text(text)
    return root


def mutmut(root: Path, *args: str, jobs: int) -> subprocess.CompletedProcess:
    env = dict(os.environ, NUMBA_DISABLE_JIT="1", PYTHONDONTWRITEBYTECODE="1")
    shared = Path(os.environ.get("ZVT_SHARED_DATA", REPO.parent / "shared" / "data"))
    env["ZVT_SHARED_DATA"] = str(shared.resolve())
    command = ["nice", "-n", "19", str(Path(sys.executable).parent / "mutmut"), *args]
    if args[0] == "run":
        command[4:5] = ["run", "--max-children", str(jobs)]
    return subprocess.run(command, cwd=root, env=env, text=True, capture_output=args[0] != "run")


def statuses(root: Path) -> dict[str, Counter]:
    """Mutant statuses per module, from `mutmut results --all true`."""
    out = mutmut(root, "results", "--all", "true", jobs=1).stdout
    counts: dict[str, Counter] = {name: Counter() for name in MODULES.values()}
    for line in out.splitlines():
        name, _, status = line.strip().rpartition(": ")
        module = re.split(r"\.x_|\.xǁ", name)[0]
        if module in counts:
            counts[module][status] += 1
    return counts


def survivors(root: Path, *, unchecked: bool = False) -> list[str]:
    """`name: status` of every mutant that was tested and not killed (nor timed out);
    with `unchecked`, also those not tested yet (e.g. in functions changed since)."""
    out = mutmut(root, "results", jobs=1).stdout
    lines = (line.strip() for line in out.splitlines())
    skip = KILLED if unchecked else KILLED | {"not checked"}
    return [line for line in lines if line and line.rpartition(": ")[2] not in skip]


def report(root: Path) -> float:
    """Print the score per module and overall; returns the overall killed fraction."""
    rows = statuses(root)
    total_killed = total = 0
    print(f"{'module':<36} {'mutants':>8} {'killed':>7} {'survived':>9} {'other':>6} {'score':>7}")
    for module, counts in rows.items():
        n = sum(counts.values())
        killed = sum(counts[s] for s in KILLED)
        survived = counts["survived"]
        score = f"{100 * killed / n:6.1f}%" if n else "    n/a"
        print(f"{module:<36} {n:>8} {killed:>7} {survived:>9} {n - killed - survived:>6} {score}")
        total_killed, total = total_killed + killed, total + n
    overall = total_killed / total if total else float("nan")
    print(
        f"{'all listed modules':<36} {total:>8} {total_killed:>7} {'':>9} {'':>6} {100 * overall:6.1f}%"
    )
    left = survivors(root)
    if left:
        print("\nnot killed (`mutmut show <name>` in the staging folder shows the diff):")
        print("\n".join(f"  {line}" for line in left))
    return overall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help=f"any of {', '.join(MODULES)} (default: all)")
    parser.add_argument("--report", action="store_true", help="only print the last results")
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested in parallel")
    parser.add_argument(
        "--survivors", action="store_true", help="retest only the mutants not killed last time"
    )
    options = parser.parse_args()
    unknown = [name for name in options.modules if name not in MODULES]
    if unknown:
        parser.error(f"module(s) {unknown}: expected any of {', '.join(MODULES)}")
    root = stage()
    if not options.report:
        for name in options.modules or list(MODULES):
            print(f"== mutating {MODULES[name]} (in {root})", flush=True)
            targets = [f"{MODULES[name]}.*"]
            if options.survivors:
                left = [line.rpartition(": ")[0] for line in survivors(root, unchecked=True)]
                targets = [m for m in left if m.startswith(MODULES[name] + ".")]
                if not targets:
                    continue
            result = mutmut(root, "run", *targets, jobs=options.jobs)
            if result.returncode != 0:
                raise SystemExit(f"mutmut run for {name} failed with exit code {result.returncode}")
    report(root)


if __name__ == "__main__":
    main()
