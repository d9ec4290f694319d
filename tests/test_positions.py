"""Positions across venues, margin, the float64 fast path, and persistence to crypto_positions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import numpy as np
import pytest

from zvt_pipelines.errors import PositionError
from zvt_pipelines.model.instrument import symbol_currencies
from zvt_pipelines.model.orders import Fill, Liquidity, Side
from zvt_pipelines.portfolio.lots import AccountingMethod
from zvt_pipelines.portfolio.position_store import load_positions, save_positions
from zvt_pipelines.portfolio.positions import (
    Position,
    PositionBook,
    PositionKey,
    margin_summary,
    position_arrays,
    unrealised_pnl_vector,
)

T0 = datetime(2024, 8, 5, tzinfo=UTC)


def fill(n: int, venue: str, side: Side, amount: str, price: str, symbol: str = "BTC/USDT") -> Fill:
    return Fill(f"e{n}", f"c{n}", venue, symbol, side, D(amount), D(price), D(0), "USDT",
                Liquidity.TAKER, T0 + timedelta(seconds=n))  # fmt: skip


def test_symbol_currencies_of_spot_and_perpetual():
    assert symbol_currencies("BTC/USDT") == ("BTC", "USDT")
    assert symbol_currencies("ETH/USDT:USDT") == ("ETH", "USDT")
    with pytest.raises(PositionError, match="BTCUSDT"):
        symbol_currencies("BTCUSDT")


def test_aggregate_nets_venues_and_strategies():
    """sim_a long 1 @100 (strategy 'trend') + sim_a long 0.5 @90 (account) + sim_b short 0.4 @110.
    Marks: sim_a 105, sim_b 104. Net 1 + 0.5 - 0.4 = 1.1; long 1.5, short 0.4.
    Unrealised: 1*105 - 100 = 5; 0.5*105 - 45 = 7.5; -0.4*104 + 44 = 2.4; total 14.9.
    At one price 100 for all: 0 + 5 + (-40 + 44) = 9.
    """
    book = PositionBook(AccountingMethod.FIFO)
    book.apply(fill(1, "sim_a", Side.BUY, "1", "100"), strategy="trend")
    book.apply(fill(2, "sim_a", Side.BUY, "0.5", "90"))
    book.apply(fill(3, "sim_b", Side.SELL, "0.4", "110"))
    book.mark("sim_a", "BTC/USDT", D(105))
    book.mark("sim_b", "BTC/USDT", D(104))
    agg = book.aggregate("BTC/USDT")
    assert (agg.net_quantity, agg.long_quantity, agg.short_quantity) == (
        D("1.1"),
        D("1.5"),
        D("0.4"),
    )
    assert agg.unrealised_pnl == D("14.9")
    assert agg.venues == ("sim_a", "sim_b")
    assert book.aggregate("BTC/USDT", price=D(100)).unrealised_pnl == D(9)
    assert len(book.positions) == 3
    with pytest.raises(PositionError, match="ETH/USDT"):
        book.aggregate("ETH/USDT")


def test_margin_used_available_and_leverage():
    """Long 2 BTC marked 100 at 5x: notional 200, initial margin 40. Short 1 ETH marked 50 at 2x:
    notional 50, margin 25. Equity 100: used 65, available 35, leverage 250 / 100 = 2.5.
    """
    btc = Position(PositionKey("sim_a", "BTC/USDT"), leverage=D(5))
    btc.apply(fill(1, "sim_a", Side.BUY, "2", "90"))
    btc.mark(D(100))
    eth = Position(PositionKey("sim_a", "ETH/USDT"))
    eth.set_leverage(D(2))
    eth.apply(fill(2, "sim_a", Side.SELL, "1", "55", symbol="ETH/USDT"))
    eth.mark(D(50))
    summary = margin_summary([btc, eth], equity=D(100))
    assert summary.gross_notional == D(250)
    assert summary.initial_margin[btc.key] == D(40)
    assert summary.margin_used == D(65)
    assert summary.margin_available == D(35)
    assert summary.leverage == D("2.5")
    assert margin_summary([btc], equity=D(0)).leverage is None
    with pytest.raises(PositionError, match="leverage"):
        btc.set_leverage(D(0))


def test_unmarked_position_cannot_be_valued():
    position = Position(PositionKey("sim_a", "BTC/USDT"))
    position.apply(fill(1, "sim_a", Side.BUY, "1", "100"))
    with pytest.raises(PositionError, match="mark"):
        position.unrealised_pnl()


def test_vector_path_matches_decimal_path():
    """Long 2 with entry 180 and short 1 with entry 55: at prices (100, 50) the PnL is
    2*100 - 180 = 20 and -50 + 55 = 5; for a second tick (95, 60): 10 and -5."""
    long = Position(PositionKey("sim_a", "BTC/USDT"))
    long.apply(fill(1, "sim_a", Side.BUY, "2", "90"))
    short = Position(PositionKey("sim_a", "ETH/USDT"))
    short.apply(fill(2, "sim_a", Side.SELL, "1", "55", symbol="ETH/USDT"))
    quantities, entries = position_arrays([long, short])
    pnl = unrealised_pnl_vector(quantities, entries, np.array([[100.0, 50.0], [95.0, 60.0]]))
    np.testing.assert_allclose(pnl, [[20.0, 5.0], [10.0, -5.0]])


def test_store_upserts_one_row_per_position(db):
    """Buy 1 @100.123456789012345678 then save; sell 0.4 @110 then save again: still one row,
    quantity 0.6. The closed entry share 0.4 * 100.123456789012345678 = 40.0493827156049382712 is
    rounded to 18 places, 40.049382715604938271, so realised = 44 - that = 3.950617284395061729;
    the 0.6 left holds 60.074074073407407407, an average of 100.123456789012345678 (rounded)."""
    position = Position(PositionKey("sim_a", "BTC/USDT", "trend"), AccountingMethod.LIFO)
    position.apply(fill(1, "sim_a", Side.BUY, "1", "100.123456789012345678"))
    position.mark(D(101))
    assert save_positions(db, [position.snapshot(T0)]) == 1
    position.apply(fill(2, "sim_a", Side.SELL, "0.4", "110"))
    position.mark(D(110))
    other = Position(PositionKey("sim_b", "BTC/USDT"))
    at = T0 + timedelta(minutes=1)
    assert save_positions(db, [position.snapshot(at), other.snapshot(at)]) == 2
    rows = load_positions(db)
    assert [(r.venue, r.strategy) for r in rows] == [("sim_a", "trend"), ("sim_b", "")]
    stored = rows[0]
    assert stored == position.snapshot(at)
    assert stored.quantity == D("0.6")
    assert stored.realized_pnl == D("3.950617284395061729")
    assert stored.average_entry_price == D("100.123456789012345678")
    assert stored.accounting_method == "LIFO"
    assert stored.updated_at == at
    assert load_positions(db, venue="sim_b")[0].quantity == 0
    assert save_positions(db, []) == 0
