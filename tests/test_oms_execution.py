"""Execution algorithms and the smart router driving real orders through the order manager."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from zvt_pipelines.model.orders import OrderType, Side
from zvt_pipelines.oms.algo_sink import ManagerSink, route_order
from zvt_pipelines.oms.algos import Iceberg, twap
from zvt_pipelines.oms.algos.base import AlgoState
from zvt_pipelines.oms.manager import OrderManager
from zvt_pipelines.oms.messages import EventBus
from zvt_pipelines.oms.persistence import OrderRecorder
from zvt_pipelines.oms.router import SmartOrderRouter
from zvt_pipelines.storage.models import CryptoOrder
from zvt_pipelines.venues.paper import FixedMarketData, PaperVenue, spot_market

SYMBOL = "BTC/USDT"
T0 = datetime(2025, 3, 2, 12, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def venue(name: str, asks: list[tuple[str, str]], clock: Clock, fee_bps: int = 10) -> PaperVenue:
    data = FixedMarketData(name, {SYMBOL: spot_market(SYMBOL)})
    data.set_book(SYMBOL, bids=[("99", "10")], asks=asks)
    return PaperVenue(
        data,
        {"USDT": Decimal(1_000_000), "BTC": Decimal(10)},
        venue_id=name,
        taker_bps=Decimal(fee_bps),
        maker_bps=Decimal(fee_bps),
        clock=clock,
    )


def manager_for(venues: dict, clock: Clock, db=None) -> OrderManager:
    bus = EventBus()
    if db is not None:
        OrderRecorder(db).attach(bus)
    return OrderManager(venues, bus, clock=clock)


def test_twap_children_are_real_orders_and_the_parent_completes(db):
    """1 BTC over 10 minutes every 2 minutes: five market children of 0.2 BTC, each filled at
    the 101 ask, recorded with the parent's id; the venue ends 1 BTC richer."""
    clock = Clock()
    paper = venue("sim_a", [("101", "100")], clock)
    manager = manager_for({"sim_a": paper}, clock, db)
    sink = ManagerSink(manager, strategy="twap-test")
    parent = sink.attach(
        twap(
            "p1",
            SYMBOL,
            "buy",
            Decimal(1),
            start=T0,
            duration=timedelta(minutes=10),
            interval=timedelta(minutes=2),
            venue="sim_a",
            sink=sink,
            amount_step=Decimal("0.00001"),
        )
    )
    for minute in range(0, 12, 2):
        clock.now = T0 + timedelta(minutes=minute)
        parent.on_tick(clock.now)
        sink.deliver()
    assert parent.state is AlgoState.COMPLETED
    assert paper.fetch_balance()["total"]["BTC"] == Decimal(11)
    with db.transaction() as session:
        rows = session.scalars(sa.select(CryptoOrder).order_by(CryptoOrder.id)).all()
    assert [(r.amount, r.status, r.parent_client_order_id) for r in rows] == [
        (Decimal("0.2"), "FILLED", "p1")
    ] * 5


def test_iceberg_shows_one_slice_and_replenishes_after_each_fill():
    """2 BTC bought as an iceberg of 0.5 BTC limit buys at 100 (the ask is 101, so each slice
    rests). Each time the price trades at 100 the resting slice fills and the next appears."""
    clock = Clock()
    paper = venue("sim_a", [("101", "100")], clock)
    manager = manager_for({"sim_a": paper}, clock)
    sink = ManagerSink(manager)
    parent = sink.attach(
        Iceberg(
            "ice",
            SYMBOL,
            "buy",
            Decimal(2),
            visible=Decimal("0.5"),
            start=T0,
            venue="sim_a",
            sink=sink,
            amount_step=Decimal("0.00001"),
            order_type=OrderType.LIMIT,
            limit_price=Decimal(100),
        )
    )
    parent.on_tick(T0)
    sink.deliver()
    for _ in range(4):
        assert [Decimal(str(o["amount"])) for o in paper.fetch_open_orders(SYMBOL)] == [
            Decimal("0.5")
        ]
        paper.on_price(SYMBOL, Decimal(100))
        manager.sync_open()
        sink.deliver()
    assert parent.state is AlgoState.COMPLETED
    assert paper.fetch_open_orders(SYMBOL) == []
    assert paper.fetch_balance()["total"]["BTC"] == Decimal(12)


def test_router_splits_across_venues_and_the_manager_fills_each_leg():
    """Buy 3 BTC: venue a asks 100 × 1 then 110 × 5; venue b asks 101 × 1 then 112 × 5;
    venue c asks 103 × 5 (same 10 bps fee everywhere). Cheapest by fee-adjusted price:
    1 @100 (a), 1 @101 (b), 1 @103 (c) — a three-way split beats any one venue."""
    clock = Clock()
    venues = {
        "a": venue("a", [("100", "1"), ("110", "5")], clock),
        "b": venue("b", [("101", "1"), ("112", "5")], clock),
        "c": venue("c", [("103", "5")], clock),
    }
    manager = manager_for(venues, clock)
    report, children = route_order(
        manager,
        SmartOrderRouter(venues),
        SYMBOL,
        Side.BUY,
        Decimal(3),
        strategy="router-test",
        client_order_id="r1",
    )
    filled = {child.venue: (child.filled, child.average_price) for child in children}
    assert filled == {
        "a": (Decimal(1), Decimal(100)),
        "b": (Decimal(1), Decimal(101)),
        "c": (Decimal(1), Decimal(103)),
    }
    assert all(
        child.status.value == "FILLED" and child.parent_client_order_id == "r1"
        for child in children
    )
    assert str(report.decision).lower().endswith("split")
