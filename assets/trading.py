"""The trading loop per strategy: signals → target positions → executed orders → positions.

Partitioned by strategy name (a dynamic partition, added when a strategy is deployed
through the strategies file, see `sensors/trading.py`). A paused or stopped strategy's
run records that and trades nothing. Every run first reconciles the strategy with its
venues (`trading/reconciliation.py`); what that repaired is metadata of `strategy_signals`.
"""

from typing import Any

import dagster as dg
import pandas as pd

from resources.alerting import AlertingResource
from resources.database import TradingDatabase
from resources.markets import MarketsResource
from resources.strategies import StrategiesResource
from zvt_pipelines.trading.lifecycle import Status, get_status
from zvt_pipelines.trading.market_view import (
    CandleCache,
    decision_window,
    last_prices,
    latest_close,
)
from zvt_pipelines.trading.rebalance import (
    book_tops,
    execute_plan,
    plan_rebalance,
    store_targets,
    update_positions,
)
from zvt_pipelines.trading.services import reconcile_venues, strategy_venues

GROUP = "trading"
strategies_partitions = dg.DynamicPartitionsDefinition(name="strategies")


def _markdown_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "(none)"
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row[c]) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


@dg.asset(partitions_def=strategies_partitions, group_name=GROUP, kinds={"python"})
def strategy_signals(
    context: dg.AssetExecutionContext,
    database: TradingDatabase,
    strategies: StrategiesResource,
    markets: MarketsResource,
) -> dg.Output:
    """The strategy's signals and target positions, decided on the candles closed by now,
    after its resting orders have been matched against the candles since the last run and
    its orders reconciled with the venues (fills a killed run left unrecorded are booked)."""
    db, name = database.get(), context.partition_key
    entry = strategies.entry(name)
    status = get_status(db, name)
    if status is not Status.ACTIVE or not entry.enabled:
        why = "disabled in the strategies file" if not entry.enabled else f"status {status}"
        context.log.info(f"{name}: not trading ({why})")
        return dg.Output(None, metadata={"status": why})
    as_of = latest_close(db, entry.instrument_ids())
    if as_of is None:
        raise dg.Failure(
            f"{name}: no candles of {entry.symbols} yet; materialise the market data first"
        )
    venues = strategy_venues(db, markets.config(), entry, as_of)
    reconciled = reconcile_venues(db, entry, venues, as_of)
    decided = plan_rebalance(db, entry, as_of, books=book_tops(venues, entry.instrument_ids()))
    signals = [
        {
            "instrument": str(s.instrument),
            "kind": s.kind.value,
            "weight": s.target_weight,
            "reason": s.reason,
        }
        for s in decided.plan.signals
    ]
    return dg.Output(
        decided,
        metadata={
            "as_of": str(as_of),
            "equity": float(decided.equity),
            "signals": len(signals),
            "signal_table": dg.MetadataValue.md(_markdown_table(signals)),
            "reconcile_repaired": reconciled.repaired,
            "reconcile_fills_recorded": reconciled.fills_recorded,
            "reconcile_needs_attention": reconciled.needs_attention,
            "reconcile_summary": reconciled.summary(),
        },
    )


@dg.asset(partitions_def=strategies_partitions, group_name=GROUP, kinds={"python", "sql"})
def target_positions(
    context: dg.AssetExecutionContext, database: TradingDatabase, strategy_signals: Any
) -> dg.Output:
    """Target quantity per instrument, capped by the strategy's risk limits, stored for drift checks."""
    if strategy_signals is None:
        return dg.Output(None, metadata={"targets": 0})
    store_targets(database.get(), strategy_signals)
    rows = [
        {
            "instrument": str(i),
            "current": t.current,
            "target": t.quantity,
            "delta": t.delta,
            "reasons": "; ".join(t.reasons),
        }
        for i, t in strategy_signals.plan.targets.items()
    ]
    changes = sum(1 for row in rows if row["delta"] != 0)
    return dg.Output(
        strategy_signals,
        metadata={
            "targets": len(rows),
            "changes": changes,
            "target_table": dg.MetadataValue.md(_markdown_table(rows)),
        },
    )


