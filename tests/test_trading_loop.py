"""One strategy through the real rebalance path: targets, orders, fills, balances, positions,
idempotent retries and the daily loss limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest
import sqlalchemy as sa

from tests.trading_support import MARKETS, candle_database, fixed_weight
from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.portfolio.position_store import load_positions
from zvt_pipelines.storage.models import CryptoExecution, CryptoOrder, MarketOhlcv
from zvt_pipelines.strategies import parse_strategies_config
from zvt_pipelines.trading.market_view import CandleCache, decision_window
from zvt_pipelines.trading.services import as_of_for, rebalance_now

BTC = InstrumentId.parse("sim_a:BTC/USDT")


def entry_of(**fields):
    return parse_strategies_config([fixed_weight(**fields)]).strategies[0]


@pytest.fixture
def db(tmp_path):
    return candle_database(tmp_path)


def executions(db):
    with db.transaction() as session:
        return session.scalars(sa.select(CryptoExecution)).all()


def last_close(db, entry) -> Decimal:
    as_of = as_of_for(db, entry)
    start, end = decision_window(as_of, "1h", 2)
    frame = CandleCache(db).candles(BTC, "1h", start, end)
    return Decimal(repr(float(frame["close"].iloc[-1])))


def test_rebalance_buys_to_the_capped_target_and_books_everything(db):
    """weight 1.0 but max_allocation 0.5: target = 0.5 × 10,000 / last close, rounded down
    to the 0.00001 BTC step. Every fill pays 10 bps of its notional in USDT."""
    entry = entry_of(risk_limits={"max_allocation": 0.5})
    report = rebalance_now(db, MARKETS, entry)
    assert [o["status"] for o in report.orders] == ["FILLED"]
    fills = executions(db)
    bought = sum((f.amount for f in fills), Decimal(0))
    target = Decimal("0.5") * Decimal(10_000) / last_close(db, entry)
    assert target - Decimal("0.00001") < bought <= target
    notional = sum((f.amount * f.price for f in fills), Decimal(0))
    fees = sum((f.fee for f in fills), Decimal(0))
    assert fees == pytest.approx(notional * Decimal("0.001"), abs=Decimal("1e-8"))
    assert all(f.fee_currency == "USDT" for f in fills)
    (position,) = load_positions(db)
    assert (position.strategy, position.venue, position.quantity) == ("fixed", "sim_a", bought)
    # positions add a quote-currency fee to the cost of a buy (portfolio/positions.py)
    assert position.average_entry_price == pytest.approx(
        (notional + fees) / bought, rel=Decimal("1e-12")
    )
    with db.transaction() as session:
        order = session.scalars(sa.select(CryptoOrder)).one()
    assert (
        order.strategy == "fixed"
        and order.status in ("FILLED", "SETTLED")
        and order.filled == bought
    )


def test_a_retried_rebalance_sends_nothing_twice(db):
    entry = entry_of(risk_limits={"max_allocation": 0.5})
    rebalance_now(db, MARKETS, entry)
    again = rebalance_now(db, MARKETS, entry)
    assert all(o["status"] == "ALREADY_SENT" for o in again.orders) or not again.orders
    assert len(executions(db)) == 1


def test_daily_loss_limit_halts_new_risk_but_lets_positions_shrink(db):
    """At 10:00 the same day the strategy bought 0.01 BTC at three times the market: a loss of
    about 2 × 0.01 × price, far beyond the 50 USDT limit, so the day is halted."""
    entry = entry_of(risk_limits={"max_allocation": 0.5, "daily_loss_limit": 50})
    noon = datetime(2025, 3, 2, 12, tzinfo=UTC)  # trading is at noon: the day has begun
    with db.transaction() as session:
        session.execute(sa.delete(MarketOhlcv).where(MarketOhlcv.open_time >= noon))
    as_of = as_of_for(db, entry)
    assert as_of == pd.Timestamp(noon)
    price = last_close(db, entry)
    at = as_of.to_pydatetime() - timedelta(hours=2)
    with db.transaction() as session:
        session.add(
            CryptoOrder(
                client_order_id="loss-1",
                venue="sim_a",
                symbol="BTC/USDT",
                side="buy",
                order_type="market",
                time_in_force="GTC",
                amount=Decimal("0.01"),
                status="FILLED",
                filled=Decimal("0.01"),
                strategy="fixed",
                created_at=at,
                updated_at=at,
            )
        )
        session.flush()  # the fill's foreign key needs the order row first
        session.add(
            CryptoExecution(
                execution_id="loss-1-t",
                client_order_id="loss-1",
                venue="sim_a",
                symbol="BTC/USDT",
                side="buy",
                amount=Decimal("0.01"),
                price=price * 3,
                fee=Decimal(0),
                fee_currency="USDT",
                executed_at=at,
            )
        )
    halted = rebalance_now(db, MARKETS, entry)
    assert [o["status"] for o in halted.orders] == ["REJECTED"]
    assert "daily" in halted.orders[0]["reason"].lower()
    flat = entry_of(weight=0.0, risk_limits={"max_allocation": 0.5, "daily_loss_limit": 50})
    reduced = rebalance_now(db, MARKETS, flat)
    assert [(o["side"].value, o["amount"], o["status"]) for o in reduced.orders] == [
        ("sell", Decimal("0.01"), "FILLED")
    ]


def test_an_all_in_target_is_capped_by_the_cash_at_the_ask(db):
    """weight 1.0 and max_allocation 1.0 want all 10,000 USDT in BTC at the last close; the
    buy fills at the ask plus a 10 bps fee, so it is shrunk to what the cash pays there and
    the USDT balance never goes negative."""
    entry = entry_of(risk_limits={"max_allocation": 1.0})
    report = rebalance_now(db, MARKETS, entry)
    assert [o["status"] for o in report.orders] == ["FILLED"]
    spent = sum((f.amount * f.price + f.fee for f in executions(db)), Decimal(0))
    assert Decimal(10_000) - Decimal(30) < spent <= Decimal(10_000)


def decide(db, entry):
    """A plan at the latest close, as the rebalance job's first step makes it."""
    from zvt_pipelines.trading.rebalance import book_tops, plan_rebalance
    from zvt_pipelines.trading.services import strategy_venues

    as_of = as_of_for(db, entry)
    venues = strategy_venues(db, MARKETS, entry, as_of)
    return plan_rebalance(db, entry, as_of, books=book_tops(venues, entry.instrument_ids())), venues


