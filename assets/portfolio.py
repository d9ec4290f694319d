"""Portfolio analytics after every rebalance: performance, risk and attribution.

Three unpartitioned assets downstream of every partition of `strategy_positions`; each
rebuilds the strategy accounts from the trading database, calls one core function and
reports tables, key numbers and a chart. `portfolio_performance` also writes the day's rows
of `strategy_performance` (scopes strategy, venue, asset and portfolio).
"""

from typing import Any

import dagster as dg
import pandas as pd

from resources.database import TradingDatabase
from resources.markets import MarketsResource
from resources.strategies import StrategiesResource
from zvt_pipelines.data.charts import png_markdown
from zvt_pipelines.model.money import decimal_from_float
from zvt_pipelines.portfolio.book_loader import to_float
from zvt_pipelines.portfolio.holdings_risk import risk_report
from zvt_pipelines.portfolio.overview import (
    attribution_window,
    current_holdings,
    portfolio_entries,
    stale_marks,
)
from zvt_pipelines.portfolio.performance_table import performance_table, persist_performance
from zvt_pipelines.portfolio.presentation import bar_chart_png, markdown_table
from zvt_pipelines.portfolio.strategy_attribution import attribution_report
from zvt_pipelines.storage.database import Database
from zvt_pipelines.trading.market_view import latest_close

GROUP = "portfolio"
POSITIONS = dg.AssetKey("strategy_positions")


class PortfolioConfig(dg.Config):
    """`as_of` (ISO time, UTC) to report at; default the latest close of every instrument."""

    as_of: str | None = None


def report_time(config: PortfolioConfig, db: Database, entries: list[Any]) -> pd.Timestamp:
    """The moment to report at: the configured one, else the latest shared 1m close, else now."""
    if config.as_of:
        moment = pd.Timestamp(config.as_of)
        return moment.tz_localize("UTC") if moment.tz is None else moment.tz_convert("UTC")
    instruments = {i for entry in entries for i in entry.instrument_ids()}
    return latest_close(db, instruments) or pd.Timestamp.now(tz="UTC")


@dg.asset(group_name=GROUP, kinds={"python", "pandas"}, deps=[POSITIONS])
def portfolio_performance(
    context: dg.AssetExecutionContext,
    config: PortfolioConfig,
    database: TradingDatabase,
    strategies: StrategiesResource,
) -> dg.MaterializeResult:
    """Value, PnL, return, Sharpe, drawdown, win rate and fees per strategy, venue, asset and
    for the portfolio; stored as the day's `strategy_performance` rows."""
    db = database.get()
    entries = portfolio_entries(db, strategies.entries())
    as_of = report_time(config, db, entries)
    table = performance_table(db, entries, as_of)
    written = persist_performance(db, table)
    total = table.loc[table["scope"] == "portfolio"].iloc[0]
    by_strategy = table.loc[table["scope"] == "strategy"].set_index("name")
    chart = bar_chart_png(
        by_strategy[["capital", "total_value"]].map(to_float), "equity by strategy", "quote"
    )
    context.log.info(f"{written} performance rows for {total['day']} (as of {as_of})")
    return dg.MaterializeResult(
        metadata={
            "as_of": as_of.isoformat(),
            "rows": written,
            "total_value": to_float(total["total_value"]),
            "daily_pnl": to_float(total["daily_pnl"]),
            "total_return": float(total["total_return"]),
            "sharpe": float(total["sharpe"]),
            "max_drawdown": float(total["max_drawdown"]),
            "fees": to_float(total["fees"]),
            "performance": dg.MetadataValue.md(markdown_table(table.drop(columns=["day"]))),
            "equity_by_strategy": dg.MetadataValue.md(png_markdown(chart, "equity by strategy")),
            "strategies": [entry.name for entry in entries],
            "stale_marks": dg.MetadataValue.json(stale_marks(db, entries, as_of)),
        }
    )


