"""A resting quote survives between runs on the paper venues: it fills where the market
traded through it while no run was active, and the fill is recorded exactly once."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

import pandas as pd
import sqlalchemy as sa

from tests.trading_support import MARKETS, candle_database
from zvt_pipelines.ingest.candles import ingest_range
from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.model.orders import OrderType
from zvt_pipelines.storage.market_data import load_candles
from zvt_pipelines.storage.models import CryptoExecution, CryptoOrder, MarketOhlcv
from zvt_pipelines.strategies import (
    BaseCryptoStrategy,
    Signal,
    SignalKind,
    StrategyParams,
    parse_strategies_config,
    register_strategy,
)
from zvt_pipelines.trading.services import rebalance_now
from zvt_pipelines.venues.factory import build_sources

BTC = InstrumentId.parse("sim_a:BTC/USDT")
NOON = datetime(2025, 3, 2, 12, tzinfo=UTC)


class QuoteParams(StrategyParams):
    price: Decimal
    size: Decimal = Decimal("0.01")


@register_strategy("resting_quote_test")
class RestingQuote(BaseCryptoStrategy):
    """Quotes one bid at a fixed price, as a market maker's quote rests between decisions."""

    params_model = QuoteParams
    rests_limit_orders: ClassVar[bool] = True

    def generate_signals(self, market_data: Any, **kwargs: Any) -> list[Signal]:
        return [
            Signal(
                BTC,
                market_data.now,
                SignalKind.BUY,
                "quote",
                amount=self.params.size,
                price=self.params.price,
                order_type=OrderType.LIMIT,
            )
        ]

    def calculate_position_size(self, signal: Signal, portfolio: Any, **kwargs: Any) -> Decimal:
        return self.params.size

    def should_exit(self, position: Any, market_data: Any, **kwargs: Any) -> bool:
        return False


def test_a_bid_rests_overnight_fills_when_crossed_and_is_recorded_once(tmp_path):
    db = candle_database(tmp_path, instruments=("sim_a:BTC/USDT",))
    # the afternoon's candles, read before they are hidden
    afternoon = load_candles(
        db, "sim_a", "BTC/USDT", "1m", pd.Timestamp(NOON), pd.Timestamp("2025-03-03", tz="UTC")
    )
    lows, closes = afternoon["low"], afternoon["close"]
    assert len(afternoon) == 720
    # a bid between the afternoon's lowest low and the noon price: certainly traded through
    price = Decimal(repr(round(float(lows.min() + closes.iloc[0]) / 2, 2)))
    with db.transaction() as session:
        session.execute(sa.delete(MarketOhlcv).where(MarketOhlcv.open_time >= NOON))
    entry = parse_strategies_config(
        [
            {
                "name": "quoter",
                "type": "resting_quote_test",
                "symbol": str(BTC),
                "amount_per_trade": 1,
                "frequency": "1h",
                "params": {"price": str(price)},
            }
        ]
    ).strategies[0]
    first = rebalance_now(db, MARKETS, entry)
    assert [(o["status"], o["amount"]) for o in first.orders] == [("OPEN", Decimal("0.01"))]

    ingest_range(
        db,
        build_sources(MARKETS)["sim_a"],
        BTC,
        "1m",
        pd.Timestamp(NOON),
        pd.Timestamp("2025-03-03", tz="UTC"),
    )
    rebalance_now(db, MARKETS, entry)  # the evening run: the noon quote is matched, then re-quoted
    rebalance_now(db, MARKETS, entry)  # a retry of the same run adds nothing
    with db.transaction() as session:
        fills = session.scalars(sa.select(CryptoExecution).order_by(CryptoExecution.id)).all()
        noon_quote = session.scalars(sa.select(CryptoOrder).order_by(CryptoOrder.id)).first()
    assert noon_quote.status in ("FILLED", "SETTLED")
    first_fill = fills[0]
    assert (
        first_fill.client_order_id == noon_quote.client_order_id
        and first_fill.amount == Decimal("0.01")
    )
    assert first_fill.price <= price  # a resting bid fills at its price, or better on a gap
    assert len([f for f in fills if f.client_order_id == noon_quote.client_order_id]) == 1


def test_market_maker_quotes_from_the_live_book_and_never_offers_what_it_lacks(tmp_path):
    """With no BTC yet, the spot market maker can only bid: one GTC buy below the venue's
    mid (its half spread is at least base_spread_bps / 2), no ask."""
    db = candle_database(tmp_path, instruments=("sim_a:BTC/USDT",))
    entry = parse_strategies_config(
        [
            {
                "name": "mm",
                "type": "market_making",
                "symbol": str(BTC),
                "amount_per_trade": 1,
                "frequency": "1m",
                "params": {"max_inventory": "0.05", "quote_size": "0.01", "base_spread_bps": 20},
            }
        ]
    ).strategies[0]
    report = rebalance_now(db, MARKETS, entry)
    assert [(str(o["side"]), o["status"]) for o in report.orders] == [("buy", "OPEN")]
    with db.transaction() as session:
        quote = session.scalars(sa.select(CryptoOrder)).one()
    book = build_sources(MARKETS, clock=lambda: report.as_of.to_pydatetime())[
        "sim_a"
    ].fetch_order_book("BTC/USDT")
    mid = (Decimal(str(book["bids"][0][0])) + Decimal(str(book["asks"][0][0]))) / 2
    assert quote.time_in_force == "GTC" and quote.price <= mid * (1 - Decimal("0.001"))
