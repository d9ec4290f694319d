"""Properties of random order flows on a PaperVenue through the OrderManager (hypothesis).

After every step: filled never exceeds amount; the history is one chain from NEW to the
current status and every step in it is legal in the hand-written golden table
(`tests/order_table.py`, independent of the code's own `TRANSITIONS`);
the position per symbol is the signed sum of fills; cash plus position at fill prices is
conserved net of fees, both in the venue's balances and in the manager's; the venue and
the manager agree on every order's fills.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.order_table import GOLDEN
from zvt_pipelines.model.orders import Fill, Liquidity, OrderStatus, OrderType, Side
from zvt_pipelines.oms.manager import OrderManager
from zvt_pipelines.oms.messages import EventBus
from zvt_pipelines.oms.order import (
    DuplicateFill,
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
)
from zvt_pipelines.venues.paper import FixedMarketData, PaperVenue, spot_market

T0 = datetime(2024, 1, 1, tzinfo=UTC)
SYMBOLS = ("BTC/USDT", "ETH/USDT")
START = {"USDT": D("100000"), "BTC": D("3"), "ETH": D("40")}

amounts = st.decimals(min_value=D("0.01"), max_value=D("2"), places=2)
offsets = st.decimals(min_value=D("-5"), max_value=D("5"), places=1)
prices = st.decimals(min_value=D("80"), max_value=D("120"), places=1)
symbols = st.sampled_from(SYMBOLS)
sides = st.sampled_from(["buy", "sell"])
actions = st.one_of(
    st.tuples(st.just("market"), symbols, sides, amounts),
    st.tuples(
        st.just("limit"),
        symbols,
        sides,
        amounts,
        offsets,
        st.sampled_from(["GTC", "IOC", "FOK", "PO"]),
    ),
    st.tuples(st.just("stop"), symbols, sides, amounts, offsets),
    st.tuples(st.just("cancel"), st.integers(0, 30)),
    st.tuples(st.just("price"), symbols, prices),
)


def book_around(data: FixedMarketData, symbol: str, mid: D) -> None:
    """Three levels a side, 0.5 apart, 1 unit each."""
    data.set_book(
        symbol,
        bids=[(str(mid - D("0.5") * k), "1") for k in (1, 2, 3)],
        asks=[(str(mid + D("0.5") * k), "1") for k in (1, 2, 3)],
    )


def check_invariants(manager: OrderManager, venue: PaperVenue) -> None:
    fills: list[Fill] = [f for o in manager.orders.values() for f in o.fills]
    for order in manager.orders.values():
        assert order.filled <= order.amount
        assert order.filled == sum((f.amount for f in order.fills), D(0))
        statuses = [OrderStatus.NEW] + [after for _, _, after in order.history]
        assert [before for before, _, _ in order.history] == statuses[:-1]
        assert statuses[-1] is order.status
        for before, kind, after in order.history:
            assert GOLDEN[(before, kind)] is after
    for symbol in SYMBOLS:
        signed = sum((f.side.sign * f.amount for f in fills if f.symbol == symbol), D(0))
        assert manager.positions.get(("paper", symbol), D(0)) == signed
    cash_flow = sum((-f.side.sign * f.notional - f.fee for f in fills), D(0))
    for balances in (venue.total, manager.balances["paper"]):
        assert balances["USDT"] == START["USDT"] + cash_flow
        for symbol, base in (("BTC/USDT", "BTC"), ("ETH/USDT", "ETH")):
            signed = sum((f.side.sign * f.amount for f in fills if f.symbol == symbol), D(0))
            assert balances[base] == START[base] + signed
    venue_trades = {t["id"] for t in venue.fetch_my_trades()}
    assert {f.execution_id for f in fills} == venue_trades


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(actions, min_size=1, max_size=25))
def test_random_order_flows_keep_the_books_straight(steps):
    data = FixedMarketData("paper", {s: spot_market(s) for s in SYMBOLS})
    mids = {s: D(100) for s in SYMBOLS}
    for symbol in SYMBOLS:
        book_around(data, symbol, mids[symbol])
    venue = PaperVenue(data, START, clock=lambda: T0)
    for symbol in SYMBOLS:
        venue.on_price(symbol, D(100), T0)
    manager = OrderManager({"paper": venue}, EventBus(), clock=lambda: T0)
    manager.refresh_balances("paper")
    sent: list[Order] = []
    for step in steps:
        kind = step[0]
        if kind == "market":
            _, symbol, side, amount = step
            sent.append(
                manager.submit(
                    manager.new_order("paper", symbol, side, "market", amount), mids[symbol]
                )
            )
        elif kind == "limit":
            _, symbol, side, amount, offset, tif = step
            order = manager.new_order(
                "paper", symbol, side, "limit", amount, mids[symbol] + offset, time_in_force=tif
            )
            sent.append(manager.submit(order))
        elif kind == "stop":
            _, symbol, side, amount, offset = step
            stop = mids[symbol] + (-abs(offset) - 1 if side == "sell" else abs(offset) + 1)
            order = manager.new_order(
                "paper", symbol, side, OrderType.STOP_LOSS, amount, stop_price=stop
            )
            sent.append(manager.submit(order, stop))
        elif kind == "cancel" and sent:
            manager.cancel(sent[step[1] % len(sent)].client_order_id)
        elif kind == "price":
            _, symbol, price = step
            mids[symbol] = price
            book_around(data, symbol, price)
            venue.on_price(symbol, price, T0)
            manager.sync_open()
        check_invariants(manager, venue)
    assert all(o.status is not OrderStatus.NEW for o in sent)
    event(f"statuses reached: {sorted({o.status.value for o in sent})}")


EVENTS = st.sampled_from(
    ["submit", "accept", "reject", "fill", "cancel_request", "cancel", "expire", "settle"]
)


def event_of(name: str, serial: int, amount: D):
    cid, ts = "c", T0
    if name == "fill":
        fill = Fill(
            f"e{serial}",
            cid,
            "v",
            "BTC/USDT",
            Side.BUY,
            amount,
            D(100),
            D(0),
            "USDT",
            Liquidity.TAKER,
            ts,
        )
        return OrderFilled(cid, ts, fill)
    return {
        "submit": OrderSubmitted(cid, ts),
        "accept": OrderAccepted(cid, ts, "v1"),
        "reject": OrderRejected(cid, ts, "r"),
        "cancel_request": OrderCancelRequested(cid, ts),
        "cancel": OrderCanceled(cid, ts),
        "expire": OrderExpired(cid, ts),
        "settle": OrderSettled(cid, ts),
    }[name]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(EVENTS, st.decimals(min_value=D("0.1"), max_value=D("1.5"), places=1)),
        max_size=20,
    )
)
def test_any_event_sequence_only_takes_table_transitions(sequence):
    """Events legal in the golden table apply and move to its status; all others raise and
    leave the order untouched."""
    order = Order("c", "v", "BTC/USDT", Side.BUY, OrderType.MARKET, D("2"), T0)
    for serial, (name, amount) in enumerate(sequence):
        event = event_of(name, serial, amount)
        before = (order.status, order.filled, len(order.history))
        kind = order.kind_of(event)
        target = GOLDEN[(order.status, kind)]
        try:
            order.apply(event)
        except IllegalTransition:
            assert target is None
            assert (order.status, order.filled, len(order.history)) == before
            continue
        except (Overfill, DuplicateFill):
            assert target is not None and name == "fill"  # legal, but too much or seen
            assert (order.status, order.filled, len(order.history)) == before
            continue
        assert target is not None and order.status is target
        assert order.history[-1] == (before[0], kind, target)
        assert order.filled <= order.amount
