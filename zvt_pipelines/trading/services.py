"""Entry points shared by the CLI and the Dagster jobs: rebalance, reconcile, stop a strategy.

A rebalance reconciles the strategy with its venues first (`trading/reconciliation.py`), so
it decides on an account that holds every fill the venues made, even those of a process
killed before it recorded them.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from zvt_pipelines.errors import DataError
from zvt_pipelines.markets import MarketsConfig
from zvt_pipelines.portfolio.accounts import account_balances, strategy_fills
from zvt_pipelines.storage.database import Database
from zvt_pipelines.strategies.config import StrategyConfig
from zvt_pipelines.trading.emergency import StopReport, emergency_stop
from zvt_pipelines.trading.market_view import CandleCache, latest_close
from zvt_pipelines.trading.rebalance import (
    ExecutionReport,
    book_tops,
    execute_plan,
    plan_rebalance,
    store_targets,
    update_positions,
)
from zvt_pipelines.trading.rebalance_quality import record_execution_quality
from zvt_pipelines.trading.reconciliation import ReconciliationReport, reconcile_strategy
from zvt_pipelines.trading.resting_orders import restore_resting_orders
from zvt_pipelines.venues.base import FaultHook
from zvt_pipelines.venues.factory import trading_venues

log = logging.getLogger(__name__)


def as_of_for(db: Database, entry: StrategyConfig) -> pd.Timestamp:
    """The latest moment all the strategy's instruments have closed candles for."""
    as_of = latest_close(db, entry.instrument_ids())
    if as_of is None:
        raise DataError(
            f"strategy {entry.name!r}: no candles of {entry.symbols} yet; ingest market data first"
        )
    return as_of


def strategy_venues(
    db: Database,
    markets: MarketsConfig,
    entry: StrategyConfig,
    as_of: pd.Timestamp,
    cache: CandleCache | None = None,
    replay: bool = True,
    fault_hook: FaultHook | None = None,
) -> dict[str, Any]:
    """The strategy's venues at `as_of`, funded from its fills, with its resting orders put
    back and (unless an earlier step of the run did) the candles since played through them
    (their fills recorded). `fault_hook` goes to every venue (fault-injection tests only)."""
    balances = account_balances(
        entry.instrument_ids(), entry.capital, strategy_fills(db, entry.name)
    )
    venues = trading_venues(markets, balances, clock=lambda: as_of.to_pydatetime())
    for venue in venues.values():
        venue.fault_hook = fault_hook
    restore_resting_orders(db, entry.name, venues, as_of, cache, replay)
    return venues


def reconcile_venues(
    db: Database, entry: StrategyConfig, venues: dict[str, Any], as_of: pd.Timestamp
) -> ReconciliationReport:
    """Reconcile `entry` on its venues (built by `strategy_venues`); log what was repaired
    (as a warning: a repair means a run ended before recording what it did)."""
    report = reconcile_strategy(db, entry, venues, lambda: as_of.to_pydatetime())
    if report.repaired or report.needs_attention:
        log.warning("reconciliation: %s", report.summary())
    return report


def reconcile_now(
    db: Database, markets: MarketsConfig, entry: StrategyConfig, cache: CandleCache | None = None
) -> ReconciliationReport:
    """Reconcile `entry` now (`zvt reconcile`): at its latest closed candle, or at the wall
    clock when it has none. Fills of resting paper orders replayed on the way are counted."""
    as_of = latest_close(db, entry.instrument_ids()) or pd.Timestamp.now(tz="UTC").floor("min")
    before = len(strategy_fills(db, entry.name))
    venues = strategy_venues(db, markets, entry, as_of, cache)
    replayed = len(strategy_fills(db, entry.name)) - before
    report = reconcile_strategy(db, entry, venues, lambda: as_of.to_pydatetime())
    report.fills_recorded += replayed
    return report


def rebalance_now(
    db: Database,
    markets: MarketsConfig,
    entry: StrategyConfig,
    cache: CandleCache | None = None,
    fault_hook: FaultHook | None = None,
) -> ExecutionReport:
    """Reconcile, plan, store targets, execute, measure execution quality and update
    positions, in one call. `fault_hook` is for the fault-injection tests (None otherwise)."""
    as_of = as_of_for(db, entry)
    venues = strategy_venues(db, markets, entry, as_of, cache, fault_hook=fault_hook)
    reconcile_venues(db, entry, venues, as_of)
    decided = plan_rebalance(db, entry, as_of, cache, book_tops(venues, entry.instrument_ids()))
    store_targets(db, decided)
    report = execute_plan(db, entry, decided, venues)
    record_execution_quality(db, report, cache)
    if fault_hook is not None:
        fault_hook("before_positions")
    update_positions(db, entry, decided.prices, as_of.to_pydatetime())
    return report


def stop_now(
    db: Database, markets: MarketsConfig, entry: StrategyConfig, flatten: bool, actor: str
) -> StopReport:
    """Emergency-stop `entry` on the venues it trades, at the latest closed candle."""
    as_of = as_of_for(db, entry)
    balances = account_balances(
        entry.instrument_ids(), entry.capital, strategy_fills(db, entry.name)
    )
    venues = trading_venues(markets, balances, clock=lambda: as_of.to_pydatetime())
    return emergency_stop(
        db, entry.name, venues, lambda: as_of.to_pydatetime(), flatten=flatten, actor=actor
    )