@dg.asset(group_name=GROUP, kinds={"python", "pandas"}, deps=[POSITIONS])
def portfolio_risk(
    context: dg.AssetExecutionContext,
    config: PortfolioConfig,
    database: TradingDatabase,
    strategies: StrategiesResource,
) -> dg.MaterializeResult:
    """VaR and ES (historical, parametric, Monte Carlo; 1 and 7 days), concentration,
    leverage and stress tests of the current holdings."""
    db = database.get()
    entries = portfolio_entries(db, strategies.entries())
    as_of = report_time(config, db, entries)
    holdings = current_holdings(db, entries, as_of)
    report = risk_report(db, holdings, as_of, strategies=[e.name for e in entries])
    metadata: dict[str, Any] = {
        "as_of": as_of.isoformat(),
        "equity": report.equity,
        "gross_exposure": report.gross_exposure,
        "leverage": report.leverage,
        "margin_utilisation": report.margin_utilisation,
        "herfindahl": report.concentration.herfindahl if report.concentration else 0.0,
        "largest_weight": report.concentration.largest_weight if report.concentration else 0.0,
        "returns_timeframe": report.timeframe or "none",
        "observations": report.observations,
        "stress": dg.MetadataValue.md(markdown_table(report.stress, index=True)),
    }
    if not report.var.empty:
        for method in ("historical", "parametric", "monte_carlo_normal"):
            for days in (1, 7):
                metadata[f"var_{days}d_{method}"] = report.var_of(method, days)
        metadata["var"] = dg.MetadataValue.md(markdown_table(report.var))
        bars = report.var.pivot(index="method", columns="horizon_days", values="var")
        chart = bar_chart_png(bars.rename(columns=lambda d: f"{d}d"), "VaR by method", "loss")
        metadata["var_chart"] = dg.MetadataValue.md(png_markdown(chart, "VaR by method"))
    else:
        context.log.warning("too few shared candle returns of the held assets for VaR")
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(group_name=GROUP, kinds={"python", "pandas"}, deps=[POSITIONS])
def performance_attribution(
    context: dg.AssetExecutionContext,
    config: PortfolioConfig,
    database: TradingDatabase,
    strategies: StrategiesResource,
) -> dg.MaterializeResult:
    """Each strategy's last 30 days against BTC buy-and-hold and an equal-weight index:
    Brinson-Fachler effects, and returns before and after fees."""
    db = database.get()
    entries = portfolio_entries(db, strategies.entries())
    as_of = report_time(config, db, entries)
    start, end = attribution_window(as_of)
    table = attribution_report(db, entries, start, end)
    metadata: dict[str, Any] = {
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
        "rows": len(table),
        "attribution": dg.MetadataValue.md(markdown_table(table)),
    }
    if not table.empty:
        returns = table.pivot(index="strategy", columns="benchmark", values="benchmark_return")
        returns.insert(0, "strategy", table.groupby("strategy")["return_after_fees"].first())
        chart = bar_chart_png(returns, "return over the window", "return")
        metadata["returns_chart"] = dg.MetadataValue.md(png_markdown(chart, "returns"))
        metadata["total_fees"] = float(
            table.groupby("strategy")["fees"].first().map(to_float).sum()
        )
    context.log.info(f"attribution of {table['strategy'].nunique()} strategies {start}..{end}")
    return dg.MaterializeResult(metadata=metadata)


portfolio_analytics = dg.define_asset_job(
    "portfolio_analytics",
    selection=dg.AssetSelection.groups(GROUP),
    description="Performance, risk, attribution and execution quality of the live strategies.",
)
PORTFOLIO_JOBS = [portfolio_analytics]


class HedgeConfig(dg.Config):
    """Base currency of the book and the largest weight any other currency may have."""

    base: str = "USDT"
    max_weight: float = 0.8


@dg.asset(group_name=GROUP, kinds={"python"}, deps=[POSITIONS])
def currency_hedges(
    context: dg.AssetExecutionContext,
    config: HedgeConfig,
    database: TradingDatabase,
    strategies: StrategiesResource,
    markets: MarketsResource,
) -> dg.MaterializeResult:
    """Currency exposure of the whole book (every strategy's accounts, by venue) in the base
    currency, and the hedge orders that would bring each currency within `max_weight`.
    Proposed only: `portfolio.hedging.place_hedges` sends them through the OMS."""
    from decimal import Decimal

    from zvt_pipelines.portfolio.book_loader import replay_account
    from zvt_pipelines.portfolio.currency import PriceGraph
    from zvt_pipelines.portfolio.hedging import ExposureTarget, propose_hedges
    from zvt_pipelines.venues.factory import build_sources

    db = database.get()
    entries = portfolio_entries(db, strategies.entries())
    as_of = report_time(PortfolioConfig(), db, entries)
    balances: dict[str, dict[str, Decimal]] = {}
    quotes: dict[str, Decimal] = {}
    for entry in entries:
        account = replay_account(db, entry, as_of)
        for venue, currencies in account.balances.items():
            book = balances.setdefault(venue, {})
            for currency, amount in currencies.items():
                book[currency] = book.get(currency, Decimal(0)) + amount
        quotes.update({instrument.symbol: price for instrument, price in account.prices.items()})
    if not balances or not quotes:
        return dg.MaterializeResult(metadata={"as_of": as_of.isoformat(), "proposals": 0})
    sources = build_sources(markets.config())
    venue_markets = {venue: sources[venue].load_markets() for venue in balances if venue in sources}
    plan = propose_hedges(
        balances,
        PriceGraph(quotes),
        config.base,
        ExposureTarget(max_weight=decimal_from_float(config.max_weight)),
        venue_markets,
    )
    exposures = pd.DataFrame(
        [
            {"currency": e.currency, "value": to_float(e.value), "weight": float(e.weight)}
            for e in plan.before.exposures.values()
        ]
    )
    proposals = pd.DataFrame(
        [
            {
                "venue": p.venue,
                "symbol": p.symbol,
                "side": str(p.side),
                "amount": str(p.amount),
                "reason": p.reason,
            }
            for p in plan.proposals
        ]
    )
    context.log.info(f"{len(plan.proposals)} hedge proposals for base {config.base}")
    return dg.MaterializeResult(
        metadata={
            "as_of": as_of.isoformat(),
            "equity": to_float(plan.before.equity),
            "proposals": len(plan.proposals),
            "exposures": dg.MetadataValue.md(markdown_table(exposures)),
            "hedges": dg.MetadataValue.md(
                markdown_table(proposals) if len(proposals) else "(within target)"
            ),
        }
    )


PORTFOLIO_ASSETS = [portfolio_performance, portfolio_risk, performance_attribution]
HEDGE_ASSETS = [currency_hedges]
