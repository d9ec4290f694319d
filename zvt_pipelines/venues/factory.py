"""Build the candle source of every venue named in the markets configuration."""

from __future__ import annotations

import pandas as pd

from zvt_pipelines.markets import MarketsConfig
from zvt_pipelines.venues.base import CandleSource
from zvt_pipelines.venues.file_source import FileSource


def build_sources(config: MarketsConfig) -> dict[str, CandleSource]:
    """One source per venue: simulated venues share one simulator (one underlying price)."""
    sources: dict[str, CandleSource] = {}
    simulated = [name for name, venue in config.venues.items() if venue.kind == "simulated"]
    if simulated:
        from zvt_pipelines.venues.simulated import SimulatedVenue
        from zvt_pipelines.venues.simulator import MarketSimulator

        symbols = sorted({i.symbol for i in config.instrument_ids() if i.venue in simulated})
        simulator = MarketSimulator(
            seed=config.simulator.seed,
            venues=simulated,
            symbols=symbols,
            origin=pd.Timestamp(config.simulator.origin, tz="UTC"),
        )
        for name in simulated:
            sources[name] = SimulatedVenue(name, simulator)
    for name, venue in config.venues.items():
        if venue.kind == "file":
            sources[name] = FileSource(name, config.folder_of(name), venue.pattern, venue.exchange)
        elif venue.kind == "ccxt":
            from zvt_pipelines.venues.ccxt_venue import CcxtVenue
            from zvt_pipelines.venues.credentials import load_credentials

            sources[name] = CcxtVenue(
                venue.exchange or name, credentials=load_credentials(name), options=venue.options
            )
    return sources
