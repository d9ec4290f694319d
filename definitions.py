"""The composition root: the one `Definitions` object that `workspace.yaml` loads.

Resources are chosen here from the environment (see README): the trading database
from ZVT_DATABASE_URL (default SQLite under ZVT_HOME) and the markets file from
ZVT_MARKETS (default config/markets.yaml: simulated venues, no network).
"""

import dagster as dg

from assets.market_data import build_market_data
from resources.database import TradingDatabase
from resources.markets import MarketsResource
from zvt_pipelines.markets import load_markets_config
from zvt_pipelines.settings import Settings


def build_definitions(settings: Settings) -> dg.Definitions:
    """Assemble every domain's assets, checks, jobs, sensors and resources."""
    markets = load_markets_config(settings.markets_path)
    market_data = build_market_data(markets)
    return dg.Definitions(
        assets=market_data.assets,
        asset_checks=market_data.checks,
        jobs=[market_data.job],
        resources={
            "database": TradingDatabase(url=settings.database_url),
            "markets": MarketsResource(config_path=str(settings.markets_path)),
        },
    )


defs = build_definitions(Settings.from_env())
