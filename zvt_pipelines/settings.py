"""Where zvt keeps its state, from environment variables with embedded defaults.

`ZVT_HOME` (default `./.zvt`) holds the SQLite trading database, the Dagster instance
and the MLflow store; `ZVT_DATABASE_URL` switches the trading database to PostgreSQL;
`ZVT_MARKETS` points at the markets configuration (default `config/markets.yaml`),
`ZVT_STRATEGIES` at the strategies (default `config/strategies.yaml`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MARKETS = REPO_ROOT / "config" / "markets.yaml"
DEFAULT_STRATEGIES = REPO_ROOT / "config" / "strategies.yaml"


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
