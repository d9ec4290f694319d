"""TWAP, VWAP and iceberg parents driven by a clock, with an in-memory order sink."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zvt_pipelines.errors import DataError, IllegalAlgoTransition, InvalidOrder
from zvt_pipelines.model.orders import Fill, Liquidity, OrderType, Side
from zvt_pipelines.oms.algos import (
    AlgoState,
    Iceberg,
    intraday_volume_profile,
    split_by_weights,
    twap,
    vwap,
)

T0 = datetime(2024, 8, 5, tzinfo=UTC)
MIN = timedelta(minutes=1)


class ListSink:
    """Records submitted and cancelled children; the venue's answers are simulated by the test."""

    def __init__(self) -> None:
        self.orders: list[dict] = []
        self.cancels: list[str] = []

    def submit(self, symbol, side, amount, price=None, *, venue, order_type, time_in_force,
               client_order_id, parent_id) -> str:  # fmt: skip
        self.orders.append(dict(symbol=symbol, side=side, amount=amount, price=price, venue=venue,
                                type=order_type, id=client_order_id, parent=parent_id))  # fmt: skip
        return client_order_id

    def cancel(self, client_order_id: str) -> None:
        self.cancels.append(client_order_id)


def fill_of(order: dict, amount: D | None = None, at: datetime = T0, n: int = 0) -> Fill:
    return Fill(f"x-{order['id']}-{n}", order["id"], order["venue"], order["symbol"], order["side"],
                amount or order["amount"], D(100), D(0), "USDT", Liquidity.TAKER, at)  # fmt: skip


def make_twap(sink, amount="1", step="0.001", **kw):
    return twap("p1", "BTC/USDT", Side.BUY, D(amount), start=T0, duration=10 * MIN,
                interval=2 * MIN, venue="sim_a", sink=sink, amount_step=D(step), **kw)  # fmt: skip


def test_twap_five_equal_slices_at_two_minute_steps():
    """1 BTC over 10 minutes every 2 minutes: 10/2 = 5 slices of 1/5 = 0.2 at 0, 2, 4, 6, 8 min."""
    sink = ListSink()
    algo = make_twap(sink)
    assert algo.state is AlgoState.PENDING
    assert algo.on_tick(T0 - MIN) == []
    for minute in range(10):
        now = T0 + minute * MIN
        if algo.on_tick(now):
            algo.on_fill(fill_of(sink.orders[-1], at=now))
        assert algo.state is (AlgoState.COMPLETED if minute >= 8 else AlgoState.RUNNING)
    assert [o["amount"] for o in sink.orders] == [D("0.2")] * 5
    assert [o["id"] for o in sink.orders] == [f"p1-{i}" for i in range(1, 6)]
    assert algo.filled == D(1)
    assert sink.cancels == []


def test_twap_last_slice_takes_rounding_remainder():
    """0.01 BTC in 3 slices on a 0.001 step: cumulative floor(0.00333)=0.003, floor(0.00666)=0.006,
    then 0.01 -> slices 0.003, 0.003, 0.004; no dust left."""
    sink = ListSink()
    algo = twap("p2", "BTC/USDT", "sell", D("0.01"), start=T0, duration=3 * MIN, interval=MIN,
                venue="sim_a", sink=sink, amount_step=D("0.001"))  # fmt: skip
    assert [s.amount for s in algo.schedule] == [D("0.003"), D("0.003"), D("0.004")]


def test_twap_unfilled_slice_is_cancelled_and_rolled_forward():
    """Slice 1 (0.2) fills only 0.05. At minute 2 the next slice is due: the open child is
    cancelled and nothing new goes out until the cancel is confirmed. Then the parent sends
    due 0.4 - filled 0.05 = 0.35."""
    sink = ListSink()
    algo = make_twap(sink)
    algo.on_tick(T0)
    algo.on_fill(fill_of(sink.orders[0], D("0.05")))
    assert algo.on_tick(T0 + 2 * MIN) == []
    assert sink.cancels == ["p1-1"]
    assert algo.on_tick(T0 + 2 * MIN + timedelta(seconds=5)) == []  # still waiting for the cancel
    algo.on_child_closed("p1-1")
    assert algo.on_tick(T0 + 2 * MIN + timedelta(seconds=10)) == ["p1-2"]
    assert sink.orders[-1]["amount"] == D("0.35")


def test_risk_denial_skips_a_child_and_the_amount_is_caught_up():
    """The check refuses any child while 'halted' is set: the 0.2 due at minute 0 is denied; at
    minute 2 the parent sends due 0.4 - 0 = 0.4 in one child."""
    sink = ListSink()
    state = {"halted": True}
    seen = []

    def check(request, market_state):
        seen.append((request.amount, market_state))
        return "trading halted" if state["halted"] else None

    algo = make_twap(sink, risk_check=check)
    assert algo.on_tick(T0, {"bid": 99}) == []
    assert algo.denials[0].reason == "trading halted"
    state["halted"] = False
    algo.on_tick(T0 + 2 * MIN, {"bid": 98})
    assert [o["amount"] for o in sink.orders] == [D("0.4")]
    assert seen == [(D("0.2"), {"bid": 99}), (D("0.4"), {"bid": 98})]


def test_cancel_cancels_the_live_child_and_is_final():
    sink = ListSink()
    algo = make_twap(sink)
    algo.on_tick(T0)
    algo.cancel()
    assert algo.state is AlgoState.CANCELED
    assert sink.cancels == ["p1-1"]
    assert algo.on_tick(T0 + 4 * MIN) == []
    with pytest.raises(IllegalAlgoTransition, match="cancel.*CANCELED"):
        algo.cancel()


