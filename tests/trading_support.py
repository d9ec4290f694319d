"""Shared set-up of the trading-loop tests: a test strategy and a database of simulated candles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from zvt_pipelines.data.ingest import ingest_range
from zvt_pipelines.markets import load_markets_config
from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.settings import DEFAULT_MARKETS
from zvt_pipelines.storage.database import Database
from zvt_pipelines.strategies import BarStrategy, StrategyParams, register_strategy
from zvt_pipelines.venues.factory import build_sources

DAYS = ("2025-03-01", "2025-03-02")
MARKETS = load_markets_config(DEFAULT_MARKETS)


class FixedWeightParams(StrategyParams):
    weight: float = 1.0


@register_strategy("fixed_weight_test")
class FixedWeight(BarStrategy):
    """Holds `weight` of equity at every bar: the simplest strategy whose targets are known."""

    params_model = FixedWeightParams

    def target_series(self, frame: pd.DataFrame) -> np.ndarray:
        return np.full(len(frame), self.params.weight)


def candle_database(folder: Path, instruments=("sim_a:BTC/USDT", "sim_b:BTC/USDT")) -> Database:
    """A SQLite trading database holding two days of simulated 1m candles per instrument."""
    db = Database(f"sqlite:///{folder}/zvt.db")
    db.upgrade()
    sources = build_sources(MARKETS)
    start = pd.Timestamp(DAYS[0], tz="UTC")
    end = pd.Timestamp(DAYS[-1], tz="UTC") + pd.Timedelta(days=1)
    for text in instruments:
        instrument = InstrumentId.parse(text)
        ingest_range(db, sources[instrument.venue], instrument, "1m", start, end)
    return db


def write_strategies(path: Path, entries: list[dict]) -> Path:
    """A strategies file; `modules` lets a fresh process (the daemon) know the test family."""
    document = {"modules": ["tests.trading_support"], "strategies": entries}
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def fixed_weight(name: str = "fixed", weight: float = 1.0, **extra) -> dict:
    return {
        "name": name,
        "type": "fixed_weight_test",
        "symbol": "sim_a:BTC/USDT",
        "amount_per_trade": 100,
        "capital": 10_000,
        "frequency": "1h",
        "params": {"weight": weight},
        **extra,
    }
