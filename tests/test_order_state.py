"""The order state machine: the transition table, illegal transitions, fills, client order ids."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from tests.order_table import GOLDEN
from zvt_pipelines.errors import InvalidOrder
from zvt_pipelines.model.orders import Fill, Liquidity, OrderStatus, OrderType, Side
from zvt_pipelines.oms.order import (
    TRANSITIONS,
    DuplicateFill,
    EventKind,
    IllegalTransition,
    Order,
    OrderAccepted,
    OrderCanceled,
    OrderCancelRequested,
    OrderExpired,
    OrderFilled,
    OrderQuarantined,
    OrderRejected,
    OrderSettled,
    OrderSubmitted,
    Overfill,
    intent_client_order_id,
    new_client_order_id,
    oco_pair,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)
S = OrderStatus


def order(amount: str = "2", **kw) -> Order:
    fields = {"order_type": OrderType.LIMIT, "price": D("100")} | kw
    return Order("c-1", "paper", "BTC/USDT", Side.BUY, amount=D(amount), created_at=T0, **fields)


def fill(execution_id: str, amount: str, price: str = "100") -> OrderFilled:
    f = Fill(
        execution_id,
        "c-1",
        "paper",
        "BTC/USDT",
        Side.BUY,
        D(amount),
        D(price),
        D("0.1"),
        "USDT",
        Liquidity.TAKER,
        T0,
    )
    return OrderFilled("c-1", T0, f)


def test_happy_path_new_to_settled():
    """2 BTC: fills of 0.5 @ 100 and 1.5 @ 104 -> average (50 + 156) / 2 = 103."""
    o = order()
    for event, status in [
        (OrderSubmitted("c-1", T0), S.SUBMITTED),
        (OrderAccepted("c-1", T0, "v-9"), S.OPEN),
        (fill("e1", "0.5"), S.PARTIALLY_FILLED),
        (fill("e2", "1.5", "104"), S.FILLED),
        (OrderSettled("c-1", T0), S.SETTLED),
    ]:
        assert o.apply(event) is status
    assert (o.venue_order_id, o.filled, o.average_price, o.fee) == (
        "v-9",
        D("2"),
        D("103"),
        D("0.2"),
    )


def test_cancel_path_and_a_fill_that_wins_the_race_with_the_cancel():
    o = order()
    o.apply(OrderSubmitted("c-1", T0))
    o.apply(OrderAccepted("c-1", T0, "v"))
    assert o.apply(OrderCancelRequested("c-1", T0)) is S.CANCEL_PENDING
    assert o.apply(fill("e1", "1")) is S.CANCEL_PENDING
    assert o.apply(OrderCanceled("c-1", T0, "user")) is S.CANCELED
    assert o.reason == "user" and o.filled == D("1")


@pytest.mark.parametrize(
    ("path", "event"),
    [
        ([], OrderAccepted("c-1", T0, "v")),
        (
            [OrderSubmitted("c-1", T0), OrderRejected("c-1", T0, "no")],
            OrderAccepted("c-1", T0, "v"),
        ),
        ([OrderSubmitted("c-1", T0), OrderCanceled("c-1", T0)], OrderExpired("c-1", T0)),
        ([OrderSubmitted("c-1", T0)], OrderSettled("c-1", T0)),
    ],
)
def test_illegal_transitions_name_state_and_event(path, event):
    o = order()
    for e in path:
        o.apply(e)
    before = o.status
    with pytest.raises(IllegalTransition) as info:
        o.apply(event)
    assert before.value in str(info.value) and o.kind_of(event).value in str(info.value)
    assert o.status is before


def test_fill_after_cancel_is_illegal():
    o = order()
    o.apply(OrderSubmitted("c-1", T0))
    o.apply(OrderCanceled("c-1", T0))
    with pytest.raises(IllegalTransition, match="event partial_fill is illegal in status CANCELED"):
        o.apply(fill("e1", "1"))


def test_duplicate_fill_and_overfill_are_rejected_without_changing_state():
    o = order()
    o.apply(OrderSubmitted("c-1", T0))
    o.apply(fill("e1", "1"))
    with pytest.raises(DuplicateFill, match="e1"):
        o.apply(fill("e1", "1"))
    with pytest.raises(Overfill, match="above amount 2"):
        o.apply(fill("e2", "1.5"))
    assert (o.filled, o.status, len(o.fills)) == (D("1"), S.PARTIALLY_FILLED, 1)


def test_every_status_is_reachable_and_terminal_ones_have_no_exit():
    reachable = {S.NEW} | set(TRANSITIONS.values())
    assert reachable == set(OrderStatus)
    for terminal in (S.SETTLED, S.CANCELED, S.REJECTED, S.EXPIRED):
        assert not [k for k in TRANSITIONS if k[0] is terminal]
    assert (S.FILLED, EventKind.SETTLE) in TRANSITIONS


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"order_type": OrderType.LIMIT, "price": None}, "needs a price"),
        ({"order_type": OrderType.STOP_LOSS, "price": None}, "needs a positive stop_price"),
        ({"order_type": OrderType.TRAILING_STOP, "price": None}, "exactly one of"),
        (
            {
                "order_type": OrderType.TRAILING_STOP,
                "price": None,
                "trailing_amount": D(1),
                "trailing_percent": D(1),
            },
            "exactly one of",
        ),
    ],
)
def test_malformed_orders_fail_fast(kw, message):
    with pytest.raises(InvalidOrder, match=message):
        order(**kw)
    with pytest.raises(InvalidOrder, match="positive Decimal"):
        order(amount="0")


def test_client_order_ids_are_unique_or_deterministic():
    ids = {new_client_order_id("sma_cross") for _ in range(1000)}
    assert len(ids) == 1000 and all(i.startswith("zvt-sma_cross-") and len(i) <= 36 for i in ids)
    long_name = new_client_order_id("a_very_long_strategy_name")
    assert long_name.startswith("zvt-a_very_lon-") and len(long_name) == 36  # 21 random hex digits
    a = intent_client_order_id("sma", "2024-01-01T00:00Z", "BTC/USDT", "buy", "0.5")
    assert a == intent_client_order_id("sma", "2024-01-01T00:00Z", "BTC/USDT", "buy", "0.5")
    assert a != intent_client_order_id("sma", "2024-01-01T00:01Z", "BTC/USDT", "buy", "0.5")
    assert len(a) <= 36 and a.startswith("zvt-sma-")


def test_oco_pair_links_legs_that_match():
    tp = order()
    stop = Order(
        "c-2", "paper", "BTC/USDT", Side.BUY, OrderType.STOP_LOSS, D("2"), T0, stop_price=D("110")
    )
    oco_pair(tp, stop)
    assert (tp.linked_client_order_id, stop.linked_client_order_id) == ("c-2", "c-1")
    with pytest.raises(InvalidOrder, match="must share"):
        oco_pair(tp, order(amount="3"))


# -- the golden table: every (status, event kind) pair -------------------------------------

# How to bring a 2 BTC order into each status, event by event (fills of 0.5 and 2).
PATHS = {
    S.NEW: [],
    S.SUBMITTED: ["submit"],
    S.OPEN: ["submit", "accept"],
    S.PARTIALLY_FILLED: ["submit", "accept", "partial_fill"],
    S.CANCEL_PENDING: ["submit", "accept", "cancel_request"],
    S.FILLED: ["submit", "accept", "fill"],
    S.SETTLED: ["submit", "accept", "fill", "settle"],
    S.CANCELED: ["submit", "cancel"],
    S.REJECTED: ["submit", "reject"],
    S.EXPIRED: ["submit", "expire"],
    S.QUARANTINED: ["submit", "accept", "quarantine"],
}


def event_named(o: Order, name: str, serial: int):
    """`partial_fill` fills 0.5 BTC; `fill` fills what remains (1 BTC when nothing does,
    which still completes the order and so falls in the `fill` column)."""
    if name == "partial_fill":
        return fill(f"g{serial}", "0.5")
    if name == "fill":
        return fill(f"g{serial}", str(o.remaining or D(1)))
    return {
        "submit": OrderSubmitted("c-1", T0),
        "accept": OrderAccepted("c-1", T0, "v-1"),
        "reject": OrderRejected("c-1", T0, "risk"),
        "cancel_request": OrderCancelRequested("c-1", T0),
        "cancel": OrderCanceled("c-1", T0, "user"),
        "expire": OrderExpired("c-1", T0, "ioc"),
        "settle": OrderSettled("c-1", T0),
        "quarantine": OrderQuarantined("c-1", T0, "fill above amount"),
    }[name]


def test_golden_table_names_every_status_and_event_kind():
    assert set(GOLDEN) == {(s, k) for s in OrderStatus for k in EventKind}
    assert len(GOLDEN) == 11 * 10


@pytest.mark.parametrize(("status", "kind"), sorted(GOLDEN, key=str), ids=str)
def test_every_status_and_event_pair_against_the_golden_table(status, kind):
    """Legal pairs move to the table's status and record (before, kind, after) in the
    history; illegal ones raise `IllegalTransition` with the exact message and change nothing.
    A filled order has nothing left, so a 0.5 fill there completes it: kind `fill`."""
    o = order()
    for serial, name in enumerate(PATHS[status]):
        o.apply(event_named(o, name, serial))
    assert o.status is status
    event = event_named(o, kind.value, 99)
    expected = GOLDEN[(status, kind)]
    before = (o.filled, len(o.history), len(o.fills), o.reason)
    if expected is None:
        completes = kind is EventKind.PARTIAL_FILL and status in (S.FILLED, S.SETTLED)
        named = "fill" if completes else kind.value
        with pytest.raises(IllegalTransition) as info:
            o.apply(event)
        assert str(info.value) == f"order c-1: event {named} is illegal in status {status.value}"
        assert (info.value.status, info.value.event) == (status.value, named)
        assert o.status is status and (o.filled, len(o.history), len(o.fills), o.reason) == before
        assert not o.can_apply(event)
    else:
        assert o.can_apply(event)
        assert o.apply(event) is expected
        assert o.status is expected and o.history[-1] == (status, kind, expected)
        assert o.updated_at == T0


# -- guards, derived values and ids, message by message -------------------------------------


def other_fill(**changes) -> OrderFilled:
    """A 1 BTC buy fill of c-1 with some fields changed."""
    base = {
        "execution_id": "x1",
        "client_order_id": "c-1",
        "venue": "paper",
        "symbol": "BTC/USDT",
        "side": Side.BUY,
        "amount": D("1"),
        "price": D("100"),
        "fee": D("0"),
        "fee_currency": "USDT",
        "liquidity": Liquidity.MAKER,
        "timestamp": T0,
    } | changes
    return OrderFilled("c-1", T0, Fill(**base))


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"price": D("0")}, "order c-1 price 0: must be positive"),
        ({"price": D("-1")}, "order c-1 price -1: must be positive"),
        (
            {"order_type": OrderType.TAKE_PROFIT, "price": None, "stop_price": D("0")},
            "order c-1: take_profit needs a positive stop_price",
        ),
        (
            {"order_type": OrderType.STOP_LOSS, "price": None},
            "order c-1: stop_loss needs a positive stop_price",
        ),
        ({"order_type": OrderType.LIMIT, "price": None}, "order c-1: a limit order needs a price"),
        (
            {"order_type": OrderType.TRAILING_STOP, "price": None},
            "order c-1: a trailing stop needs exactly one of trailing_amount or trailing_percent",
        ),
    ],
)
def test_malformed_order_messages_name_the_order_and_value(kw, message):
    with pytest.raises(InvalidOrder) as info:
        order(**kw)
    assert str(info.value) == message


def test_amount_time_and_id_guards():
    with pytest.raises(InvalidOrder) as info:
        order(amount="-1")
    assert str(info.value) == "order c-1 amount Decimal('-1'): must be a positive Decimal"
    with pytest.raises(InvalidOrder, match=r"amount 2: must be a positive Decimal"):
        Order("c-1", "paper", "BTC/USDT", Side.BUY, OrderType.MARKET, 2, T0)  # not a Decimal
    naive = datetime(2024, 1, 1)
    with pytest.raises(InvalidOrder) as info:
        Order("c-1", "paper", "BTC/USDT", Side.BUY, OrderType.MARKET, D(1), naive)
    assert str(info.value) == "order c-1 created_at must be timezone-aware UTC"
    long_id = "c" * 65
    with pytest.raises(InvalidOrder) as info:
        Order(long_id, "paper", "BTC/USDT", Side.BUY, OrderType.MARKET, D(1), T0)
    assert str(info.value) == f"client order id {long_id!r}: longer than 64 characters"
    exactly_64 = Order("c" * 64, "paper", "BTC/USDT", Side.BUY, OrderType.MARKET, D(1), T0)
    assert exactly_64.updated_at == T0 and exactly_64.status is S.NEW
    # strings are coerced to the enums; stop and trailing orders without a price are valid
    coerced = Order("c-1", "paper", "BTC/USDT", "sell", "stop_loss", D(1), T0, stop_price=D(9))
    assert (coerced.side, coerced.order_type) == (Side.SELL, OrderType.STOP_LOSS)
    assert coerced.time_in_force.value == "GTC"
    trailing = Order(
        "c-1", "paper", "BTC/USDT", Side.SELL, OrderType.TRAILING_STOP, D(1), T0,
        trailing_percent=D(2),
    )  # fmt: skip
    assert trailing.trailing_percent == D(2) and trailing.price is None


def test_fills_of_another_order_symbol_or_side_are_refused():
    o = order()
    o.apply(OrderSubmitted("c-1", T0))
    with pytest.raises(InvalidOrder) as info:
        o.apply(OrderAccepted("c-2", T0, "v"))
    assert str(info.value) == "event for c-2 applied to order c-1"
    with pytest.raises(InvalidOrder) as info:
        o.apply(other_fill(client_order_id="c-9"))
    assert str(info.value) == "fill x1 belongs to c-9 BTC/USDT"
    with pytest.raises(InvalidOrder) as info:
        o.apply(other_fill(symbol="ETH/USDT"))
    assert str(info.value) == "fill x1 belongs to c-1 ETH/USDT"
    with pytest.raises(InvalidOrder) as info:
        o.apply(other_fill(side=Side.SELL))
    assert str(info.value) == "fill x1 side sell differs from order side buy"
    with pytest.raises(InvalidOrder) as info:
        o.apply(OrderFilled("c-1", T0, None))
    assert str(info.value) == "order c-1: OrderFilled without a fill"
    assert (o.status, o.filled, o.fills, o.has_execution("x1")) == (S.SUBMITTED, 0, [], False)


def test_duplicate_and_overfill_messages():
    o = order()
    o.apply(OrderSubmitted("c-1", T0))
    o.apply(other_fill())
    with pytest.raises(DuplicateFill) as info:
        o.apply(other_fill(amount=D("0.5")))
    assert str(info.value) == "order c-1: execution x1 already recorded"
    with pytest.raises(Overfill) as info:
        o.apply(other_fill(execution_id="x2", amount=D("1.5")))
    assert str(info.value) == ("order c-1: fill x2 of 1.5 would take filled 1 above amount 2")
    # exactly the remaining amount is allowed and completes the order
    assert o.apply(other_fill(execution_id="x3", amount=D("1"))) is S.FILLED


def test_derived_values_follow_the_fills():
    """Fills 0.5 @ 100 (fee 0.1) and 1 @ 103 (fee 0.2, in BNB): filled 1.5, cost 153,
    average 102, remaining 0.5, fees 0.3 in the last fill's currency."""
    o = order()
    assert (o.remaining, o.average_price, o.is_done) == (D(2), None, False)
    o.apply(OrderSubmitted("c-1", T0))
    o.apply(other_fill(execution_id="a", amount=D("0.5"), fee=D("0.1")))
    later = datetime(2024, 1, 2, tzinfo=UTC)
    o.apply(
        OrderFilled(
            "c-1",
            later,
            Fill("b", "c-1", "paper", "BTC/USDT", Side.BUY, D(1), D(103), D("0.2"), "BNB",
                 Liquidity.TAKER, later),
        )
    )  # fmt: skip
    assert (o.filled, o.cost, o.average_price, o.remaining) == (
        D("1.5"),
        D("153"),
        D("102"),
        D("0.5"),
    )
    assert (o.fee, o.fee_currency, o.updated_at, o.is_done) == (D("0.3"), "BNB", later, False)
    assert o.has_execution("a") and o.has_execution("b") and not o.has_execution("c")
    o.apply(OrderCanceled("c-1", T0, ""))
    assert o.is_done and o.reason is None  # an empty reason keeps the previous one (none)


