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


# -- the lot book itself: which lots a close consumes, exact values, guards ---------------------

T1, T2, T3, TC = (T0 + timedelta(hours=h) for h in (1, 2, 3, 9))


def three_lots(method: AccountingMethod) -> LotBook:
    """Long lots: 1 for 100 (e1), 2 for 260 (e2, 130 each), 1 for 150 (e3)."""
    book = LotBook(method)
    book.open(1, D("1"), D("100"), T1, "e1")
    book.open(1, D("2"), D("260"), T2, "e2")
    book.open(1, D("1"), D("150"), T3, "e3")
    return book


def closed_rows(closed):
    return [(c.quantity, c.entry_value, c.exit_value, c.realised_pnl, c.opened_at) for c in closed]


def test_fifo_close_consumes_oldest_first_and_splits_the_exit_value():
    """Close 2.5 for 375 (150 each). FIFO takes e1 whole: entry 100, exit 375 x 1/2.5 = 150,
    PnL 50; then 1.5 of e2: entry 260 x 1.5/2 = 195, exit the remainder 225, PnL 30.
    Left: 0.5 of e2 (value 65) and e3."""
    book = three_lots(AccountingMethod.FIFO)
    closed = book.close(D("2.5"), D("375"), TC)
    assert closed_rows(closed) == [
        (D("1"), D("100"), D("150"), D("50"), T1),
        (D("1.5"), D("195"), D("225"), D("30"), T2),
    ]
    assert all(c.closed_at == TC and c.direction == 1 for c in closed)
    assert [(lot.quantity, lot.entry_value, lot.execution_id) for lot in book.lots] == [
        (D("0.5"), D("65"), "e2"),
        (D("1"), D("150"), "e3"),
    ]
    assert (book.quantity, book.entry_value, book.direction) == (D("1.5"), D("215"), 1)
    assert book.lots[0].entry_price == D("130") and book.lots[0].opened_at == T2


def test_lifo_close_consumes_newest_first():
    """LIFO takes e3 whole (entry 150, exit 150, PnL 0), then 1.5 of e2 (195 vs 225: 30).
    Left: e1 and 0.5 of e2."""
    book = three_lots(AccountingMethod.LIFO)
    closed = book.close(D("2.5"), D("375"), TC)
    assert closed_rows(closed) == [
        (D("1"), D("150"), D("150"), D("0"), T3),
        (D("1.5"), D("195"), D("225"), D("30"), T2),
    ]
    assert [(lot.quantity, lot.entry_value, lot.execution_id) for lot in book.lots] == [
        (D("1"), D("100"), "e1"),
        (D("0.5"), D("65"), "e2"),
    ]


def test_average_cost_merges_lots_into_one():
    """All three merge into 4 for 510 (127.5 each), dated by the first. Closing 2.5 for 375
    takes 510 x 2.5/4 = 318.75: PnL 56.25; 1.5 for 191.25 is left."""
    book = three_lots(AccountingMethod.AVERAGE)
    assert [(lot.quantity, lot.entry_value, lot.opened_at) for lot in book.lots] == [
        (D("4"), D("510"), T1)
    ]
    assert book.lots[0].execution_id == "e1"
    closed = book.close(D("2.5"), D("375"), TC)
    assert closed_rows(closed) == [(D("2.5"), D("318.75"), D("375"), D("56.25"), T1)]
    assert (book.quantity, book.entry_value) == (D("1.5"), D("191.25"))


def test_short_lots_realise_entry_minus_exit_and_flat_resets_the_side():
    """Short 2 for 200 received; buying 1 back for 90 realises 100 - 90 = 10, the other for
    120 loses 20. Flat, the book takes a long."""
    book = LotBook("LIFO")
    book.open(-1, D("2"), D("200"), T1, "s1")
    [first] = book.close(D("1"), D("90"), T2)
    assert (first.realised_pnl, first.direction) == (D("10"), -1)
    [second] = book.close(D("1"), D("120"), T3)
    assert second.realised_pnl == D("-20")
    assert (book.direction, book.quantity, book.entry_value, book.lots) == (0, 0, 0, ())
    book.open(1, D("1"), D("50"), TC, "l1")
    assert book.direction == 1 and book.method is AccountingMethod.LIFO


