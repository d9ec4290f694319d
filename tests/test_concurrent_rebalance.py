"""Two processes rebalance one strategy at the same moment: one order, one execution.

Both processes decide on the same account (no fills yet), so they derive the same client
order id. Each then runs `execute_plan` with a hook right after the "already sent" check
that waits (5 s at most) for the other process to reach the same point. Without the
strategy lock both would get there, both pass the check, and both send; with it the
second waits for the first to record its order, then finds it already sent.
"""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime
from decimal import Decimal

import pandas as pd
import pytest
import sqlalchemy as sa

from tests.trading_support import candle_database, fixed_weight, race_rebalance, race_replay
from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.model.orders import OrderStatus
from zvt_pipelines.oms.manager import OrderManager
from zvt_pipelines.oms.messages import EventBus
from zvt_pipelines.oms.persistence import DuplicateClientOrderId, OrderRecorder
from zvt_pipelines.portfolio.accounts import strategy_fills
from zvt_pipelines.storage.models import CryptoExecution, CryptoOrder
from zvt_pipelines.strategies import parse_strategies_config
from zvt_pipelines.trading.market_view import CandleCache, decision_window
from zvt_pipelines.trading.services import as_of_for
from zvt_pipelines.venues.paper import FixedMarketData, PaperVenue, spot_market

BTC = InstrumentId.parse("sim_a:BTC/USDT")
FIELDS = {"risk_limits": {"max_allocation": 0.5}}
STEP = Decimal("0.00001")


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/zvt.db"
    return request.getfixturevalue("scratch_pg_url")


def test_two_processes_at_the_worst_point_send_one_order(url, tmp_path):
    """Target: 0.5 × 10,000 USDT / last 1h close, floored to the 0.00001 BTC step (the
    hand-worked rule of test_trading_loop). The account must end holding exactly one such
    buy: one order row, one execution."""
    db = candle_database(tmp_path, instruments=("sim_a:BTC/USDT",), url=url)
    entry = parse_strategies_config([fixed_weight(**FIELDS)]).strategies[0]
    as_of = as_of_for(db, entry)
    start, end = decision_window(as_of, "1h", 2)
    close = Decimal(repr(float(CandleCache(db).candles(BTC, "1h", start, end)["close"].iloc[-1])))
    target = Decimal("0.5") * Decimal(10_000) / close

    context = multiprocessing.get_context("spawn")
    with context.Manager() as shared:
        start_line, at_check, results = shared.Barrier(2), shared.Barrier(2), shared.list()
        processes = [
            context.Process(
                target=race_rebalance, args=(url, FIELDS, start_line, at_check, results)
            )
            for _ in range(2)
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=600)
        assert [p.exitcode for p in processes] == [0, 0]
        outcomes = list(results)

    assert len(outcomes) == 2
    # the lock kept the second process out of the critical section: nobody met there
    assert [met for _, met, _ in outcomes] == [False, False]
    assert sorted(statuses[0] for _, _, statuses in outcomes) == ["ALREADY_SENT", "FILLED"]
    with db.transaction() as session:
        orders = session.scalars(sa.select(CryptoOrder)).all()
        executions = session.scalars(sa.select(CryptoExecution)).all()
    assert len(orders) == 1 and len(executions) == 1
    held = sum((f.side.sign * f.amount for f in strategy_fills(db, entry.name)), Decimal(0))
    assert target - STEP < held <= target
    db.dispose()


def test_a_second_order_under_a_recorded_client_order_id_is_refused_before_it_is_sent(db):
    """The database's own guard, independent of the lock: two order managers (two processes'
    worth of state) send the same client order id; the second one's first write fails on the
    unique constraint, so its venue never sees the order."""
    now = datetime(2025, 3, 2, 12, tzinfo=UTC)
    venues = []
    for _ in range(2):
        data = FixedMarketData("paper", {"BTC/USDT": spot_market("BTC/USDT")})
        data.set_book("BTC/USDT", bids=[("99", "5")], asks=[("101", "5")])
        venues.append(PaperVenue(data, {"USDT": Decimal(10_000)}, clock=lambda: now))
    managers = []
    for venue in venues:
        bus = EventBus()
        OrderRecorder(db).attach(bus)
        managers.append(OrderManager({"paper": venue}, bus, clock=lambda: now))
    orders = [
        m.new_order("paper", "BTC/USDT", "buy", "market", Decimal(1), client_order_id="same-id")
        for m in managers
    ]
    assert managers[0].submit(orders[0]).status is OrderStatus.FILLED
    with pytest.raises(DuplicateClientOrderId, match="'same-id': already recorded"):
        managers[1].submit(orders[1])
    assert venues[1].fetch_balance()["total"]["USDT"] == 10_000  # nothing was bought there
    with db.transaction() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(CryptoExecution)) == 1
        assert session.scalar(sa.select(CryptoOrder.status)) == "FILLED"


