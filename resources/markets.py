"""Markets configuration and candle sources (simulated, ccxt or files) as a Dagster resource."""

from functools import cache

import dagster as dg

from zvt_pipelines.markets import MarketsConfig, load_markets_config
from zvt_pipelines.venues.base import CandleSource
from zvt_pipelines.venues.factory import build_sources


class MarketsResource(dg.ConfigurableResource):
    """Reads the markets file and builds one candle source per venue."""

    config_path: str

    def config(self) -> MarketsConfig:
        return load_markets_config(self.config_path)

    def source(self, venue: str) -> CandleSource:
        """The candle source of a venue named in the markets file."""
        return _sources(self.config_path)[venue]


@cache
def _sources(config_path: str) -> dict[str, CandleSource]:
    return build_sources(load_markets_config(config_path))
