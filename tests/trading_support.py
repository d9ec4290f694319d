"""Shared set-up of the trading-loop tests: a test strategy and a database of simulated candles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from zvt_pipelines.ingest.candles import ingest_range
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


def candle_database(
    folder: Path, instruments=("sim_a:BTC/USDT", "sim_b:BTC/USDT"), url: str | None = None
) -> Database:
    """A trading database (SQLite in `folder` unless `url` is given) holding two days of
    simulated 1m candles per instrument."""
    db = Database(url or f"sqlite:///{folder}/zvt.db")
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


def race_rebalance(url: str, entry_fields: dict, start, at_check, results) -> None:
    """One process of the race test: decide, meet the other process, then execute with a
    hook that waits for it again right after the "already sent" check (the worst point).

    `start` and `at_check` are multiprocessing barriers of two; `results` a managed list
    that receives (pid, met at the check point, order statuses).
    """
    import os
    import threading

    from zvt_pipelines.strategies import parse_strategies_config
    from zvt_pipelines.trading.rebalance import book_tops, execute_plan, plan_rebalance
    from zvt_pipelines.trading.services import as_of_for, strategy_venues

    entry = parse_strategies_config([fixed_weight(**entry_fields)]).strategies[0]
    db = Database(url)
    as_of = as_of_for(db, entry)
    venues = strategy_venues(db, MARKETS, entry, as_of)
    decided = plan_rebalance(db, entry, as_of, books=book_tops(venues, entry.instrument_ids()))
    start.wait(timeout=300)
    met = []

    def meet() -> None:
        try:
            at_check.wait(timeout=5)
            met.append(True)
        except threading.BrokenBarrierError:
            met.append(False)

    report = execute_plan(db, entry, decided, venues, after_check=meet)
    results.append((os.getpid(), met == [True], [o["status"] for o in report.orders]))
    db.dispose()


def race_replay(url: str, start, results) -> None:
    """One process of the replay race: rebuild the paper venue, meet the other process, then
    put the strategy "fixed"'s resting orders back and replay the candles since."""
    from zvt_pipelines.portfolio.accounts import account_balances, strategy_fills
    from zvt_pipelines.strategies import parse_strategies_config
    from zvt_pipelines.trading.resting_orders import restore_resting_orders
    from zvt_pipelines.trading.services import as_of_for
    from zvt_pipelines.venues.factory import trading_venues

    entry = parse_strategies_config([fixed_weight()]).strategies[0]
    db = Database(url)
    as_of = as_of_for(db, entry)
    balances = account_balances(
        entry.instrument_ids(), entry.capital, strategy_fills(db, entry.name)
    )
    venues = trading_venues(MARKETS, balances, clock=lambda: as_of.to_pydatetime())
    start.wait(timeout=300)
    still = restore_resting_orders(db, entry.name, venues, as_of)
    results.append(len(still))
    db.dispose()
