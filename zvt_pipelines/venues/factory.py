"""Build the venues named in the markets configuration: candle sources and trading venues."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

import pandas as pd

from zvt_pipelines.errors import ConfigError
from zvt_pipelines.markets import MarketsConfig
from zvt_pipelines.venues.base import CandleSource
from zvt_pipelines.venues.file_source import FileSource


@cache
def _simulator(
    seed: int, origin: pd.Timestamp, venues: tuple[str, ...], symbols: tuple[str, ...]
) -> Any:
    """One simulator per configuration and process, so its day cache is shared."""
    from zvt_pipelines.venues.simulator.market import MarketSimulator

    return MarketSimulator(seed=seed, venues=list(venues), symbols=list(symbols), origin=origin)


def simulator_for(config: MarketsConfig) -> Any:
    """The market simulator shared by every simulated venue of the configuration."""
    simulated = tuple(name for name, venue in config.venues.items() if venue.kind == "simulated")
    symbols = tuple(sorted({i.symbol for i in config.instrument_ids() if i.venue in simulated}))
    return _simulator(
        config.simulator.seed, pd.Timestamp(config.simulator.origin, tz="UTC"), simulated, symbols
    )


def build_sources(
    config: MarketsConfig, clock: Callable[[], datetime] | None = None
) -> dict[str, CandleSource]:
    """One source per venue: simulated venues share one simulator (one underlying price);
    `clock` pins the simulated venues' "now" (replay), default the wall clock."""
    sources: dict[str, CandleSource] = {}
    for name, venue in config.venues.items():
        if venue.kind == "simulated":
            from zvt_pipelines.venues.simulator.venue import SimulatedVenue

            sources[name] = SimulatedVenue(name, simulator_for(config), clock=clock)
        elif venue.kind == "file":
            sources[name] = FileSource(name, config.folder_of(name), venue.pattern, venue.exchange)
        else:
            from zvt_pipelines.venues.ccxt_venue import CcxtVenue
            from zvt_pipelines.venues.credentials import load_credentials

            sources[name] = CcxtVenue(
                venue.exchange or name,
                credentials=load_credentials(name),
                options=venue.options,
                urls=venue.urls or None,
            )
            if venue.sandbox:  # the exchange's testnet, where ccxt knows one
                sources[name].exchange.set_sandbox_mode(True)
    return sources


def trading_venues(
    config: MarketsConfig,
    balances: dict[str, dict[str, Decimal]],
    clock: Callable[[], datetime],
    fee_bps: Decimal = Decimal(10),
) -> dict[str, Any]:
    """Venues a strategy can trade on: paper venues (a matching engine over the venue's own
    book, with the given balances) unless a ccxt venue is configured `trading: live`."""
    from zvt_pipelines.venues.paper import PaperVenue

    sources = build_sources(config, clock)
    venues: dict[str, Any] = {}
    for name in balances:
        if name not in config.venues:
            raise ConfigError(
                f"venue {name!r}: not in the markets file (known: {', '.join(config.venues)})"
            )
        settings = config.venues[name]
        if settings.kind == "file":
            raise ConfigError(
                f"venue {name!r}: a file venue has candles only; strategies cannot trade on it"
            )
        if settings.kind == "ccxt" and settings.trading == "live":
            venues[name] = sources[name]
        else:
            venues[name] = PaperVenue(
                sources[name],
                balances[name],
                venue_id=name,
                maker_bps=fee_bps,
                taker_bps=fee_bps,
                clock=clock,
            )
    return venues
