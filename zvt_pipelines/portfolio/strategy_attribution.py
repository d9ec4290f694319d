"""Each strategy's return over a window against BTC buy-and-hold and an equal-weight index.

Periods are the candles of `timeframe` (default daily) opening in the window; boundary k is
the close of candle k, where the strategy's holdings are its fills before that moment and
a fill at that very moment counts (a rebalance trades on the close), and
each asset is priced at the close of its first instrument in the strategy entry (the same
price on every venue). Segments are the traded assets, BTC, and the quote currency as cash.

* Brinson-Fachler (`attribution.attribute`) on beginning-of-period value weights and the
  assets' price returns. Benchmark and portfolio hold the same markets, so selection and
  interaction are zero and the active return is allocation + timing; the effects sum to
  ``strategy_return − benchmark_return`` where `strategy_return` is the holdings-based return.
* Transaction-cost analysis: ``return_after_fees = E_T / E_0 − 1`` of the account equity,
  ``return_before_fees = (E_T + fees) / E_0 − 1`` with the fees paid inside the window,
  ``fee_drag`` their difference and ``trading_effect = return_before_fees − strategy_return``
  (what trading inside the periods added at its fill prices, beyond the held weights).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from zvt_pipelines.model.instrument import InstrumentId, symbol_currencies
from zvt_pipelines.model.money import decimal_from_float
from zvt_pipelines.model.timeframe import timeframe_ms
from zvt_pipelines.portfolio.accounts import account_balances, account_equity, strategy_fills
from zvt_pipelines.portfolio.attribution import (
    EFFECTS,
    Benchmark,
    attribute,
    buy_and_hold_benchmark,
    equal_weight_benchmark,
)
from zvt_pipelines.portfolio.book_loader import JUST_AFTER, ZERO, closes, to_float
from zvt_pipelines.portfolio.positions import fill_flow
from zvt_pipelines.storage.database import Database

BENCHMARK_ASSET = "BTC"
COLUMNS = [
    "strategy",
    "benchmark",
    "periods",
    "strategy_return",
    "benchmark_return",
    "active_return",
    *EFFECTS,
    "return_before_fees",
    "return_after_fees",
    "fees",
    "fee_drag",
    "trading_effect",
]


def _price_instruments(entry: Any, quote: str) -> dict[str, InstrumentId]:
    """The instrument that prices each traded asset, and BTC on the strategy's first venue."""
    found: dict[str, InstrumentId] = {}
    for instrument in entry.instrument_ids():
        found.setdefault(instrument.base, instrument)
    if BENCHMARK_ASSET not in found:
        venue = entry.instrument_ids()[0].venue
        found[BENCHMARK_ASSET] = InstrumentId(venue, BENCHMARK_ASSET, quote)
    return found


def _segment_values(
    balances: dict[str, dict[str, Decimal]], prices: dict[str, Decimal], quote: str
) -> dict[str, Decimal]:
    """Value per segment: each asset's balances over all venues at its price, and cash."""
    values = {asset: ZERO for asset in prices} | {quote: ZERO}
    for currencies in balances.values():
        for currency, amount in currencies.items():
            if currency == quote:
                values[quote] += amount
            elif currency in prices:
                values[currency] += amount * prices[currency]
    return values


def strategy_attribution(
    db: Database,
    entry: Any,
    start: pd.Timestamp,
    end: pd.Timestamp,
    timeframe: str = "1d",
    quote: str = "USDT",
) -> list[dict[str, Any]]:
    """The attribution rows of one strategy entry (one per benchmark; none without 2 closes)."""
    pricing = _price_instruments(entry, quote)
    series = {a: closes(db, i, timeframe, start, end) for a, i in pricing.items()}
    traded = list(dict.fromkeys(i.base for i in entry.instrument_ids()))
    if series[BENCHMARK_ASSET].empty and BENCHMARK_ASSET not in traded:
        del series[BENCHMARK_ASSET]
    table = pd.concat(series, axis=1, join="inner").dropna()
    if len(table) < 2:
        return []
    step = pd.Timedelta(milliseconds=timeframe_ms(timeframe))
    boundaries = [ts + step for ts in table.index]
    fills = strategy_fills(db, entry.name, before=(boundaries[-1] + JUST_AFTER).to_pydatetime())
    instruments = list(entry.instrument_ids())
    segments = [*table.columns, quote]
    weights, equities = [], []
    for k, boundary in enumerate(boundaries):
        prices = {a: decimal_from_float(table[a].iloc[k]) for a in table.columns}
        early = [f for f in fills if f.timestamp <= boundary.to_pydatetime()]
        balances = account_balances(instruments, entry.capital, early)
        equity = account_equity(balances, {i: prices[i.base] for i in instruments})
        values = _segment_values(balances, prices, quote)
        weights.append([to_float(values[s] / equity) for s in segments])
        equities.append(equity)
    asset_returns = table.pct_change().iloc[1:]
    returns = asset_returns.assign(**{quote: 0.0})[segments]
    portfolio_weights = pd.DataFrame(weights[:-1], index=returns.index, columns=segments)
    first = boundaries[0].to_pydatetime()
    fees = sum(
        (fill_flow(f, *symbol_currencies(f.symbol))[2] for f in fills if f.timestamp > first),
        ZERO,
    )
    after = to_float(equities[-1] / equities[0] - 1)
    before = to_float((equities[-1] + fees) / equities[0] - 1)
    benchmarks: list[Benchmark] = [equal_weight_benchmark(asset_returns[traded])]
    if BENCHMARK_ASSET in asset_returns.columns:
        benchmarks.insert(0, buy_and_hold_benchmark(asset_returns, BENCHMARK_ASSET))
    rows = []
    for benchmark in benchmarks:
        benchmark_weights = benchmark.weights.reindex(columns=segments, fill_value=0.0)
        result = attribute(portfolio_weights, benchmark_weights, returns, returns)
        rows.append(
            {
                "strategy": entry.name,
                "benchmark": benchmark.name,
                "periods": len(returns),
                "strategy_return": result.portfolio_return,
                "benchmark_return": result.benchmark_return,
                "active_return": result.active_return,
                **{effect: float(result.totals[effect]) for effect in EFFECTS},
                "return_before_fees": before,
                "return_after_fees": after,
                "fees": fees,
                "fee_drag": before - after,
                "trading_effect": before - result.portfolio_return,
            }
        )
    return rows


def attribution_report(
    db: Database,
    strategies: Iterable[Any],
    start: pd.Timestamp,
    end: pd.Timestamp,
    timeframe: str = "1d",
    quote: str = "USDT",
) -> pd.DataFrame:
    """Attribution rows of every strategy entry over [start, end) (columns `COLUMNS`)."""
    rows = [
        row
        for entry in strategies
        for row in strategy_attribution(db, entry, start, end, timeframe, quote)
    ]
    return pd.DataFrame(rows, columns=COLUMNS).astype({"periods": np.int64})
