"""Execution quality of a rebalance's order: stored per order, aggregated per strategy and venue."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest
import sqlalchemy as sa

from tests.trading_support import MARKETS, candle_database, fixed_weight
from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.storage.models import CryptoExecution
from zvt_pipelines.storage.quality_models import ExecutionQuality
from zvt_pipelines.strategies import parse_strategies_config
from zvt_pipelines.trading.market_view import CandleCache
from zvt_pipelines.trading.rebalance_quality import quality_summary
from zvt_pipelines.trading.services import rebalance_now
from zvt_pipelines.venues.factory import build_sources


def test_quality_row_matches_an_independent_computation(tmp_path):
    db = candle_database(tmp_path)
    entry = parse_strategies_config([fixed_weight("q", weight=0.5)]).strategies[0]
    report = rebalance_now(db, MARKETS, entry)
    (order,) = report.orders
    with db.transaction() as session:
        row = session.get(ExecutionQuality, order["client_order_id"])
        fills = session.scalars(sa.select(CryptoExecution)).all()
    # arrival: the simulated venue's mid at the decision time, asked again here
    venue = build_sources(MARKETS, clock=lambda: report.as_of.to_pydatetime())["sim_a"]
    book = venue.fetch_order_book("BTC/USDT")
    arrival = (Decimal(str(book["bids"][0][0])) + Decimal(str(book["asks"][0][0]))) / 2
    average = sum(f.amount * f.price for f in fills) / sum(f.amount for f in fills)
    assert row.arrival_price == arrival
    assert float(row.slippage_arrival_bps) == pytest.approx(
        float((average - arrival) / arrival * 10_000), abs=1e-9
    )
    # interval VWAP: typical price of the last closed minute before the decision
    minute = (
        CandleCache(db)
        .candles(
            InstrumentId.parse("sim_a:BTC/USDT"),
            "1m",
            report.as_of - pd.Timedelta(minutes=1),
            report.as_of,
        )
        .iloc[0]
    )
    typical = (minute["high"] + minute["low"] + minute["close"]) / 3
    assert float(row.interval_vwap) == pytest.approx(typical, rel=1e-12)
    assert row.fill_rate == 1 and row.filled == order["amount"]
    assert row.fees == sum(f.fee for f in fills)
    # total cost: shortfall against arrival plus fees
    assert row.total_cost == pytest.approx(
        (average - arrival) * row.filled + row.fees, abs=Decimal("1e-12")
    )
    summary = quality_summary(db)
    assert list(summary["strategy"].index) == ["q"] and list(summary["venue"].index) == ["sim_a"]