@dg.asset(partitions_def=strategies_partitions, group_name=GROUP, kinds={"python", "sql"})
def executed_orders(
    context: dg.AssetExecutionContext,
    database: TradingDatabase,
    markets: MarketsResource,
    strategies: StrategiesResource,
    alerting: AlertingResource,
    target_positions: Any,
) -> dg.Output:
    """Orders that move each instrument to its target, through the order manager and its risk
    checks; fills, rejections and large slippage are sent as order-execution alerts."""
    from zvt_pipelines.trading.order_alerts import execution_alerts
    from zvt_pipelines.trading.rebalance_quality import record_execution_quality

    if target_positions is None:
        return dg.Output(None, metadata={"orders_sent": 0})
    decided = target_positions
    entry = strategies.entry(context.partition_key)
    # strategy_signals already matched the resting orders against the candles of this run
    venues = strategy_venues(database.get(), markets.config(), entry, decided.as_of, replay=False)
    report = execute_plan(database.get(), entry, decided, venues)
    qualities = record_execution_quality(database.get(), report)
    alerts = execution_alerts(report)
    if alerts:
        with alerting.dispatcher() as dispatcher:
            for alert in alerts:
                dispatcher.submit(alert)
    rows = [
        {
            k: o[k]
            for k in ("instrument", "side", "amount", "status", "filled", "average_price", "reason")
        }
        for o in report.orders
    ]
    slippage = report.mean_slippage_bps
    return dg.Output(
        report,
        metadata={
            "orders_sent": len(report.orders),
            "orders_filled": report.count("FILLED", "SETTLED", "PARTIALLY_FILLED"),
            "orders_rejected": report.count("REJECTED", "EXPIRED"),
            "fees": float(report.fees),
            "alerts": len(alerts),
            "fill_rate": float(sum(q.fill_rate for q in qualities) / len(qualities))
            if qualities
            else 0.0,
            "mean_slippage_bps": float(slippage) if slippage is not None else 0.0,
            "order_table": dg.MetadataValue.md(_markdown_table(rows)),
        },
    )


@dg.asset(
    partitions_def=strategies_partitions,
    group_name=GROUP,
    deps=[executed_orders],
    kinds={"python", "sql"},
)
def strategy_positions(
    context: dg.AssetExecutionContext, database: TradingDatabase, strategies: StrategiesResource
) -> dg.MaterializeResult:
    """Positions rebuilt from every fill (FIFO lots), marked at the last close, stored in crypto_positions."""
    db, entry = database.get(), strategies.entry(context.partition_key)
    as_of = latest_close(db, entry.instrument_ids())
    if as_of is None:
        return dg.MaterializeResult(metadata={"positions": 0})
    start, end = decision_window(as_of, "1m", 1)
    cache = CandleCache(db)
    prices = last_prices({i: cache.candles(i, "1m", start, end) for i in entry.instrument_ids()})
    snapshots = update_positions(db, entry, prices, as_of.to_pydatetime())
    rows = [
        {
            "venue": s.venue,
            "symbol": s.symbol,
            "quantity": s.quantity,
            "entry": s.average_entry_price,
            "mark": s.mark_price,
            "realized": s.realized_pnl,
            "unrealized": s.unrealized_pnl,
        }
        for s in snapshots
    ]
    return dg.MaterializeResult(
        metadata={
            "positions": len(rows),
            "unrealized_pnl": float(sum((s.unrealized_pnl for s in snapshots), 0)),
            "realized_pnl": float(sum((s.realized_pnl for s in snapshots), 0)),
            "as_of": str(pd.Timestamp(as_of)),
            "position_table": dg.MetadataValue.md(_markdown_table(rows)),
        }
    )


rebalance_job = dg.define_asset_job(
    "rebalance",
    selection=dg.AssetSelection.groups(GROUP),
    partitions_def=strategies_partitions,
    description="One rebalance of one strategy: signals, targets, orders, positions.",
    # the four steps depend on each other, so a process per step would only add start-up time
    executor_def=dg.in_process_executor,
)


@dg.asset(group_name="portfolio", deps=[executed_orders], kinds={"python", "sql"})
def execution_quality(database: TradingDatabase) -> dg.MaterializeResult:
    """Execution quality of every order so far, aggregated per strategy and per venue:
    notional-weighted slippage against arrival and interval VWAP, fill rate, latency, cost."""
    from zvt_pipelines.trading.rebalance_quality import quality_summary

    summary = quality_summary(database.get())
    tables = {
        f"by_{by}": dg.MetadataValue.md(
            _markdown_table(frame.round(4).reset_index().to_dict("records"))
        )
        for by, frame in summary.items()
    }
    return dg.MaterializeResult(metadata=tables)


TRADING_ASSETS = [
    strategy_signals,
    target_positions,
    executed_orders,
    strategy_positions,
    execution_quality,
]
