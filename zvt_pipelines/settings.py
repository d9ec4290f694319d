"""Where zvt keeps its state, from environment variables with embedded defaults.

`ZVT_HOME` (default `./.zvt`) holds the SQLite trading database, the Dagster instance
and the MLflow store; `ZVT_DATABASE_URL` switches the trading database to PostgreSQL;
`ZVT_MARKETS` points at the markets configuration (default `config/markets.yaml`),
`ZVT_STRATEGIES` at the strategies (default `config/strategies.yaml`).

The project root holds `config/` and the Dagster layer (`definitions.py`, `assets/`, ...):
`ZVT_PROJECT_ROOT` if set, else the checkout this package sits in, else the `zvt_project/`
folder a built wheel installs next to the package.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

WHEEL_PROJECT_FOLDER = "zvt_project"


def project_root(env: Mapping[str, str] = os.environ) -> Path:
    """The folder holding `config/` and the Dagster layer (see the module docstring)."""
    if env.get("ZVT_PROJECT_ROOT"):
        return Path(env["ZVT_PROJECT_ROOT"]).resolve()
    beside_package = Path(__file__).resolve().parent.parent
    if (beside_package / "definitions.py").is_file():
        return beside_package
    return beside_package / WHEEL_PROJECT_FOLDER


PROJECT_ROOT = project_root()
DEFAULT_MARKETS = PROJECT_ROOT / "config" / "markets.yaml"
DEFAULT_STRATEGIES = PROJECT_ROOT / "config" / "strategies.yaml"


@dataclass(frozen=True)
class Settings:
    """Resolved locations of everything zvt reads and writes."""

    home: Path
    database_url: str
    markets_path: Path
    strategies_path: Path = DEFAULT_STRATEGIES

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def mlflow_uri(self) -> str:
        return f"sqlite:///{self.home / 'mlflow.db'}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        home = Path(env.get("ZVT_HOME") or Path.cwd() / ".zvt").resolve()
        database_url = env.get("ZVT_DATABASE_URL") or f"sqlite:///{home / 'zvt.db'}"
        markets = Path(env.get("ZVT_MARKETS") or DEFAULT_MARKETS)
        strategies = Path(env.get("ZVT_STRATEGIES") or DEFAULT_STRATEGIES)
        return cls(
            home=home, database_url=database_url, markets_path=markets, strategies_path=strategies
        )
