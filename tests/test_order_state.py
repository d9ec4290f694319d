"""The order state machine: the transition table, illegal transitions, fills, client order ids."""

from __future__ import annotations

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
    }[name]


def test_golden_table_names_every_status_and_event_kind():
    assert set(GOLDEN) == {(s, k) for s in OrderStatus for k in EventKind}
    assert len(GOLDEN) == 10 * 9


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
