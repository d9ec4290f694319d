"""The order manager on a PaperVenue: validation, events on the bus, persistence, cancels, OCO, retries."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from zvt_pipelines.errors import VenueUnavailable
from zvt_pipelines.model.orders import OrderStatus, OrderType
from zvt_pipelines.oms.manager import OrderManager
from zvt_pipelines.oms.messages import EventBus, OrderUpdate
from zvt_pipelines.oms.order import (
    OrderAccepted,
    OrderFilled,
    OrderSubmitted,
    intent_client_order_id,
)
from zvt_pipelines.oms.persistence import OrderRecorder
from zvt_pipelines.storage.models import AuditLog, CryptoExecution, CryptoOrder
from zvt_pipelines.venues.paper import FixedMarketData, PaperVenue, spot_market

T0 = datetime(2024, 1, 1, tzinfo=UTC)
SYMBOL = "BTC/USDT"


def make_venue(venue_cls: type[PaperVenue] = PaperVenue) -> PaperVenue:
    """Book bids 99 x 1, 98 x 2; asks 101 x 1, 102 x 2. 10 000 USDT, 5 BTC, 10 bps fees."""
    data = FixedMarketData("paper", {SYMBOL: spot_market(SYMBOL)})
    data.set_book(SYMBOL, bids=[("99", "1"), ("98", "2")], asks=[("101", "1"), ("102", "2")])
    return venue_cls(data, {"USDT": D("10000"), "BTC": D("5")}, clock=lambda: T0)


@pytest.fixture
def venue() -> PaperVenue:
    return make_venue()


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
def updates(bus) -> list[OrderUpdate]:
    seen: list[OrderUpdate] = []
    bus.subscribe(OrderUpdate, seen.append)
    return seen


@pytest.fixture
def manager(venue, bus) -> OrderManager:
    return OrderManager({"paper": venue}, bus, clock=lambda: T0, sleep=lambda s: None)


def test_market_order_publishes_submit_then_ack_and_fills_in_one_update(manager, updates):
    """Buy 2 at market: 1 @ 101 + 1 @ 102 = 203 USDT; fee 0.203; position +2 BTC."""
    order = manager.submit(manager.new_order("paper", SYMBOL, "buy", "market", D("2")), D("101"))
    assert order.status is OrderStatus.FILLED
    assert [type(e) for u in updates for e in u.events] == [
        OrderSubmitted,
        OrderAccepted,
        OrderFilled,
        OrderFilled,
    ]
    assert [len(u.events) for u in updates] == [1, 3]
    assert updates[-1].previous_status is OrderStatus.SUBMITTED
    assert (order.filled, order.cost, order.fee) == (D("2"), D("203"), D("0.203"))
    assert manager.positions[("paper", SYMBOL)] == D("2")
    assert manager.balances["paper"]["USDT"] == D("10000") - D("203") - D("0.203")


def test_amount_and_price_are_snapped_to_precision(manager):
    """Amount 0.1234567 -> 0.12345 (step 0.00001, truncated); buy limit 95.019 -> 95.01 (tick, down)."""
    order = manager.submit(
        manager.new_order("paper", SYMBOL, "buy", "limit", D("0.1234567"), D("95.019"))
    )
    assert (order.amount, order.price, order.status) == (D("0.12345"), D("95.01"), OrderStatus.OPEN)


@pytest.mark.parametrize(
    ("amount", "price", "reason"),
    [
        (D("0.000001"), D("95"), "amount rounds to 0"),
        (D("0.01"), D("95"), "notional 0.95 (0.01 x 95) below the minimum 5"),
        (D("200"), D("95"), "needs 19019.000 USDT, 10000 available"),
    ],
)
def test_pre_trade_denials_name_the_value(manager, updates, amount, price, reason):
    """200 x 95 x (1 + 10 bps) = 19019 USDT needed against 10 000."""
    order = manager.submit(manager.new_order("paper", SYMBOL, "buy", "limit", amount, price))
    assert order.status is OrderStatus.REJECTED
    assert reason in order.reason
    assert [type(e).__name__ for e in updates[0].events] == ["OrderRejected"]


def test_balance_is_net_of_open_order_reservations(manager):
    """Limit buy 90 @ 100 reserves 9009 USDT; a second of 10 @ 100 needs 1001 > 991 left."""
    first = manager.submit(manager.new_order("paper", SYMBOL, "buy", "limit", D("90"), D("100")))
    assert first.status is OrderStatus.OPEN  # the best ask is 101: nothing crosses
    second = manager.submit(manager.new_order("paper", SYMBOL, "buy", "limit", D("10"), D("100")))
    assert second.status is OrderStatus.REJECTED and "available" in second.reason


def test_risk_check_denies_with_its_reason(venue, bus):
    def max_position(order, state):
        held = state.positions.get(order.symbol, D(0))
        return f"position {held + order.amount} above 1" if held + order.amount > 1 else None

    manager = OrderManager({"paper": venue}, bus, risk_check=max_position, clock=lambda: T0)
    ok = manager.submit(manager.new_order("paper", SYMBOL, "buy", "market", D("1")), D("101"))
    denied = manager.submit(manager.new_order("paper", SYMBOL, "buy", "market", D("0.5")), D("101"))
    assert ok.status is OrderStatus.FILLED
    assert denied.status is OrderStatus.REJECTED and denied.reason == "risk: position 1.5 above 1"


def test_resting_order_filled_from_the_stream_is_picked_up_by_sync(manager, venue):
    """Limit buy 3 @ 101: 1 fills at once; the rest when the price touches 101."""
    order = manager.submit(manager.new_order("paper", SYMBOL, "buy", "limit", D("3"), D("101")))
    assert (order.status, order.filled) == (OrderStatus.PARTIALLY_FILLED, D("1"))
    venue.on_price(SYMBOL, D("100.5"), T0)
    assert manager.sync_open() == [order]
    assert (order.status, order.filled) == (OrderStatus.FILLED, D("3"))


def test_cancel_goes_through_cancel_pending(manager, updates):
    order = manager.submit(manager.new_order("paper", SYMBOL, "sell", "limit", D("1"), D("120")))
    manager.cancel(order.client_order_id)
    assert order.status is OrderStatus.CANCELED
    assert [s for s, _, _ in order.history] == ["NEW", "SUBMITTED", "OPEN", "CANCEL_PENDING"]


@pytest.mark.parametrize("native", [True, False])
def test_oco_fill_of_one_leg_cancels_the_other(native, bus):
    """Sell TP limit 1 @ 110 and sell stop 1 @ 90. Price falls to 89: the stop fills @ 90.

    With a native-OCO venue the venue cancels the take-profit; without, the manager does.
    """
    venue_cls = PaperVenue if native else type("PlainPaper", (PaperVenue,), {"native_oco": False})
    venue = make_venue(venue_cls)
    venue.on_price(SYMBOL, D("100"), T0)
    manager = OrderManager({"paper": venue}, bus, clock=lambda: T0)
    tp = manager.new_order("paper", SYMBOL, "sell", "limit", D("1"), D("110"))
    stop = manager.new_order("paper", SYMBOL, "sell", "stop_loss", D("1"), stop_price=D("90"))
    manager.submit_oco(tp, stop)
    assert manager.portfolio_state("paper").reserved == {"BTC": D("1")}
    venue.on_price(SYMBOL, D("89"), T0)
    manager.sync_open()
    assert stop.status is OrderStatus.FILLED and stop.average_price == D("90")
    assert tp.status is OrderStatus.CANCELED and "OCO" in tp.reason
    assert venue.fetch_order(tp.venue_order_id)["status"] == "canceled"


class LosesAnswers(PaperVenue):
    """A paper venue whose first `create_order` answers are lost after the order was placed."""

    lost = 1

    def create_order(self, *args, **kwargs):
        answer = super().create_order(*args, **kwargs)
        if self.lost:
            self.lost -= 1
            raise VenueUnavailable("read timeout after the order reached the venue")
        return answer


def test_create_timeout_is_retried_with_the_same_client_id_leaving_one_order(bus):
    venue = make_venue(LosesAnswers)
    manager = OrderManager({"paper": venue}, bus, clock=lambda: T0, sleep=lambda s: None)
    cid = intent_client_order_id("sma", "2024-01-01T00:00", SYMBOL, "buy", "1")
    order = manager.submit(
        manager.new_order("paper", SYMBOL, "buy", "market", D("1"), client_order_id=cid), D("101")
    )
    assert order.status is OrderStatus.FILLED and order.client_order_id == cid
    assert len(venue.fetch_my_trades()) == 1 and len(venue.engine.orders) == 1


def test_timeouts_that_outlive_the_attempts_leave_the_order_submitted(bus):
    venue = make_venue(LosesAnswers)
    venue.lost = 5
    manager = OrderManager({"paper": venue}, bus, clock=lambda: T0, sleep=lambda s: None)
    order = manager.new_order("paper", SYMBOL, "buy", "market", D("1"))
    with pytest.raises(VenueUnavailable):
        manager.submit(order, D("101"))
    assert order.status is OrderStatus.SUBMITTED
    manager.sync(order.client_order_id)
    assert order.status is OrderStatus.FILLED and len(order.fills) == 1


def test_every_change_is_recorded_once_with_audit_rows(db, venue, bus):
    OrderRecorder(db).attach(bus)
    manager = OrderManager({"paper": venue}, bus, clock=lambda: T0)
    market = manager.submit(manager.new_order("paper", SYMBOL, "buy", "market", D("2")), D("101"))
    limit = manager.submit(manager.new_order("paper", SYMBOL, "sell", "limit", D("1"), D("120")))
    manager.cancel(limit.client_order_id)
    denied = manager.submit(manager.new_order("paper", SYMBOL, "buy", "limit", D("0.01"), D("95")))
    recorder = OrderRecorder(db)
    with db.transaction() as session:
        rows = {r.client_order_id: r for r in session.scalars(sa.select(CryptoOrder))}
        executions = session.scalars(sa.select(CryptoExecution)).all()
        audits = session.scalars(sa.select(AuditLog).order_by(AuditLog.id)).all()
    assert rows[market.client_order_id].status == "FILLED"
    assert rows[market.client_order_id].average_price == D("101.5")
    assert rows[market.client_order_id].fee == D("0.203")
    assert rows[limit.client_order_id].status == "CANCELED"
    assert rows[denied.client_order_id].status == "REJECTED"
    assert sorted((e.amount, e.price) for e in executions) == [
        (D("1"), D("101")),
        (D("1"), D("102")),
    ]
    assert [(a.action, a.entity_id) for a in audits] == [
        ("order_canceled", limit.client_order_id),
        ("order_rejected", denied.client_order_id),
    ]
    assert audits[0].old == {"status": "CANCEL_PENDING"}
    # Replaying an update (e.g. after a restart) changes nothing.
    from zvt_pipelines.oms.messages import OrderSnapshot

    recorder.record(
        OrderUpdate(
            OrderSnapshot.of(market),
            tuple(OrderFilled(f.client_order_id, f.timestamp, f) for f in market.fills),
            OrderStatus.FILLED,
        )
    )
    with db.transaction() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(CryptoExecution)) == 2


def test_trailing_stop_parameters_survive_the_database(db, venue, bus):
    from zvt_pipelines.oms.persistence import load_active_orders

    OrderRecorder(db).attach(bus)
    venue.on_price(SYMBOL, D("100"), T0)
    manager = OrderManager({"paper": venue}, bus, clock=lambda: T0)
    order = manager.new_order(
        "paper", SYMBOL, "sell", OrderType.TRAILING_STOP, D("1"), trailing_percent=D("2.5")
    )
    manager.submit(order, D("100"))
    (loaded,) = load_active_orders(db)
    assert (loaded.client_order_id, loaded.status, loaded.trailing_percent) == (
        order.client_order_id,
        OrderStatus.OPEN,
        D("2.5"),
    )


def test_emulated_stop_is_held_until_the_stream_reaches_it(manager, venue):
    """Sell stop 95 held by the OMS: 96 does nothing (venue sees no order); 94 releases a
    market sell that fills at the best bid 99 (the fixed book)."""
    from zvt_pipelines.oms.emulated import OrderEmulator

    emulator = OrderEmulator(manager)
    stop = emulator.submit(
        manager.new_order("paper", SYMBOL, "sell", "stop_loss", D("1"), stop_price=D("95")),
        D("100"),
    )
    assert stop.status is OrderStatus.NEW and manager.portfolio_state("paper").reserved == {
        "BTC": D("1")
    }
    assert emulator.on_price(SYMBOL, D("96")) == [] and venue.engine.orders == {}
    assert emulator.on_price(SYMBOL, D("94")) == [stop]
    assert stop.status is OrderStatus.FILLED and stop.average_price == D("99")
    assert venue.fetch_order(stop.client_order_id)["clientOrderId"] == stop.client_order_id


def test_emulated_trailing_stop_ratchets_then_fires(manager):
    """Sell trailing 2 USDT from 100: 110 moves the stop to 108; 108.5 holds; 107.9 fires."""
    from zvt_pipelines.oms.emulated import OrderEmulator

    emulator = OrderEmulator(manager)
    order = manager.new_order(
        "paper", SYMBOL, "sell", "trailing_stop", D("1"), trailing_amount=D("2")
    )
    emulator.submit(order, D("100"))
    assert emulator.on_price(SYMBOL, D("110")) == [] and emulator.on_price(SYMBOL, D("108.5")) == []
    assert emulator.on_price(SYMBOL, D("107.9")) == [order] and order.status is OrderStatus.FILLED


def test_emulated_oco_first_trigger_cancels_the_other_leg(manager):
    from zvt_pipelines.oms.emulated import OrderEmulator

    emulator = OrderEmulator(manager)
    tp = manager.new_order("paper", SYMBOL, "sell", "take_profit", D("1"), stop_price=D("110"))
    stop = manager.new_order("paper", SYMBOL, "sell", "stop_loss", D("1"), stop_price=D("90"))
    emulator.submit_oco(tp, stop, D("100"))
    assert manager.portfolio_state("paper").reserved == {"BTC": D("1")}
    assert emulator.on_price(SYMBOL, D("111")) == [tp]
    assert tp.status is OrderStatus.FILLED
    assert stop.status is OrderStatus.CANCELED and "triggered" in stop.reason
    assert emulator.on_price(SYMBOL, D("80")) == []


def test_emulated_orders_are_held_again_after_a_restart(db, venue, bus):
    from zvt_pipelines.oms.emulated import OrderEmulator
    from zvt_pipelines.oms.reconcile import reconcile

    OrderRecorder(db).attach(bus)
    manager = OrderManager({"paper": venue}, bus, clock=lambda: T0)
    held = OrderEmulator(manager).submit(
        manager.new_order("paper", SYMBOL, "sell", "stop_loss", D("1"), stop_price=D("95")),
        D("100"),
    )
    restarted = OrderManager({"paper": venue}, EventBus(), clock=lambda: T0)
    assert reconcile(restarted, db).checked == 0
    emulator = OrderEmulator(restarted)
    assert emulator.resume() == 1
    (released,) = emulator.on_price(SYMBOL, D("94"))
    assert (
        released.client_order_id == held.client_order_id and released.status is OrderStatus.FILLED
    )


def test_ioc_partial_fill_expires_the_rest_and_settles_nothing_until_filled(manager):
    """IOC buy 2 @ 101: 1 fills @ 101, 1 expires -> OPEN, PARTIALLY_FILLED, EXPIRED."""
    order = manager.submit(
        manager.new_order("paper", SYMBOL, "buy", "limit", D("2"), D("101"), time_in_force="IOC")
    )
    assert [after for _, _, after in order.history][-2:] == [
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.EXPIRED,
    ]
    assert order.filled == D("1")
    market = manager.submit(manager.new_order("paper", SYMBOL, "sell", "market", D("1")), D("99"))
    assert manager.settle(market.client_order_id).status is OrderStatus.SETTLED


def test_fok_and_post_only_through_the_manager(manager):
    """FOK buy 4 @ 102 sees only 3 fillable: EXPIRED with nothing filled; post-only crossing: REJECTED."""
    fok = manager.submit(
        manager.new_order("paper", SYMBOL, "buy", "limit", D("4"), D("102"), time_in_force="FOK")
    )
    assert (fok.status, fok.filled) == (OrderStatus.EXPIRED, D(0))
    post = manager.submit(
        manager.new_order("paper", SYMBOL, "buy", "limit", D("1"), D("101"), time_in_force="PO")
    )
    assert post.status is OrderStatus.REJECTED and "post-only" in post.reason


def test_an_update_is_all_or_nothing(db, venue, bus):
    """A fill that breaks the foreign key (unknown client id) rolls back the order row written
    in the same update: on PostgreSQL that proves the multi-statement write is one transaction."""
    from zvt_pipelines.model.orders import Fill, Liquidity, Side
    from zvt_pipelines.oms.messages import OrderSnapshot

    manager = OrderManager({"paper": venue}, bus, clock=lambda: T0)
    order = manager.new_order("paper", SYMBOL, "buy", "limit", D("1"), D("90"))
    ghost = Fill(
        "x-1",
        "ghost",
        "paper",
        SYMBOL,
        Side.BUY,
        D("1"),
        D("90"),
        D(0),
        "USDT",
        Liquidity.MAKER,
        T0,
    )
    update = OrderUpdate(
        OrderSnapshot.of(order), (OrderFilled("ghost", T0, ghost),), OrderStatus.NEW
    )
    with pytest.raises(sa.exc.IntegrityError):
        OrderRecorder(db).record(update)
    with db.transaction() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(CryptoOrder)) == 0


def test_unknown_market_is_denied(manager):
    order = manager.submit(manager.new_order("paper", "DOGE/USDT", "buy", "limit", D("1"), D("1")))
    assert order.status is OrderStatus.REJECTED and "lists no market 'DOGE/USDT'" in order.reason


def test_oco_partial_fill_cancels_the_other_leg_on_a_plain_venue(bus):
    """Leg 1, buy limit 3 @ 101.5, takes the 1 offered @ 101 at once and rests for 2; leg 2
    (a buy stop at 120) is therefore canceled before it is ever sent."""
    venue = make_venue(type("PlainPaper", (PaperVenue,), {"native_oco": False}))
    manager = OrderManager({"paper": venue}, bus, clock=lambda: T0)
    limit = manager.new_order("paper", SYMBOL, "buy", "limit", D("3"), D("101.5"))
    stop = manager.new_order("paper", SYMBOL, "buy", "stop_loss", D("3"), stop_price=D("120"))
    manager.submit_oco(limit, stop, D("101"))
    assert (limit.status, limit.filled) == (OrderStatus.PARTIALLY_FILLED, D("1"))
    assert stop.status is OrderStatus.CANCELED and stop.venue_order_id is None


def test_oco_later_fill_cancels_the_resting_partner(bus):
    """Sell limit 2 @ 120 and sell stop 2 @ 90 both rest (a plain venue reserves 4 of the 5 BTC);
    the price touching 121 fills the limit and the manager cancels the stop at the venue."""
    venue = make_venue(type("PlainPaper", (PaperVenue,), {"native_oco": False}))
    venue.on_price(SYMBOL, D("100"), T0)
    manager = OrderManager({"paper": venue}, bus, clock=lambda: T0)
    limit = manager.new_order("paper", SYMBOL, "sell", "limit", D("2"), D("120"))
    stop = manager.new_order("paper", SYMBOL, "sell", "stop_loss", D("2"), stop_price=D("90"))
    manager.submit_oco(limit, stop)
    assert (limit.status, stop.status) == (OrderStatus.OPEN, OrderStatus.OPEN)
    venue.on_price(SYMBOL, D("121"), T0)
    manager.sync_open()
    assert limit.status is OrderStatus.FILLED and stop.status is OrderStatus.CANCELED
    assert venue.fetch_order(stop.venue_order_id)["status"] == "canceled"
