"""Where zvt keeps its state, from environment variables with embedded defaults.

`ZVT_HOME` (default `./.zvt`) holds the SQLite trading database, the Dagster instance
and the MLflow store; `ZVT_DATABASE_URL` switches the trading database to PostgreSQL;
`ZVT_MARKETS` points at the markets configuration (default `config/markets.yaml`),
`ZVT_STRATEGIES` at the strategies (default `config/strategies.yaml`); `MLFLOW_TRACKING_URI`
at an MLflow server (default SQLite under ZVT_HOME); `ZVT_DRIFT_THRESHOLD` (default 0.05 of
equity) and `ZVT_REBALANCE_CRON` (default hourly) steer the rebalance sensor and schedule.

The project root holds `config/` and the Dagster layer (`definitions.py`, `assets/`, ...):
`ZVT_PROJECT_ROOT` if set, else the checkout this package sits in, else the `zvt_project/`
folder a built wheel installs next to the package.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
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
    mlflow_tracking_uri: str | None = None
    database_url_from_env: bool = False  # ZVT_DATABASE_URL named it (Dagster: an EnvVar)
    drift_threshold: Decimal = Decimal("0.05")
    rebalance_cron: str = "0 * * * *"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def mlflow_uri(self) -> str:
        """MLFLOW_TRACKING_URI when set, else SQLite under ZVT_HOME."""
        return self.mlflow_tracking_uri or f"sqlite:///{self.home / 'mlflow.db'}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        home = Path(env.get("ZVT_HOME") or Path.cwd() / ".zvt").resolve()
        database_url = env.get("ZVT_DATABASE_URL") or f"sqlite:///{home / 'zvt.db'}"
        markets = Path(env.get("ZVT_MARKETS") or DEFAULT_MARKETS)
        strategies = Path(env.get("ZVT_STRATEGIES") or DEFAULT_STRATEGIES)
        return cls(
            home=home,
            database_url=database_url,
            markets_path=markets,
            strategies_path=strategies,
            mlflow_tracking_uri=env.get("MLFLOW_TRACKING_URI") or None,
            database_url_from_env=bool(env.get("ZVT_DATABASE_URL")),
            drift_threshold=_fraction(env.get("ZVT_DRIFT_THRESHOLD") or "0.05"),
            rebalance_cron=env.get("ZVT_REBALANCE_CRON") or "0 * * * *",
        )


def _fraction(text: str) -> Decimal:
    """ZVT_DRIFT_THRESHOLD as a Decimal in (0, 1], or a ConfigError naming the value."""
    from zvt_pipelines.errors import ConfigError

    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    if not (value.is_finite() and 0 < value <= 1):
        raise ConfigError(f"ZVT_DRIFT_THRESHOLD {text!r}: expected a fraction of equity in (0, 1]")
    return value
