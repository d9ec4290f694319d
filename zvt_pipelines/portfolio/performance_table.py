"""Daily performance per strategy, venue, asset and for the whole portfolio.

Every row is a slice of the book with a capital base and a cumulative PnL (quote currency):

* strategy / venue / portfolio: the strategy accounts in the slice; `capital` is what they
  were funded with, `total_value` their equity (capital + fills marked at the last close)
  and ``pnl = total_value − capital``;
* asset: every position in that base asset; `pnl` is its realised + unrealised PnL (FIFO,
  net of fees), `total_value` the market value held, and `capital` that of the accounts
  trading it (so an asset's return is its contribution on the money that could trade it).

``total_return = pnl / capital``. The daily return series is rebuilt from the stored live
rows of the same scope and name (their `details` keep `capital` and `pnl`) plus today:
``r_0 = pnl_0 / capital_0`` and ``r_t = (pnl_t − pnl_{t−1}) / (capital_t + pnl_{t−1})``, so for
the equity scopes it is exactly the day-over-day change of `total_value`. Sharpe, Sortino and
drawdowns come from `analytics.metrics` on that series (NaN with fewer than 2 returns);
win rate and average win / average loss from the realised PnL of each closed lot.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from zvt_pipelines.analytics import metrics
from zvt_pipelines.portfolio.book_loader import ZERO, StrategyAccount, replay_account, to_float
from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.performance import load_performance, record_performance

SCOPES = ("strategy", "venue", "asset", "portfolio")
PORTFOLIO = "portfolio"
MIN_RETURNS = 2  # daily returns needed before Sharpe, Sortino and max drawdown mean anything
COLUMNS = [
    "scope",
    "name",
    "day",
    "capital",
    "total_value",
    "pnl",
    "daily_pnl",
    "total_return",
    "sharpe",
    "sortino",
    "max_drawdown",
    "drawdown",
    "win_rate",
    "avg_win_loss_ratio",
    "trades",
    "fees",
    "days",
]


@dataclass
class _Slice:
    """What one row adds up before its metrics are computed."""

    capital: Decimal = ZERO
    value: Decimal = ZERO
    pnl: Decimal = ZERO
    fees: Decimal = ZERO
    trades: int = 0
    closed_pnl: list[Decimal] = field(default_factory=list)
    accounts: set[tuple[str, str]] = field(default_factory=set)


def _collect(accounts: Iterable[StrategyAccount]) -> dict[tuple[str, str], _Slice]:
    slices: dict[tuple[str, str], _Slice] = defaultdict(_Slice)
    for account in accounts:
        equity_slices = [("strategy", account.name), ("portfolio", PORTFOLIO)]
        for key in equity_slices:
            part = slices[key]
            part.capital += account.capital_on()
            part.value += account.equity()
        for venue in account.venues:
            part = slices[("venue", venue)]
            part.capital += account.capital_on(venue)
            part.value += account.equity(venue)
        for key, position in account.positions.items():
            part = slices[("asset", position.base)]
            if (account.name, key.venue) not in part.accounts:
                part.accounts.add((account.name, key.venue))
                part.capital += account.capital_on(key.venue)
            marked = position.mark_price is not None or position.quantity == 0
            unrealised = position.unrealised_pnl() if marked else ZERO
            part.pnl += position.realised_pnl + unrealised
            part.value += position.notional() * (1 if position.quantity >= 0 else -1)
            lots = [lot.realised_pnl for lot in account.closed.get(key, [])]
            trades = sum(1 for f in account.fills if (f.venue, f.symbol) == (key.venue, key.symbol))
            for target in (
                part,
                slices[("strategy", account.name)],
                slices[("venue", key.venue)],
                slices[("portfolio", PORTFOLIO)],
            ):
                target.fees += position.fees_paid
                target.trades += trades
                target.closed_pnl += lots
    for (scope, _), part in slices.items():
        if scope != "asset":
            part.pnl = part.value - part.capital
    return slices


def _history(db: Database, scope: str, name: str, day: date) -> list[tuple[Decimal, Decimal]]:
    """(capital, pnl) of the stored live rows of this slice before `day`, oldest first."""
    rows = [
        row
        for row in load_performance(db, scope=scope, name=name)
        if row.run_id == "" and row.date < day and {"capital", "pnl"} <= set(row.details or {})
    ]
    rows.sort(key=lambda row: row.date)
    return [(Decimal(row.details["capital"]), Decimal(row.details["pnl"])) for row in rows]


def daily_returns(history: list[tuple[Decimal, Decimal]]) -> np.ndarray:
    """The return series of (capital, cumulative pnl) points, by the module docstring's rule."""
    returns = []
    previous = ZERO
    for capital, pnl in history:
        base = capital + previous
        returns.append(to_float((pnl - previous) / base) if base != 0 else float("nan"))
        previous = pnl
    return np.array(returns, dtype=np.float64)


