"""`zvt demo` from a built wheel: the core reaches the Dagster layer without the checkout.

The wheel is built from this checkout, installed into a fresh venv (the locked dependency
versions, from uv's cache), and `zvt demo --days 1` runs from a folder outside the checkout
with a temporary ZVT_HOME. The Dagster layer ships under `zvt_project/`, so the generic
names `assets`, `sensors` and `resources` stay unimportable in that venv.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _uv() -> str:
    local = REPO / ".tools" / "bin" / "uv"
    found = str(local) if local.is_file() else shutil.which("uv")
    if found is None:
        pytest.skip("uv is not installed (make setup bootstraps it into .tools/)")
    return found


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    out = subprocess.run(args, capture_output=True, text=True, timeout=900, **kwargs)
    assert out.returncode == 0, f"{args[:3]}: {out.stdout[-3000:]}{out.stderr[-3000:]}"
    return out


def test_demo_runs_from_a_wheel_installed_outside_the_checkout(tmp_path):
    uv = _uv()
    wheels, venv, work, home = (tmp_path / n for n in ("dist", "venv", "elsewhere", "home"))
    work.mkdir()
    _run([uv, "build", "--wheel", "--quiet", "-o", str(wheels)], cwd=REPO)
    (wheel,) = wheels.glob("zvt_pipelines-*.whl")
    requirements = tmp_path / "requirements.txt"
    _run(
        [uv, "export", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes", "--quiet"]
        + ["-o", str(requirements)],
        cwd=REPO,
    )
    _run([uv, "venv", "--quiet", str(venv), "--python", sys.executable])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZVT_", "DAGSTER_", "MLFLOW_"))}
    env.pop("PYTHONPATH", None)
    _run(
        [uv, "pip", "install", "--quiet", "-r", str(requirements), str(wheel)],
        env={**env, "VIRTUAL_ENV": str(venv)},
    )

    out = _run(
        [str(venv / "bin" / "zvt"), "demo", "--days", "1"],
        cwd=work,
        env={**env, "ZVT_HOME": str(home)},
    )

    assert "FAILED" not in out.stdout
    assert str(REPO) not in out.stdout  # the Dagster layer came from the wheel
    engine = sa.create_engine(f"sqlite:///{home / 'zvt.db'}")
    with engine.connect() as conn:
        # one UTC day of 1m candles for each of the 4 default instruments: 4 * 1440
        candles = conn.execute(
            sa.text("select count(*) from market_ohlcv where timeframe = '1m'")
        ).scalar()
        strategies = conn.execute(sa.text("select count(*) from strategy_status")).scalar()
    engine.dispose()
    assert candles == 4 * 1440
    assert strategies >= 5
    for generic in ("assets", "sensors", "resources", "definitions", "launch"):
        probe = subprocess.run(
            [str(venv / "bin" / "python"), "-c", f"import {generic}"],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
        )
        assert "ModuleNotFoundError" in probe.stderr, generic
