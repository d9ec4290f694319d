"""Helpers of the fault-injection suite: a real child process that dies at a named step.

The trader runs in a forked child; the venue lives outside it (the Binance emulator in the
test process) or dies with it (a paper venue, rebuilt from the database on restart). The
child is given a `fault_hook` that calls `os._exit` at the n-th call of one step, so the
process ends there without unwinding: no `finally`, no commit, no flush.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from decimal import Decimal as D
from typing import Any

import pandas as pd
import sqlalchemy as sa

from tests.fakes.binance_orders import BinanceOrders
from tests.fakes.binance_server import BinanceEmulator
from tests.trading_support import fixed_weight
from zvt_pipelines.markets import parse_markets_config
from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.market_data import replace_candles
from zvt_pipelines.storage.models import CryptoExecution, CryptoOrder
from zvt_pipelines.strategies import parse_strategies_config
from zvt_pipelines.venues.ccxt_venue import CcxtVenue
from zvt_pipelines.venues.credentials import Credentials
from zvt_pipelines.venues.retry import RetryPolicy

KILLED = 77  # the exit status of a child ended by the fault hook
KEY, SECRET = "fault-key-0123456789", "fault-secret-xyz"
SPOT_ONLY = {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False}
START = pd.Timestamp("2025-03-01", tz="UTC")
USDT_START = D("1000")


class DieAt:
    """A fault hook: `os._exit(KILLED)` at the `nth` call with `step` (other steps pass)."""

    def __init__(self, step: str, nth: int = 1) -> None:
        self.step, self.left = step, nth

    def __call__(self, step: str) -> None:
        if step == self.step:
            self.left -= 1
            if self.left == 0:
                os._exit(KILLED)


def in_child(target: Callable[..., Any], *args: Any) -> int:
    """Run `target(*args)` in a forked process; its exit status (0 when it returned)."""
    context = multiprocessing.get_context("fork")
    child = context.Process(target=target, args=args, daemon=True)
    child.start()
    child.join(120)
    assert child.exitcode is not None, "the child process hung"
    return child.exitcode


def binance_markets_spec(em: BinanceEmulator) -> dict:
    """The markets file's contents for a `binance` venue trading live on the emulator."""
    api = f"{em.base_url}/api/v3"
    return {
        "start_date": "2025-03-01",
        "venues": {
            "binance": {
                "kind": "ccxt",
                "trading": "live",
                "urls": {"public": api, "private": api},
                "options": SPOT_ONLY,
            }
        },
        "instruments": ["binance:BTC/USDT"],
    }


def binance_markets(em: BinanceEmulator):  # noqa: ANN201
    """A markets configuration whose `binance` venue trades live on the emulator."""
    return parse_markets_config(binance_markets_spec(em))


def half_in_btc(symbol: str = "binance:BTC/USDT", capital: int = 1000, **extra: Any):  # noqa: ANN201
    """A strategy holding half its equity in BTC (weight 0.5), capital 1000 USDT."""
    return parse_strategies_config(
        [fixed_weight("fixed", 0.5, symbol=symbol, capital=capital, **extra)]
    ).strategies[0]


def flat_candles(db: Database, minutes: int, start: pd.Timestamp = START, price: float = 100.0):
    """1m candles of binance BTC/USDT at a flat `price`, `minutes` of them from `start`."""
    ts = pd.date_range(start, periods=minutes, freq="1min")
    frame = pd.DataFrame(
        {"ts": ts, "open": price, "high": price, "low": price, "close": price, "volume": 1.0}
    )
    replace_candles(db, "binance", "BTC/USDT", "1m", frame, ts[0], ts[-1] + pd.Timedelta("1min"))


def table(db: Database) -> tuple[list[CryptoOrder], list[CryptoExecution]]:
    """Every order and execution row, oldest first."""
    with db.transaction() as session:
        orders = session.scalars(sa.select(CryptoOrder).order_by(CryptoOrder.id)).all()
        executions = session.scalars(sa.select(CryptoExecution).order_by(CryptoExecution.id)).all()
    return orders, executions


def venue_balances(em: BinanceEmulator) -> dict[str, D]:
    """The emulated account's total (free + locked) per asset."""
    return {a: D(f) + D(lk) for a, (f, lk) in em.balances.items()}


def booked_balances(executions: list[CryptoExecution]) -> dict[str, D]:
    """What the recorded fills make of the starting 1000 USDT (fees in the quote currency)."""
    usdt, btc = USDT_START, D(0)
    for e in executions:
        sign = 1 if e.side == "buy" else -1
        btc += sign * e.amount
        usdt -= sign * e.amount * e.price + e.fee
    return {"USDT": usdt, "BTC": btc}


def venue_trades(book: BinanceOrders) -> list[tuple[str, D, D]]:
    """The venue's trades as (trade id, quantity, price), by id."""
    return sorted((str(t["id"]), D(t["qty"]), D(t["price"])) for t in book.trades)


def binance_venue(base_url: str, fault_hook=None) -> CcxtVenue:  # noqa: ANN001
    """A real ccxt.binance on the emulator: 2 s timeout, 3 attempts, millisecond backoff."""
    api = f"{base_url}/api/v3"
    return CcxtVenue(
        "binance",
        credentials=Credentials(KEY, SECRET),
        options=SPOT_ONLY,
        urls={"public": api, "private": api},
        timeout_ms=2000,
        rate_limit_ms=1,
        retry=RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.01),
        fault_hook=fault_hook,
    )
