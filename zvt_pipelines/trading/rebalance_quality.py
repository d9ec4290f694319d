"""Execution quality of a rebalance's orders, stored in `execution_quality` and summarised.

The arrival price is the venue's mid when the rebalance decided. The interval VWAP is the
typical-price VWAP of the last closed 1-minute candle before the order: the paper venues
fill at the decision instant, whose own minute has not closed yet when it is recorded.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import timedelta

import pandas as pd
import sqlalchemy as sa

from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.oms.fill_quality import (
    OrderExecution,
    OrderQuality,
    interval_vwap,
    order_quality,
    quality_frame,
    summarise,
)
from zvt_pipelines.portfolio.accounts import strategy_fills
from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.quality_models import ExecutionQuality
from zvt_pipelines.trading.market_view import CandleCache
from zvt_pipelines.trading.rebalance import ExecutionReport

_SENT = {"FILLED", "SETTLED", "PARTIALLY_FILLED", "OPEN", "CANCELED", "EXPIRED"}
_MS = timedelta(milliseconds=1)


def record_execution_quality(
    db: Database, report: ExecutionReport, cache: CandleCache | None = None
) -> list[OrderQuality]:
    """Measure every order the rebalance sent and upsert one row each (one transaction)."""
    cache = cache or CandleCache(db)
    by_order: dict[str, list] = {}
    for fill in strategy_fills(
        db, report.strategy, before=(report.as_of + pd.Timedelta(minutes=1)).to_pydatetime()
    ):
        by_order.setdefault(fill.client_order_id, []).append(fill)
    minute = (report.as_of - pd.Timedelta(minutes=1), report.as_of)
    qualities = []
    for order in report.orders:
        if order["status"] not in _SENT or not order.get("arrival"):
            continue
        instrument = InstrumentId.parse(order["instrument"])
        candles = cache.candles(instrument, "1m", *minute)
        execution = OrderExecution(
            client_order_id=order["client_order_id"],
            strategy=report.strategy,
            venue=instrument.venue,
            symbol=instrument.symbol,
            side=order["side"],
            amount=order["amount"],
            arrival_price=order["arrival"],
            submitted_at=report.as_of.to_pydatetime(),
            fills=tuple(by_order.get(order["client_order_id"], ())),
            interval_vwap=interval_vwap(candles, *(t.to_pydatetime() for t in minute))
            or interval_vwap(
                candles,
                (minute[0] - pd.Timedelta(minutes=1)).to_pydatetime(),
                minute[0].to_pydatetime(),
            ),
        )
        qualities.append(order_quality(execution))
    with db.transaction() as session:
        for quality in qualities:
            session.merge(_row(quality, report))
    return qualities


def _row(quality: OrderQuality, report: ExecutionReport) -> ExecutionQuality:
    values = asdict(quality)
    first, last = values.pop("first_fill_latency"), values.pop("last_fill_latency")
    values["side"] = str(quality.side)
    return ExecutionQuality(
        **values,
        first_fill_latency_ms=None if first is None else first / _MS,
        last_fill_latency_ms=None if last is None else last / _MS,
        submitted_at=report.as_of.to_pydatetime(),
    )


def stored_qualities(db: Database) -> list[OrderQuality]:
    """Every stored order quality, as the `oms.quality` value objects."""
    names = [f.name for f in fields(OrderQuality)]
    with db.transaction() as session:
        rows = session.scalars(sa.select(ExecutionQuality)).all()
        return [
            OrderQuality(
                **{
                    **{n: getattr(row, n) for n in names if hasattr(row, n)},
                    "first_fill_latency": None
                    if row.first_fill_latency_ms is None
                    else row.first_fill_latency_ms * _MS,
                    "last_fill_latency": None
                    if row.last_fill_latency_ms is None
                    else row.last_fill_latency_ms * _MS,
                }
            )
            for row in rows
        ]


def quality_summary(db: Database) -> dict[str, pd.DataFrame]:
    """Execution quality aggregated per strategy and per venue (empty frames when nothing traded)."""
    frame = quality_frame(stored_qualities(db))
    if frame.empty:
        return {"strategy": frame, "venue": frame}
    return {by: summarise(frame, by) for by in ("strategy", "venue")}
