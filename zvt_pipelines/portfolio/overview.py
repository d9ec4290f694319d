"""The portfolio report of the live strategies: performance, risk and attribution in one call.

Thin composition of `performance_table`, `risk_report` and `attribution_report` over the
trading database, so the Dagster assets and the risk sensor read the book the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from zvt_pipelines.portfolio.accounts import strategy_fills
from zvt_pipelines.portfolio.book_loader import replay_account
from zvt_pipelines.portfolio.holdings_risk import RiskReport, risk_report
from zvt_pipelines.portfolio.performance_table import performance_table
from zvt_pipelines.portfolio.strategy_attribution import attribution_report
from zvt_pipelines.portfolio.stress import Holding
from zvt_pipelines.storage.database import Database

ATTRIBUTION_WINDOW = pd.Timedelta(days=30)


def has_activity(db: Database, entry: Any) -> bool:
    """True when the strategy has any fill (so its book holds something to report)."""
    return bool(strategy_fills(db, entry.name))


def portfolio_entries(db: Database, strategies: Iterable[Any]) -> list[Any]:
    """The strategies the portfolio reports on: every enabled one, plus a disabled one that
    has traded (a paused or stopped strategy may still hold). A disabled strategy that never
    traded holds only its notional capital, which is no money under management."""
    return [entry for entry in strategies if entry.enabled or has_activity(db, entry)]


def current_holdings(db: Database, strategies: Iterable[Any], as_of: pd.Timestamp) -> list[Holding]:
    """Every strategy's balances at `as_of` as holdings per venue and asset (summed)."""
    totals: dict[tuple[str, str], float] = {}
    for entry in strategies:
        for holding in replay_account(db, entry, as_of).holdings():
            key = (holding.venue, holding.asset)
            totals[key] = totals.get(key, 0.0) + holding.value
    return [Holding(venue, asset, value) for (venue, asset), value in sorted(totals.items())]


def stale_marks(db: Database, strategies: Iterable[Any], as_of: pd.Timestamp) -> dict[str, Any]:
    """Held instruments marked at a stale price, per strategy: price, source and age (seconds)."""
    found: dict[str, Any] = {}
    for entry in strategies:
        marks = replay_account(db, entry, as_of).stale_marks()
        if marks:
            found[entry.name] = {
                str(instrument): {
                    "price": str(mark.price),
                    "source": mark.source,
                    "known_at": mark.known_at.isoformat(),
                    "age_seconds": mark.age.total_seconds(),
                }
                for instrument, mark in marks.items()
            }
    return found


def attribution_window(
    as_of: pd.Timestamp, window: pd.Timedelta = ATTRIBUTION_WINDOW
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The [start, end) of the whole UTC days of `window` that ended by `as_of`."""
    end = as_of.tz_convert("UTC").floor("D")
    return end - window, end


@dataclass(frozen=True)
class PortfolioReport:
    """Performance rows, risk of the current holdings and attribution, at one moment."""

    as_of: pd.Timestamp
    performance: pd.DataFrame
    risk: RiskReport
    attribution: pd.DataFrame


def build_report(
    db: Database,
    strategies: Iterable[Any],
    as_of: pd.Timestamp,
    window: pd.Timedelta = ATTRIBUTION_WINDOW,
    paths: int = 20_000,
) -> PortfolioReport:
    """Rebuild the accounts of the `portfolio_entries` at `as_of` and report on them (nothing
    is written)."""
    entries = portfolio_entries(db, strategies)
    start, end = attribution_window(as_of, window)
    return PortfolioReport(
        as_of=as_of,
        performance=performance_table(db, entries, as_of),
        risk=risk_report(
            db,
            current_holdings(db, entries, as_of),
            as_of,
            strategies=[e.name for e in entries],
            paths=paths,
        ),
        attribution=attribution_report(db, entries, start, end),
    )