def test_vwap_slices_follow_an_hourly_profile():
    """Two days of hourly candles, volumes at 00h: 10, 30; 01h: 60, 20; 02h: 40, 40.
    Means 20, 40, 40 -> profile 0.2, 0.4, 0.4 (other hours 0).
    2 BTC from 00:00 for 90 minutes every 30: windows get 0.2*0.5 = 0.1, 0.1, 0.4*0.5 = 0.2,
    i.e. shares 1/4, 1/4, 1/2 -> 0.5, 0.5, 1.0 BTC.
    """
    ts = [T0 + timedelta(days=d, hours=h) for d in (0, 1) for h in (0, 1, 2)]
    candles = pd.DataFrame({"ts": pd.to_datetime(ts, utc=True), "volume": [10, 60, 40, 30, 20, 40]})
    profile = intraday_volume_profile(candles, "hour")
    assert len(profile) == 24
    assert profile.iloc[:3].tolist() == pytest.approx([0.2, 0.4, 0.4], abs=1e-12)
    sink = ListSink()
    algo = vwap("v1", "BTC/USDT", Side.BUY, D(2), start=T0, duration=90 * MIN, interval=30 * MIN,
                profile=profile, venue="sim_a", sink=sink, amount_step=D("0.001"))  # fmt: skip
    assert [(s.at - T0, s.amount) for s in algo.schedule] == [
        (timedelta(0), D("0.5")),
        (30 * MIN, D("0.5")),
        (60 * MIN, D("1")),
    ]


def test_vwap_minute_profile_and_empty_window():
    """Minute profile: 00:00 volume 1, 00:01 volume 3 -> shares 0.25, 0.75. 1 BTC over 2 minutes
    every minute: 0.25 then 0.75. A window with no volume (01:00-01:02) raises."""
    candles = pd.DataFrame({"ts": pd.to_datetime([T0, T0 + MIN], utc=True), "volume": [1.0, 3.0]})
    profile = intraday_volume_profile(candles, "minute")
    sink = ListSink()
    kw = dict(venue="sim_a", sink=sink, amount_step=D("0.01"), profile=profile, duration=2 * MIN,
              interval=MIN)  # fmt: skip
    algo = vwap("v2", "BTC/USDT", Side.SELL, D(1), start=T0, **kw)
    assert [s.amount for s in algo.schedule] == [D("0.25"), D("0.75")]
    with pytest.raises(DataError, match="no volume"):
        vwap("v3", "BTC/USDT", Side.SELL, D(1), start=T0 + 60 * MIN, **kw)


def test_iceberg_replenishes_and_never_shows_more_than_visible():
    """Total 1, visible 0.3: children 0.3, 0.3, 0.3, 0.1 (= 1 - 0.9), each sent as soon as the
    previous one fills; a partial fill does not replenish."""
    sink = ListSink()
    algo = Iceberg("i1", "BTC/USDT", Side.SELL, D(1), visible=D("0.3"), start=T0, venue="sim_a",
                   sink=sink, amount_step=D("0.01"), order_type=OrderType.LIMIT,
                   limit_price=D(101))  # fmt: skip
    assert algo.on_tick(T0) == ["i1-1"]
    assert algo.on_fill(fill_of(sink.orders[0], D("0.1"), n=1)) == []
    assert algo.on_fill(fill_of(sink.orders[0], D("0.2"), n=2)) == ["i1-2"]
    algo.on_fill(fill_of(sink.orders[1]))
    algo.on_fill(fill_of(sink.orders[2]))
    assert algo.state is AlgoState.RUNNING
    algo.on_fill(fill_of(sink.orders[3]))
    assert [o["amount"] for o in sink.orders] == [D("0.3"), D("0.3"), D("0.3"), D("0.1")]
    assert all(o["price"] == D(101) and o["type"] is OrderType.LIMIT for o in sink.orders)
    assert algo.state is AlgoState.COMPLETED
    assert algo.on_tick(T0 + MIN) == []


def test_iceberg_resends_after_a_venue_cancel():
    sink = ListSink()
    algo = Iceberg("i2", "BTC/USDT", Side.BUY, D(1), visible=D("0.5"), start=T0, venue="sim_a",
                   sink=sink, amount_step=D("0.1"))  # fmt: skip
    algo.on_tick(T0)
    algo.on_fill(fill_of(sink.orders[0], D("0.2")))
    algo.on_child_closed("i2-1")
    assert algo.on_tick(T0 + MIN) == ["i2-2"]
    assert sink.orders[-1]["amount"] == D("0.5")
    assert algo.remaining == D("0.3")


def test_bad_parameters_are_refused():
    sink = ListSink()
    with pytest.raises(InvalidOrder, match="multiple of step"):
        make_twap(sink, amount="1.0005")
    with pytest.raises(InvalidOrder, match="whole number"):
        twap("p", "BTC/USDT", Side.BUY, D(1), start=T0, duration=5 * MIN, interval=2 * MIN,
             venue="v", sink=sink, amount_step=D("0.1"))  # fmt: skip
    algo = make_twap(sink)
    algo.on_tick(T0)
    with pytest.raises(InvalidOrder, match="exceeds"):
        algo.on_fill(fill_of(sink.orders[0], D("0.3")))


@settings(max_examples=200, deadline=None)
@given(
    units=st.integers(min_value=1, max_value=10**6),
    weights=st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=30).filter(any),
    step_exp=st.integers(min_value=0, max_value=8),
)
def test_split_by_weights_adds_up_on_the_step(units, weights, step_exp):
    """Slices sum to the total exactly, every slice is a non-negative multiple of the step."""
    step = D(1).scaleb(-step_exp)
    total = units * step
    slices = split_by_weights(total, [D(w) for w in weights], step)
    assert sum(slices) == total
    assert all(s >= 0 and s % step == 0 for s in slices)
