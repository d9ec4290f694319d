"""Resting limit orders across runs on paper venues.

A paper venue lives only as long as one run. Before a strategy decides, its open GTC limit
orders (from `crypto_orders`) are put back on the freshly built venues and the 1-minute
candles since each was last updated are played through the matching engine, so an order
fills where the market traded through it while no run was active; the fills are recorded
exactly once through the order manager.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.model.money import decimal_from_float
from zvt_pipelines.model.orders import OrderStatus, OrderType
from zvt_pipelines.oms.manager import OrderManager
from zvt_pipelines.oms.messages import EventBus
from zvt_pipelines.oms.order import Order
from zvt_pipelines.oms.persistence import OrderRecorder, load_active_orders
from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.locks import strategy_lock
from zvt_pipelines.trading.market_view import CandleCache
from zvt_pipelines.venues.paper import PaperVenue

RESTING = (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)


def resting_orders(db: Database, strategy: str, venues: dict[str, Any]) -> list[Order]:
    """The strategy's open limit orders on the given paper venues (only its own are read)."""
    return [
        order
        for order in load_active_orders(db, strategy=strategy)
        if order.status in RESTING
        and order.order_type is OrderType.LIMIT
        and isinstance(venues.get(order.venue), PaperVenue)
    ]


def restore_resting_orders(
    db: Database,
    strategy: str,
    venues: dict[str, Any],
    as_of: pd.Timestamp,
    cache: CandleCache | None = None,
    replay: bool = True,
) -> list[Order]:
    """Put the strategy's resting orders back, replay the candles since, record the fills;
    returns the orders still resting. `replay=False` only puts them back: for a later step
    of the same run, whose candles an earlier step has already played.

    A replay holds the strategy's lock (storage/locks.py): the fills of a paper venue carry
    per-process ids, so two processes replaying the same order would each record its fill.
    """
    if not replay:
        return _restore(db, strategy, venues)
    with strategy_lock(db, strategy):
        orders = _restore(db, strategy, venues)
        if orders:
            _replay(db, strategy, venues, orders, as_of, cache or CandleCache(db))
    return [order for order in orders if not order.is_done]


def _restore(db: Database, strategy: str, venues: dict[str, Any]) -> list[Order]:
    """Put the strategy's resting orders back on their paper venues, as stored."""
    orders = resting_orders(db, strategy, venues)
    for order in orders:
        venues[order.venue].restore_order(
            order.venue_order_id or order.client_order_id,
            order.client_order_id,
            order.symbol,
            order.side,
            order.amount,
            order.price,
            order.filled,
            order.created_at,
        )
    return orders


def _replay(
    db: Database,
    strategy: str,
    venues: dict[str, Any],
    orders: list[Order],
    as_of: pd.Timestamp,
    cache: CandleCache,
) -> None:
    """Play the 1-minute candles since each order's last update through its venue and record
    the fills through the order manager."""
    for venue_id, symbol in sorted({(o.venue, o.symbol) for o in orders}):
        since = min(
            pd.Timestamp(o.updated_at or o.created_at)
            for o in orders
            if (o.venue, o.symbol) == (venue_id, symbol)
        )
        candles = cache.candles(
            InstrumentId.parse(f"{venue_id}:{symbol}"), "1m", since.floor("min"), as_of
        )
        for bar in candles.itertuples(index=False):
            prices = (decimal_from_float(v) for v in (bar.open, bar.high, bar.low, bar.close))
            venues[venue_id].on_bar(
                symbol, *prices, ts=(bar.ts + pd.Timedelta(minutes=1)).to_pydatetime()
            )
    bus = EventBus()
    recorder = OrderRecorder(db, actor=f"strategy:{strategy}").attach(bus)
    manager = OrderManager(venues, bus, clock=lambda: as_of.to_pydatetime())
    try:
        for order in orders:
            manager.orders[order.client_order_id] = order
            manager.sync(order.client_order_id)
    finally:
        recorder.close()
