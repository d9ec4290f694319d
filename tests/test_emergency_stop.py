"""Emergency stop with open orders on two venues: everything cancelled, positions flattened,
each step in the audit log."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa

from zvt_pipelines.errors import VenueUnavailable
from zvt_pipelines.model.orders import OrderStatus
from zvt_pipelines.oms.manager import OrderManager
from zvt_pipelines.oms.messages import EventBus
from zvt_pipelines.oms.persistence import OrderRecorder
from zvt_pipelines.portfolio.accounts import strategy_fills
from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.models import AuditLog, CryptoOrder
from zvt_pipelines.strategies import parse_strategies_config
from zvt_pipelines.trading.emergency import emergency_stop
from zvt_pipelines.trading.lifecycle import Status, get_status, sync_strategies
from zvt_pipelines.venues.paper import FixedMarketData, PaperVenue, spot_market

SYMBOL = "BTC/USDT"
NOW = datetime(2025, 3, 2, 12, tzinfo=UTC)


def venue(name: str, cls: type[PaperVenue] = PaperVenue) -> PaperVenue:
    data = FixedMarketData(name, {SYMBOL: spot_market(SYMBOL)})
    data.set_book(SYMBOL, bids=[("99", "5"), ("98", "5")], asks=[("101", "5"), ("102", "5")])
    return cls(data, {"USDT": Decimal(10_000), "BTC": Decimal(0)}, venue_id=name, clock=lambda: NOW)


def test_stop_cancels_on_both_venues_and_flattens(tmp_path):
    """On each venue the strategy bought 1 BTC at 101 (market) and rests a buy at 90 and a
    sell at 120. The stop must cancel the four resting orders and sell 1 BTC on each venue
    into the 99 bid: the strategy ends flat."""
    db = Database(f"sqlite:///{tmp_path}/zvt.db")
    db.upgrade()
    entry = parse_strategies_config(
        [
            {
                "name": "mm",
                "type": "sma_cross",
                "symbols": ["sim_a:BTC/USDT", "sim_b:BTC/USDT"],
                "amount_per_trade": 1,
            }
        ]
    ).strategies[0]
    sync_strategies(db, [entry], actor="test")
    venues = {"sim_a": venue("sim_a"), "sim_b": venue("sim_b")}
    bus = EventBus()
    recorder = OrderRecorder(db).attach(bus)
    manager = OrderManager(venues, bus, clock=lambda: NOW)
    for name in venues:
        manager.submit(manager.new_order(name, SYMBOL, "buy", "market", Decimal(1), strategy="mm"))
        manager.submit(
            manager.new_order(name, SYMBOL, "buy", "limit", Decimal(1), Decimal(90), strategy="mm")
        )
        manager.submit(
            manager.new_order(
                name, SYMBOL, "sell", "limit", Decimal("0.5"), Decimal(120), strategy="mm"
            )
        )
    recorder.close()
    assert sum(len(v.fetch_open_orders(SYMBOL)) for v in venues.values()) == 4

    report = emergency_stop(db, "mm", venues, lambda: NOW, flatten=True, actor="risk-desk")

    assert len(report.canceled) == 4 and report.not_found == []
    assert report.complete and report.failed == []
    assert all(v.fetch_open_orders(SYMBOL) == [] for v in venues.values())
    assert [
        (step["venue"], step["side"], step["amount"], step["status"]) for step in report.flattened
    ] == [
        ("sim_a", "sell", "1", "FILLED"),
        ("sim_b", "sell", "1", "FILLED"),
    ]
    held = {}
    for fill in strategy_fills(db, "mm"):
        held[fill.venue] = held.get(fill.venue, Decimal(0)) + fill.side.sign * fill.amount
    assert held == {"sim_a": Decimal(0), "sim_b": Decimal(0)}
    assert get_status(db, "mm") is Status.STOPPED
    with db.transaction() as session:
        statuses = session.scalars(
            sa.select(CryptoOrder.status).where(CryptoOrder.order_type == "limit")
        ).all()
        trail = session.scalars(
            sa.select(AuditLog).where(AuditLog.entity_id == "mm").order_by(AuditLog.id)
        ).all()
        actions = [(row.action, row.actor) for row in trail]
    assert statuses == [OrderStatus.CANCELED.value] * 4
    assert actions == [
        ("strategy_deployed", "test"),
        ("strategy_stopped", "risk-desk"),
        ("emergency_stop_started", "risk-desk"),
        *[("emergency_cancel", "risk-desk")] * 4,
        ("emergency_flatten", "risk-desk"),
        ("emergency_flatten", "risk-desk"),
        ("emergency_stop_finished", "risk-desk"),
    ]


class CancelsTimeOut(PaperVenue):
    """A paper venue whose cancel requests time out (a venue in trouble during the stop)."""

    def cancel_order(self, id, symbol=None):  # noqa: A002 - ccxt's name
        raise VenueUnavailable("sim_b: cancel timed out")


def test_stop_cancels_what_it_can_and_reports_what_it_could_not(tmp_path):
    """Resting buys on sim_a (healthy) and sim_b (cancels time out) plus 1 BTC bought on each.
    The stop cancels sim_a's order, leaves sim_b's open and reports it, and still flattens
    both positions: nothing that could be done is skipped because of one failure."""
    db = Database(f"sqlite:///{tmp_path}/zvt.db")
    db.upgrade()
    entry = parse_strategies_config(
        [
            {
                "name": "mm",
                "type": "sma_cross",
                "symbols": ["sim_a:BTC/USDT", "sim_b:BTC/USDT"],
                "amount_per_trade": 1,
            }
        ]
    ).strategies[0]
    sync_strategies(db, [entry], actor="test")
    venues = {"sim_a": venue("sim_a"), "sim_b": venue("sim_b", CancelsTimeOut)}
    bus = EventBus()
    recorder = OrderRecorder(db).attach(bus)
    manager = OrderManager(venues, bus, clock=lambda: NOW)
    resting = {}
    for name in venues:
        manager.submit(manager.new_order(name, SYMBOL, "buy", "market", Decimal(1), strategy="mm"))
        order = manager.new_order(
            name, SYMBOL, "buy", "limit", Decimal(1), Decimal(90), strategy="mm"
        )
        resting[name] = manager.submit(order).client_order_id
    recorder.close()

    report = emergency_stop(db, "mm", venues, lambda: NOW, flatten=True, actor="risk-desk")

    assert report.canceled == [resting["sim_a"]]
    assert not report.complete
    assert report.failed == [
        {"step": "cancel", "what": resting["sim_b"], "reason": "sim_b: cancel timed out"}
    ]
    assert [(s["venue"], s["status"]) for s in report.flattened] == [
        ("sim_a", "FILLED"),
        ("sim_b", "FILLED"),
    ]
    assert [o["clientOrderId"] for o in venues["sim_b"].fetch_open_orders(SYMBOL)] == [
        resting["sim_b"]
    ]
    with db.transaction() as session:
        rows = dict(
            session.execute(
                sa.select(CryptoOrder.client_order_id, CryptoOrder.status).where(
                    CryptoOrder.order_type == "limit"
                )
            ).all()
        )
        failed = session.scalars(
            sa.select(AuditLog).where(AuditLog.action == "emergency_cancel_failed")
        ).one()
    assert rows == {resting["sim_a"]: "CANCELED", resting["sim_b"]: "CANCEL_PENDING"}
    assert failed.old == {"what": resting["sim_b"]}