def test_exit_shares_are_rounded_and_the_last_takes_the_remainder():
    """Three lots of 1 (for 10 each) closed at once for 100: the first two exit shares are
    100 x 1/3 rounded to 18 places, 33.333333333333333333; the last is what is left,
    33.333333333333333334, so the three add up to exactly 100."""
    book = LotBook()
    for n in range(3):
        book.open(1, D("1"), D("10"), T1, f"e{n}")
    closed = book.close(D("3"), D("100"), TC)
    third = D("33.333333333333333333")
    assert [c.exit_value for c in closed] == [third, third, D("33.333333333333333334")]
    assert sum(c.exit_value for c in closed) == D("100")
    assert [c.realised_pnl for c in closed] == [third - 10, third - 10, D("23.333333333333333334")]


def test_partial_entry_share_keeps_the_book_exact():
    """One lot of 3 for 100: closing 1 takes 100/3 = 33.333333333333333333 of entry value and
    leaves 66.666666666666666667, so entry values taken out plus left add up to 100."""
    book = LotBook()
    book.open(1, D("3"), D("100"), T1, "e1")
    [closed] = book.close(D("1"), D("40"), TC)
    assert closed.entry_value == D("33.333333333333333333")
    assert book.entry_value == book.lots[0].entry_value == D("66.666666666666666667")
    [rest] = book.close(D("2"), D("80"), TC)
    assert rest.entry_value == D("66.666666666666666667") and book.entry_value == 0


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (lambda b: b.open(1, D("0"), D("1"), T1, "x"), "lot quantity 0: must be positive"),
        (
            lambda b: b.open(2, D("1"), D("1"), T1, "x"),
            "lot direction 2: must be +1 (long) or -1 (short)",
        ),
        (
            lambda b: b.open(-1, D("1"), D("1"), T1, "x"),
            "cannot open a short lot on a book holding the other side; close it first",
        ),
        (lambda b: b.close(D("0"), D("1"), T1), "close quantity 0: must be positive"),
        (lambda b: b.close(D("-1"), D("1"), T1), "close quantity -1: must be positive"),
        (lambda b: b.close(D("1.5"), D("1"), T1), "close quantity 1.5 exceeds open quantity 1"),
    ],
)
def test_lot_book_guards_name_the_value(action, message):
    book = LotBook()
    book.open(1, D("1"), D("100"), T1, "e1")
    with pytest.raises(PositionError) as info:
        action(book)
    assert str(info.value) == message
    assert (book.quantity, book.entry_value, book.direction) == (D("1"), D("100"), 1)


def test_a_long_book_refuses_a_short_lot_with_its_name():
    book = LotBook()
    book.open(-1, D("1"), D("100"), T1, "s1")
    with pytest.raises(PositionError, match="cannot open a long lot"):
        book.open(1, D("1"), D("100"), T1, "l1")
    with pytest.raises(ValueError):
        LotBook("HIFO")


def test_sums_never_round_even_beyond_28_digits():
    """The module promises exact sums (56 significant digits). A lot worth
    123456789012.123456789012345678 (30 digits) plus one worth 1 is exactly
    123456789013.123456789012345678; a third of it is 41152263004.041152263004115226 (to 18
    places); closing the rest for 1e-18 realises exactly 1e-18 minus its entry value.
    Python's default 28-digit context would round every one of these."""
    big = D("123456789012.123456789012345678")
    book = LotBook()
    book.open(1, D("3"), big, T1, "e1")
    assert book.entry_value == big
    [part] = book.close(D("1"), D("1"), TC)
    assert part.entry_value == D("41152263004.041152263004115226")
    book.open(1, D("1"), D("1"), T2, "e2")
    assert book.entry_value == D("82304526009.082304526008230452")
    closed = book.close(D("3"), D("0.000000000000000001"), TC)
    assert sum(c.realised_pnl for c in closed) == D("0.000000000000000001") - D(
        "82304526009.082304526008230452"
    )
    assert book.entry_value == 0


def test_share_is_exact_to_18_places_in_any_context():
    """`share` sets its own 56-digit context: a third of 123456789012.123456789012345678 is
    41152263004.041152263004115226 (to 18 places), even where the caller's context has
    Python's default 28 digits."""
    from decimal import localcontext

    from zvt_pipelines.portfolio.lots import share

    with localcontext() as context:
        context.prec = 28
        assert share(D("123456789012.123456789012345678"), D(1), D(3)) == D(
            "41152263004.041152263004115226"
        )