def _win_loss(closed_pnl: list[Decimal]) -> tuple[float, float]:
    stats = metrics.trade_statistics([to_float(p) for p in closed_pnl])
    ratio = stats.average_win / abs(stats.average_loss)
    return stats.win_rate, float(ratio)


def _row(scope: str, name: str, day: date, part: _Slice, db: Database) -> dict[str, Any]:
    history = _history(db, scope, name, day)
    previous_pnl = history[-1][1] if history else ZERO
    returns = daily_returns([*history, (part.capital, part.pnl)])
    enough = returns.size >= MIN_RETURNS
    win_rate, ratio = _win_loss(part.closed_pnl)
    return {
        "scope": scope,
        "name": name,
        "day": day,
        "capital": part.capital,
        "total_value": part.value,
        "pnl": part.pnl,
        "daily_pnl": part.pnl - previous_pnl,
        "total_return": to_float(part.pnl / part.capital) if part.capital else float("nan"),
        "sharpe": metrics.sharpe_ratio(returns),
        "sortino": metrics.sortino_ratio(returns),
        "max_drawdown": metrics.max_drawdown(returns) if enough else float("nan"),
        "drawdown": float(metrics.drawdown_series(returns)[-1]),
        "win_rate": win_rate,
        "avg_win_loss_ratio": ratio,
        "trades": part.trades,
        "fees": part.fees,
        "days": int(returns.size),
    }


def performance_table(
    db: Database, strategies: Iterable[Any], as_of: pd.Timestamp, day: date | None = None
) -> pd.DataFrame:
    """One row per strategy, venue, asset and for the portfolio (columns `COLUMNS`).

    `strategies` are strategy entries (`name`, `capital`, `instrument_ids()`); `as_of` is the
    moment the accounts are rebuilt at (fills before it, marks closed by it); `day` (default
    the UTC date of `as_of`) is the day the row stands for, history being the stored rows
    of earlier days. Money columns are Decimal, ratios float (NaN when undefined).
    """
    day = day or as_of.tz_convert("UTC").date()
    slices = _collect(replay_account(db, entry, as_of) for entry in strategies)
    order = {scope: i for i, scope in enumerate(SCOPES)}
    keys = sorted(slices, key=lambda key: (order[key[0]], key[1]))
    rows = [_row(scope, name, day, slices[(scope, name)], db) for scope, name in keys]
    return pd.DataFrame(rows, columns=COLUMNS)


def persist_performance(
    db: Database, table: pd.DataFrame, day: date | None = None, run_id: str = ""
) -> int:
    """Write every row of a `performance_table` to `strategy_performance`; return the count.

    Each (scope, name, day, run_id) row is replaced, so a re-run of the same day overwrites.
    """
    for row in table.itertuples(index=False):
        record_performance(
            db,
            scope=row.scope,
            name=row.name,
            day=day or row.day,
            total_value=row.total_value,
            metrics={
                "total_return": row.total_return,
                "sharpe": row.sharpe,
                "sortino": row.sortino,
                "max_drawdown": row.max_drawdown,
                "win_rate": row.win_rate,
                "avg_win_loss_ratio": row.avg_win_loss_ratio,
            },
            run_id=run_id,
            daily_pnl=row.daily_pnl,
            trades=int(row.trades),
            fees=row.fees,
            details={
                "capital": str(row.capital),
                "pnl": str(row.pnl),
                "drawdown": row.drawdown,
                "days": int(row.days),
            },
        )
    return len(table)