def test_accept_keeps_a_known_venue_id_and_reasons_are_kept():
    o = order()
    o.apply(OrderSubmitted("c-1", T0))
    o.venue_order_id = "v-known"
    o.apply(OrderAccepted("c-1", T0, ""))
    assert o.venue_order_id == "v-known"
    o.apply(OrderExpired("c-1", T0, "gtd"))
    assert o.reason == "gtd"
    r = order()
    r.apply(OrderRejected("c-1", T0, "insufficient balance"))
    assert (r.status, r.reason) == (S.REJECTED, "insufficient balance")


def test_filled_and_terminal_orders_are_done():
    for status, done in [
        (S.NEW, False),
        (S.OPEN, False),
        (S.PARTIALLY_FILLED, False),
        (S.CANCEL_PENDING, False),
        (S.FILLED, True),
        (S.SETTLED, True),
        (S.CANCELED, True),
        (S.REJECTED, True),
        (S.EXPIRED, True),
        (S.QUARANTINED, False),
    ]:
        o = order()
        for serial, name in enumerate(PATHS[status]):
            o.apply(event_named(o, name, serial))
        assert o.is_done is done, status


def test_restore_fills_rebuilds_totals_without_touching_status():
    o = order()
    fills = [other_fill(execution_id="r1").fill, other_fill(execution_id="r2").fill]
    o.restore_fills(fills)
    assert (o.status, o.filled, o.cost, o.history) == (S.NEW, D(2), D(200), [])
    with pytest.raises(DuplicateFill):
        o.restore_fills([fills[0]])


