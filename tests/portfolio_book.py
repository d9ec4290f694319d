"""Builders of a trading database state for the portfolio tests: strategy entries, fills
(an order and its execution, as the OMS records them) and daily candles."""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal

import pandas as pd

from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.market_data import replace_candles
from zvt_pipelines.storage.models import CryptoExecution, CryptoOrder
from zvt_pipelines.strategies import parse_strategies_config

STRATEGIES = [
    {
        "name": "alpha",
        "type": "momentum",
        "symbols": ["sim_a:BTC/USDT", "sim_b:BTC/USDT"],
        "amount_per_trade": 200,
        "frequency": "1h",
        "exchanges": ["sim_a", "sim_b"],
        "params": {"trend_window": 50, "rsi_entry": 55, "rsi_max": 80, "trailing_stop": 0.04},
        "risk_limits": {"daily_loss_limit": 400},
    },
    {
        "name": "beta",
        "type": "sma_cross",
        "symbol": "sim_a:ETH/USDT",
        "amount_per_trade": 100,
        "frequency": "1h",
        "params": {"fast": 10, "slow": 30},
        "risk_limits": {"daily_loss_limit": 300},
    },
]
_ids = itertools.count(1)


def new_database(tmp_path) -> tuple[str, Database]:
    url = f"sqlite:///{tmp_path}/zvt.db"
    db = Database(url)
    db.upgrade()
    return url, db


def entries(raw: list[dict] | None = None) -> list:
    return parse_strategies_config(raw or STRATEGIES, source="test").strategies


def utc(text: str) -> datetime:
    return pd.Timestamp(text, tz="UTC").to_pydatetime()


def add_fill(
    db: Database,
    strategy: str,
    venue: str,
    symbol: str,
    side: str,
    amount: str,
    price: str,
    fee: str,
    at: str,
) -> None:
    """One filled market order of `strategy` and its single execution (fee in USDT)."""
    number = next(_ids)
    client_id = f"test-{strategy}-{number}"
    when = utc(at)
    with db.transaction() as session:
        session.add(
            CryptoOrder(
                client_order_id=client_id,
                venue=venue,
                symbol=symbol,
                side=side,
                order_type="market",
                time_in_force="GTC",
                amount=Decimal(amount),
                status="filled",
                filled=Decimal(amount),
                average_price=Decimal(price),
                fee=Decimal(fee),
                fee_currency="USDT",
                strategy=strategy,
                created_at=when,
                updated_at=when,
            )
        )
        session.flush()
        session.add(
            CryptoExecution(
                execution_id=f"x{number}",
                client_order_id=client_id,
                venue=venue,
                symbol=symbol,
                side=side,
                amount=Decimal(amount),
                price=Decimal(price),
                fee=Decimal(fee),
                fee_currency="USDT",
                liquidity="taker",
                executed_at=when,
            )
        )


def add_daily_candles(db: Database, venue: str, symbol: str, first_day: str, closes) -> None:
    """Daily candles opening at `first_day`, `first_day + 1` ... with these closes."""
    ts = pd.date_range(first_day, periods=len(closes), freq="D", tz="UTC")
    close = pd.Series(closes, dtype="float64")
    frame = pd.DataFrame(
        {
            "ts": ts.astype("datetime64[ms, UTC]"),
            "open": close.to_numpy(),
            "high": close.to_numpy(),
            "low": close.to_numpy(),
            "close": close.to_numpy(),
            "volume": 1.0,
        }
    )
    replace_candles(db, venue, symbol, "1d", frame, ts[0], ts[-1] + pd.Timedelta(days=1))
