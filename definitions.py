"""The composition root: the one `Definitions` object that `workspace.yaml` loads.

Resources are chosen here from the environment (see README): the trading database
from ZVT_DATABASE_URL (default SQLite under ZVT_HOME), the markets file from
ZVT_MARKETS (default config/markets.yaml: simulated venues, no network), the strategies
from ZVT_STRATEGIES (default config/strategies.yaml), MLflow from
MLFLOW_TRACKING_URI (default SQLite under ZVT_HOME).
"""

import logging
import os

import dagster as dg

from assets.market_data import build_market_data
from assets.portfolio import HEDGE_ASSETS, PORTFOLIO_ASSETS, PORTFOLIO_JOBS
from assets.research import RESEARCH_ASSETS, RESEARCH_JOBS
from assets.trading import TRADING_ASSETS, rebalance_job
from resources.alerting import AlertingResource, build_alerting_resource
from resources.database import TradingDatabase
from resources.markets import MarketsResource
from resources.mlflow import MlflowTracking
from resources.strategies import StrategiesResource
from sensors.alerts import ALERT_SENSORS
from sensors.risk import RISK_SENSORS
from sensors.trading import TRADING_JOBS, TRADING_SCHEDULES, TRADING_SENSORS
from zvt_pipelines.alerts.services import check_alerting
from zvt_pipelines.errors import AlertConfigError
from zvt_pipelines.markets import load_markets_config
from zvt_pipelines.settings import Settings

log = logging.getLogger(__name__)


def warn_about_alerting(alerting: AlertingResource) -> None:
    """Log, at load, a critical alert falling back to other channels (as `zvt alerts check`
    does) or a misconfigured channel; the embedded default with no channel stays quiet. Never
    stops the code location loading."""
    try:
        check = check_alerting(os.environ, alerting.routing())
    except AlertConfigError as exc:
        log.warning("alerting: %s", exc)
        return
    if check.configured:
        for warning in check.warnings:
            log.warning("alerting: %s", warning)


def database_url(settings: Settings) -> str | dg.EnvVar:
    """ZVT_DATABASE_URL as an `EnvVar` (read when a run starts, never stored in run config)
    when it is set; else the embedded SQLite URL under ZVT_HOME."""
    return (
        dg.EnvVar("ZVT_DATABASE_URL") if settings.database_url_from_env else settings.database_url
    )


def build_definitions(settings: Settings) -> dg.Definitions:
    """Assemble every domain's assets, checks, jobs, sensors and resources."""
    markets = load_markets_config(settings.markets_path)
    alerting = build_alerting_resource(settings.database_url)
    warn_about_alerting(alerting)
    market_data = build_market_data(markets)
    return dg.Definitions(
        assets=[
            *market_data.assets,
            *TRADING_ASSETS,
            *PORTFOLIO_ASSETS,
            *HEDGE_ASSETS,
            *RESEARCH_ASSETS,
        ],
        asset_checks=market_data.checks,
        jobs=[market_data.job, rebalance_job, *TRADING_JOBS, *PORTFOLIO_JOBS, *RESEARCH_JOBS],
        sensors=[*TRADING_SENSORS, *RISK_SENSORS, *ALERT_SENSORS],
        schedules=[market_data.schedule, *TRADING_SCHEDULES],
        resources={
            "database": TradingDatabase(url=database_url(settings)),
            "markets": MarketsResource(config_path=str(settings.markets_path)),
            "strategies": StrategiesResource(config_path=str(settings.strategies_path)),
            "mlflow": MlflowTracking(tracking_uri=settings.mlflow_uri, zvt_home=str(settings.home)),
            "alerting": alerting,
        },
    )


defs = build_definitions(Settings.from_env())