def test_client_order_id_tags_are_cleaned():
    """Only letters, digits, `_` and `.` survive in the tag, cut to 10 characters; an empty
    tag becomes `manual`. Intent ids keep letters and digits only and are 36 characters."""
    assert new_client_order_id("a-b c/d").startswith("zvt-abcd-")
    assert new_client_order_id("v1.2_x").startswith("zvt-v1.2_x-")
    assert new_client_order_id("---").startswith("zvt-manual-")
    assert len(new_client_order_id("")) == 36
    assert intent_client_order_id("a-b_c", 1).startswith("zvt-abc-")
    assert intent_client_order_id("--", 1).startswith("zvt-manual-")
    for strategy in ("sma", "a_very_long_strategy_name", ""):
        assert len(intent_client_order_id(strategy, "x")) == 36
    # the digest covers every part of the intent, joined unambiguously
    assert intent_client_order_id("s", "ab", "c") != intent_client_order_id("s", "a", "bc")
    assert intent_client_order_id("s", 1) != intent_client_order_id("t", 1)


@pytest.mark.parametrize("field", ["venue", "symbol", "side", "amount"])
def test_oco_legs_must_match_on_every_field(field):
    changed = {
        "venue": {"venue": "other"},
        "symbol": {"symbol": "ETH/USDT"},
        "side": {"side": Side.SELL},
        "amount": {"amount": D(3)},
    }[field]
    fields = {"venue": "paper", "symbol": "BTC/USDT", "side": Side.BUY, "amount": D(2)} | changed
    second = Order(
        "c-2", fields["venue"], fields["symbol"], fields["side"], OrderType.STOP_LOSS,
        fields["amount"], T0, stop_price=D("90"),
    )  # fmt: skip
    with pytest.raises(InvalidOrder) as info:
        oco_pair(order(), second)
    assert str(info.value) == "OCO legs c-1 and c-2 must share venue, symbol, side and amount"
    assert second.linked_client_order_id is None


def test_client_order_id_defaults_and_exact_intent_digest():
    """Without a strategy the tag is `manual`. An intent id is `zvt-<tag>-` plus the first
    31 - len(tag) hex digits of sha256 over the parts joined by `|` (so 36 characters);
    the tag keeps at most 10 letters and digits."""
    assert new_client_order_id().startswith("zvt-manual-")
    parts = ("sma", "2024-01-01T00:00Z", "BTC/USDT", "buy", "0.5")
    digest = hashlib.sha256(b"sma|2024-01-01T00:00Z|BTC/USDT|buy|0.5").hexdigest()
    assert intent_client_order_id(*parts) == f"zvt-sma-{digest[:28]}"
    long_tag = intent_client_order_id("a_very_long_strategy_name", "x")
    assert long_tag.startswith("zvt-averylongs-") and len(long_tag) == 36


def test_a_stop_below_one_quote_unit_is_valid():
    """Cheap coins trade below 1: a stop at 0.5 is a positive stop price."""
    stop = Order(
        "c-1", "paper", "DOGE/USDT", Side.SELL, OrderType.STOP_LOSS, D(100), T0,
        stop_price=D("0.5"),
    )  # fmt: skip
    assert stop.stop_price == D("0.5")
