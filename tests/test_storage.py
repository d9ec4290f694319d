"""The trading database on SQLite and on PostgreSQL: migrations, exact money and time, idempotent partitions."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from zvt_pipelines.data.candles import read_candle_file, slice_candles
from zvt_pipelines.errors import DataError, StorageError
from zvt_pipelines.storage.market_data import count_candles, load_candles, replace_candles
from zvt_pipelines.storage.models import AuditLog, CryptoExecution, CryptoOrder

EXPECTED_TABLES = {
    "crypto_orders",
    "crypto_executions",
    "crypto_positions",
    "strategy_performance",
    "market_ohlcv",
    "funding_rates",
    "audit_log",
}


def test_migrations_create_every_table_and_are_idempotent(db):
    db.upgrade()  # a second run must be a no-op
    tables = set(sa.inspect(db.engine).get_table_names())
    assert tables >= EXPECTED_TABLES
    assert db.current_revision() is not None


def test_money_and_time_round_trip_exactly(db):
    """12345678.123456789012345678 has 26 significant digits: a float would change it."""
    price = Decimal("12345678.123456789012345678")
    amount = Decimal("0.000000000000000001")
    at = datetime(2024, 8, 5, 0, 0, 0, 123456, tzinfo=UTC)
    with db.transaction() as session:
        session.add(
            CryptoOrder(
                client_order_id="c-1",
                venue="sim_a",
                symbol="BTC/USDT",
                side="buy",
                order_type="limit",
                time_in_force="GTC",
                amount=amount,
                price=price,
                status="NEW",
                created_at=at,
                updated_at=at,
            )
        )
    with db.transaction() as session:
        order = session.scalars(sa.select(CryptoOrder)).one()
    assert order.price == price and str(order.price).rstrip("0") == "12345678.123456789012345678"
    assert order.amount == amount
    assert order.created_at == at and order.created_at.tzinfo is not None


def test_naive_timestamps_and_float_money_are_refused(db):
    with pytest.raises(sa.exc.StatementError, match="timezone-aware"), db.transaction() as session:
        session.add(
            AuditLog(at=datetime(2024, 1, 1), actor="t", action="a", entity="e", entity_id="1")
        )
    with pytest.raises(sa.exc.StatementError, match="expects Decimal"), db.transaction() as session:
        now = datetime.now(UTC)
        session.add(
            CryptoOrder(
                client_order_id="c-2",
                venue="v",
                symbol="BTC/USDT",
                side="buy",
                order_type="market",
                time_in_force="GTC",
                amount=0.1,
                status="NEW",
                created_at=now,
                updated_at=now,
            )
        )


def test_duplicate_fill_is_rejected_by_the_schema(db):
    now = datetime.now(UTC)
    with db.transaction() as session:
        session.add(
            CryptoOrder(
                client_order_id="c-3",
                venue="v",
                symbol="BTC/USDT",
                side="buy",
                order_type="market",
                time_in_force="GTC",
                amount=Decimal(1),
                status="FILLED",
                created_at=now,
                updated_at=now,
            )
        )
    fill = dict(
        execution_id="t-1",
        client_order_id="c-3",
        venue="v",
        symbol="BTC/USDT",
        side="buy",
        amount=Decimal("0.5"),
        price=Decimal(100),
        executed_at=now,
    )
    with db.transaction() as session:
        session.add(CryptoExecution(**fill))
    with pytest.raises(sa.exc.IntegrityError), db.transaction() as session:
        session.add(CryptoExecution(**fill))
    with db.transaction() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(CryptoExecution)) == 1


def _real_day(shared_data, day: str) -> tuple[pd.DataFrame, pd.Timestamp, pd.Timestamp]:
    frame = read_candle_file(shared_data / "binance_BTC-USDT_1m.csv.gz")
    start = pd.Timestamp(day, tz="UTC")
    end = start + pd.Timedelta(days=1)
    return slice_candles(frame, start, end), start, end


def test_partition_write_is_exact_and_idempotent(db, shared_data):
    day, start, end = _real_day(shared_data, "2025-06-10")
    assert len(day) == 1440
    for _ in range(2):  # re-materialising must not duplicate
        replace_candles(db, "binance", "BTC/USDT", "1m", day, start, end)
    assert count_candles(db, venue="binance", timeframe="1m") == 1440
    loaded = load_candles(db, "binance", "BTC/USDT", "1m", start, end)
    pd.testing.assert_frame_equal(loaded, day)
    # the stored text is the source's decimal, not float noise
    with db.engine.connect() as conn:
        first_close = conn.execute(
            sa.text("select close from market_ohlcv order by open_time limit 1")
        ).scalar_one()
    assert Decimal(str(first_close)) == Decimal(repr(float(day["close"].iloc[0])))


def test_interrupted_write_leaves_the_previous_partition(db, shared_data):
    """Row 1000 repeats an open time: the database refuses it after the old day was deleted
    and 999 new rows went in, so only a rollback can leave the old day intact."""
    day, start, end = _real_day(shared_data, "2025-06-11")
    replace_candles(db, "binance", "BTC/USDT", "1m", day, start, end)
    changed = day.assign(close=day["close"] + 1.0)
    changed.loc[1000, "ts"] = changed.loc[999, "ts"]
    with pytest.raises(StorageError, match="previous contents are kept"):
        replace_candles(db, "binance", "BTC/USDT", "1m", changed, start, end)
    assert count_candles(db) == 1440
    pd.testing.assert_frame_equal(load_candles(db, "binance", "BTC/USDT", "1m"), day)


def test_non_finite_values_are_refused_before_writing(db, shared_data):
    day, start, end = _real_day(shared_data, "2025-06-13")
    corrupt = day.copy()
    corrupt.loc[700, "close"] = np.nan
    with pytest.raises(DataError, match="'close'"):
        replace_candles(db, "binance", "BTC/USDT", "1m", corrupt, start, end)
    assert count_candles(db) == 0


def test_rows_outside_the_partition_are_refused(db, shared_data):
    day, start, end = _real_day(shared_data, "2025-06-12")
    with pytest.raises(DataError, match="outside the partition"):
        replace_candles(db, "binance", "BTC/USDT", "1m", day, start, start + pd.Timedelta(hours=1))
    assert count_candles(db) == 0