def test_a_plan_decided_before_another_runs_fills_sends_nothing(db):
    """The plan sees an account with no fills; before it is executed another run books a fill
    of 0.01 BTC for the strategy (at a different time, so under another client order id):
    the plan is stale and must not buy on top of it."""
    from zvt_pipelines.trading.rebalance import execute_plan

    entry = entry_of(risk_limits={"max_allocation": 0.5})
    decided, venues = decide(db, entry)
    at = as_of_for(db, entry).to_pydatetime() - timedelta(minutes=30)
    with db.transaction() as session:
        session.add(
            CryptoOrder(
                client_order_id="other-run-1",
                venue="sim_a",
                symbol="BTC/USDT",
                side="buy",
                order_type="market",
                time_in_force="GTC",
                amount=Decimal("0.01"),
                status="FILLED",
                filled=Decimal("0.01"),
                strategy="fixed",
                created_at=at,
                updated_at=at,
            )
        )
        session.flush()
        session.add(
            CryptoExecution(
                execution_id="other-run-1-t",
                client_order_id="other-run-1",
                venue="sim_a",
                symbol="BTC/USDT",
                side="buy",
                amount=Decimal("0.01"),
                price=last_close(db, entry),
                fee=Decimal(0),
                fee_currency="USDT",
                executed_at=at,
            )
        )
    report = execute_plan(db, entry, decided, venues)
    assert [(o["status"], o["reason"]) for o in report.orders] == [
        ("STALE_PLAN", "decided on 0 fills, the account now has 1")
    ]
    assert [e.execution_id for e in executions(db)] == ["other-run-1-t"]


def test_a_stop_between_decision_and_execution_halts_the_run(db):
    from zvt_pipelines.trading.lifecycle import Status, set_status, sync_strategies
    from zvt_pipelines.trading.rebalance import execute_plan

    entry = entry_of(risk_limits={"max_allocation": 0.5})
    sync_strategies(db, [entry], actor="test")
    decided, venues = decide(db, entry)
    set_status(db, "fixed", Status.STOPPED, "risk-desk", "emergency stop")
    report = execute_plan(db, entry, decided, venues)
    assert [(o["status"], o["reason"]) for o in report.orders] == [
        ("HALTED", "strategy 'fixed' is STOPPED")
    ]
    assert executions(db) == []
