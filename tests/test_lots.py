"""Lot accounting: FIFO, LIFO and average cost on hand-worked examples, and their agreement once flat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zvt_pipelines.errors import PositionError
from zvt_pipelines.model.orders import Fill, Liquidity, Side
from zvt_pipelines.portfolio.lots import AccountingMethod, LotBook
from zvt_pipelines.portfolio.positions import Position, PositionKey

T0 = datetime(2024, 8, 5, tzinfo=UTC)
KEY = PositionKey("sim_a", "BTC/USDT")


def fill(n: int, side: Side, amount: str, price: str, fee: str = "0", ccy: str = "USDT") -> Fill:
    return Fill(
        execution_id=f"e{n}",
        client_order_id=f"c{n}",
        venue="sim_a",
        symbol="BTC/USDT",
        side=side,
        amount=D(amount),
        price=D(price),
        fee=D(fee),
        fee_currency=ccy,
        liquidity=Liquidity.TAKER,
        timestamp=T0 + timedelta(minutes=n),
    )


def two_buys_then_sell(method: AccountingMethod) -> Position:
    """buy 1 @100 fee 0.1, buy 1 @120 fee 0.12, sell 1.5 @130 fee 0.195 (all fees in USDT)."""
    position = Position(KEY, method)
    position.apply(fill(1, Side.BUY, "1", "100", "0.1"))
    position.apply(fill(2, Side.BUY, "1", "120", "0.12"))
    position.apply(fill(3, Side.SELL, "1.5", "130", "0.195"))
    return position


def test_fifo_realised_pnl_with_quote_fees():
    """Lots: 1 @ 100.1 (100 + 0.1 fee), 1 @ 120.12. Sell cash = 1.5*130 - 0.195 = 194.805.

    FIFO closes lot 1 whole: exit share 194.805 * 1/1.5 = 129.87, pnl 129.87 - 100.1 = 29.77;
    then 0.5 of lot 2: entry 120.12 * 0.5 = 60.06, exit 194.805 - 129.87 = 64.935,
    pnl 4.875. Realised 34.645; left 0.5 with entry value 60.06 (avg 120.12).
    Unrealised at 130: 0.5*130 - 60.06 = 4.94.
    """
    position = two_buys_then_sell(AccountingMethod.FIFO)
    assert position.realised_pnl == D("34.645")
    assert position.quantity == D("0.5")
    assert position.average_entry_price == D("120.12")
    assert position.unrealised_pnl(D("130")) == D("4.94")
    assert position.fees_paid == D("0.415")


def test_lifo_realised_pnl_with_quote_fees():
    """LIFO closes lot 2 whole: 129.87 - 120.12 = 9.75; then 0.5 of lot 1: entry 50.05,
    exit 64.935, pnl 14.885. Realised 24.635; left 0.5 at 100.1 (entry value 50.05).
    Unrealised at 130: 65 - 50.05 = 14.95; realised + unrealised = 39.585, as FIFO (34.645 + 4.94).
    """
    position = two_buys_then_sell(AccountingMethod.LIFO)
    assert position.realised_pnl == D("24.635")
    assert position.average_entry_price == D("100.1")
    assert position.unrealised_pnl(D("130")) == D("14.95")


def test_average_cost_realised_pnl_with_quote_fees():
    """Average: one lot of 2 with entry value 220.22 (avg 110.11). Closing 1.5 takes
    220.22 * 1.5/2 = 165.165; pnl 194.805 - 165.165 = 29.64. Left 0.5 with 55.055 (avg 110.11).
    Unrealised at 130: 65 - 55.055 = 9.945; total 39.585 again.
    """
    position = two_buys_then_sell(AccountingMethod.AVERAGE)
    assert position.realised_pnl == D("29.64")
    assert position.average_entry_price == D("110.11")
    assert position.unrealised_pnl(D("130")) == D("9.945")


def test_short_realises_entry_minus_exit():
    """Sell 2 @50 fee 0.1: short 2 with entry (cash received) 99.9, avg 49.95.
    Buy 1 @40 fee 0.04 pays 40.04; closes 1 whose entry share is 49.95: pnl 49.95 - 40.04 = 9.91.
    Left short 1; unrealised at 45: -1*45 - (-49.95) = 4.95.
    """
    position = Position(KEY)
    position.apply(fill(1, Side.SELL, "2", "50", "0.1"))
    assert position.quantity == D("-2")
    assert position.average_entry_price == D("49.95")
    closed = position.apply(fill(2, Side.BUY, "1", "40", "0.04"))
    assert [c.realised_pnl for c in closed] == [D("9.91")]
    assert position.quantity == D("-1")
    assert position.unrealised_pnl(D("45")) == D("4.95")


def test_flip_long_to_short_and_back():
    """Buy 1 @100. Sell 3 @110 fee 0.33: cash 329.67; 1/3 of it (109.89) closes the long, pnl 9.89;
    the rest, 219.78, opens a short of 2 (avg 109.89). Buy 3 @100: 2/3 of 300 = 200 closes the
    short, pnl 219.78 - 200 = 19.78; the other 100 opens a long of 1. Realised 29.67.
    """
    position = Position(KEY)
    position.apply(fill(1, Side.BUY, "1", "100"))
    position.apply(fill(2, Side.SELL, "3", "110", "0.33"))
    assert position.quantity == D("-2")
    assert position.realised_pnl == D("9.89")
    assert position.average_entry_price == D("109.89")
    position.apply(fill(3, Side.BUY, "3", "100"))
    assert position.quantity == D("1")
    assert position.average_entry_price == D("100")
    assert position.realised_pnl == D("29.67")


def test_base_currency_fee_on_buy_reduces_quantity_received():
    """Buy 1 @100 with fee 0.001 BTC: receive 0.999 BTC for 100 USDT (fee worth 0.1 USDT).
    Sell 0.999 @110 fee 0.11 USDT: cash 109.89 - 0.11 = 109.78; pnl 109.78 - 100 = 9.78; flat.
    """
    position = Position(KEY)
    position.apply(fill(1, Side.BUY, "1", "100", "0.001", "BTC"))
    assert position.quantity == D("0.999")
    assert position.signed_entry_value == D("100")
    position.apply(fill(2, Side.SELL, "0.999", "110", "0.11"))
    assert position.quantity == 0
    assert position.realised_pnl == D("9.78")
    assert position.fees_paid == D("0.21")


def test_base_currency_fee_on_sell_removes_extra_quantity():
    """Buy 2 @100 (entry 200). Sell 1 @120 with fee 0.001 BTC removes 1.001 BTC for 120 USDT:
    entry share 200 * 1.001/2 = 100.1, pnl 120 - 100.1 = 19.9; 0.999 left with entry 99.9.
    """
    position = Position(KEY)
    position.apply(fill(1, Side.BUY, "2", "100"))
    position.apply(fill(2, Side.SELL, "1", "120", "0.001", "BTC"))
    assert position.quantity == D("0.999")
    assert position.realised_pnl == D("19.9")
    assert position.signed_entry_value == D("99.9")


def test_fee_in_a_third_currency_is_kept_apart():
    """0.05 BNB fee is recorded under BNB and does not change PnL or fees_paid (quote)."""
    position = Position(KEY)
    position.apply(fill(1, Side.BUY, "1", "100", "0.05", "BNB"))
    position.apply(fill(2, Side.SELL, "1", "101", "0.05", "BNB"))
    assert position.realised_pnl == D("1")
    assert position.other_fees == {"BNB": D("0.1")}
    assert position.fees_paid == 0


def test_duplicate_and_foreign_fills_are_refused():
    position = Position(KEY)
    position.apply(fill(1, Side.BUY, "1", "100"))
    with pytest.raises(PositionError, match="already applied"):
        position.apply(fill(1, Side.BUY, "1", "100"))
    other = Fill("x", "c", "sim_b", "BTC/USDT", Side.BUY, D(1), D(1), D(0), "USDT",
                 Liquidity.TAKER, T0)  # fmt: skip
    with pytest.raises(PositionError, match="sim_b"):
        position.apply(other)


def test_lot_book_refuses_overclose():
    book = LotBook(AccountingMethod.FIFO)
    book.open(1, D("1"), D("100"), T0, "e1")
    with pytest.raises(PositionError, match="exceeds"):
        book.close(D("2"), D("200"), T0)


amounts = st.integers(min_value=1, max_value=5_000).map(lambda n: D(n) / 1000)
prices = st.integers(min_value=100, max_value=100_000).map(lambda n: D(n) / 100)
trades = st.lists(
    st.tuples(st.sampled_from([Side.BUY, Side.SELL]), amounts, prices), min_size=1, max_size=25
)


@settings(max_examples=150, deadline=None)
@given(trades=trades, close_price=prices, with_fees=st.booleans())
def test_quantity_is_signed_sum_and_flat_pnl_is_method_free(trades, close_price, with_fees):
    """Quantity = signed sum of fills after every fill; once flattened, realised PnL is identical
    under FIFO, LIFO and average cost and equals cash received minus cash paid (with no fees:
    sell notional minus buy notional)."""
    results = {}
    for method in AccountingMethod:
        position = Position(KEY, method)
        signed, cash = D(0), D(0)
        for n, (side, amount, price) in enumerate(trades):
            fee = (amount * price / 1000).quantize(D("1e-8")) if with_fees else D(0)
            position.apply(fill(n, side, str(amount), str(price), str(fee)))
            signed += side.sign * amount
            cash += -side.sign * amount * price - fee
            assert position.quantity == signed
        if signed != 0:
            side = Side.SELL if signed > 0 else Side.BUY
            position.apply(fill(len(trades), side, str(abs(signed)), str(close_price)))
            cash += signed * close_price
        assert position.quantity == 0
        results[method] = position.realised_pnl
        assert position.realised_pnl == cash
    assert len(set(results.values())) == 1