def test_a_held_strategy_lock_makes_the_other_holder_wait_then_give_up(db):
    """Another thread stands for another process: it uses its own database session
    (PostgreSQL) or its own open lock file (SQLite). A different strategy's lock is
    independent, and the holder itself may take its lock again (reentrant)."""
    from concurrent.futures import ThreadPoolExecutor

    from zvt_pipelines.storage.locks import StrategyLocked, strategy_lock

    def take(strategy: str) -> str:
        try:
            with strategy_lock(db, strategy, timeout=0.2):
                return "taken"
        except StrategyLocked as exc:
            return str(exc)

    with ThreadPoolExecutor(1) as other, strategy_lock(db, "alpha"):
        with strategy_lock(db, "alpha", timeout=0.2):  # nested in the holder: no wait
            pass
        assert other.submit(take, "alpha").result().startswith("strategy 'alpha': still locked")
        assert other.submit(take, "beta").result() == "taken"
    with ThreadPoolExecutor(1) as other:
        assert other.submit(take, "alpha").result() == "taken"  # released on exit


def test_a_later_update_of_an_order_never_recorded_is_refused(db):
    """Only an order's first update may create its row: a cancel of an order the database does
    not hold (its first write was lost) must fail loudly instead of inventing the row."""
    from zvt_pipelines.oms.persistence import OrderNotRecorded

    now = datetime(2025, 3, 2, 12, tzinfo=UTC)
    data = FixedMarketData("paper", {"BTC/USDT": spot_market("BTC/USDT")})
    data.set_book("BTC/USDT", bids=[("99", "5")], asks=[("101", "5")])
    venue = PaperVenue(data, {"USDT": Decimal(10_000)}, clock=lambda: now)
    manager = OrderManager({"paper": venue}, EventBus(), clock=lambda: now)
    order = manager.submit(
        manager.new_order("paper", "BTC/USDT", "buy", "limit", Decimal(1), Decimal(90))
    )
    OrderRecorder(db).attach(manager.bus)  # attached too late: the order's first update is gone
    with pytest.raises(OrderNotRecorded, match="no row to update"):
        manager.cancel(order.client_order_id)
    with db.transaction() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(CryptoOrder)) == 0


def test_two_processes_replaying_one_resting_order_record_its_fill_once(url, tmp_path):
    """A resting bid of 0.01 BTC placed 6 h before the last close, priced at the highest high
    since: the first candle after it crosses it, so it fills completely, once. Each process's
    paper venue names fills with its own session id, so only the lock keeps the second
    replay from booking a second fill of the same order."""
    db = candle_database(tmp_path, instruments=("sim_a:BTC/USDT",), url=url)
    entry = parse_strategies_config([fixed_weight()]).strategies[0]
    as_of = as_of_for(db, entry)
    placed = as_of - pd.Timedelta(hours=6)
    candles = CandleCache(db).candles(BTC, "1m", placed, as_of)
    price = Decimal(repr(float(candles["high"].max())))
    with db.transaction() as session:
        session.add(
            CryptoOrder(
                client_order_id="resting-1",
                venue_order_id="resting-1",
                venue="sim_a",
                symbol="BTC/USDT",
                side="buy",
                order_type="limit",
                time_in_force="GTC",
                amount=Decimal("0.01"),
                price=price,
                status="OPEN",
                filled=Decimal(0),
                strategy="fixed",
                created_at=placed.to_pydatetime(),
                updated_at=placed.to_pydatetime(),
            )
        )
    context = multiprocessing.get_context("spawn")
    with context.Manager() as shared:
        start_line, results = shared.Barrier(2), shared.list()
        processes = [
            context.Process(target=race_replay, args=(url, start_line, results)) for _ in range(2)
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=600)
        assert [p.exitcode for p in processes] == [0, 0]
        assert list(results) == [0, 0]  # nothing left resting after either replay
    with db.transaction() as session:
        fills = session.scalars(sa.select(CryptoExecution)).all()
        status = session.scalar(sa.select(CryptoOrder.status))
    assert [(f.client_order_id, f.amount) for f in fills] == [("resting-1", Decimal("0.01"))]
    assert status == "FILLED"
    db.dispose()
