"""One rebalance of one strategy, in three steps the Dagster assets run one by one.

1. `plan_rebalance`: the strategy sees the candles closed by `as_of` (from the database)
   and its account (rebuilt from its fills) and returns target positions
   (`strategies.targets.rebalance`); the targets are stored for the drift sensor.
2. `execute_plan`: each instrument is traded from its current to its target quantity by
   market order through the order manager (pre-trade validation, the strategy's risk
   limits, one transaction per state change). Limit signals go out as IOC limit orders,
   except the quotes of families that rest them (market making): those are GTC, replace
   the strategy's previous quotes, and are carried to the next run by
   `resting_orders.restore_resting_orders`. Client order ids are derived from the plan, so
   a retried run never sends an order twice; the strategy's lock (`storage/locks.py`) is
   held from the "already sent" check until every order is recorded, so two processes
   rebalancing one strategy at once never both send, and a plan decided on an account
   that changed meanwhile (another run's fills) sends nothing.
3. `update_positions`: positions are rebuilt from every fill (FIFO lots), marked at the
   last close and stored in `crypto_positions`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import pandas as pd
import sqlalchemy as sa

from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.model.money import decimal_from_float, to_decimal
from zvt_pipelines.model.orders import Side
from zvt_pipelines.oms.sizing import affordable_amount, floor_to_step, market_rules
from zvt_pipelines.portfolio.accounts import account_balances, account_equity, strategy_fills
from zvt_pipelines.portfolio.limits import RiskDenial, RiskState
from zvt_pipelines.portfolio.position_store import save_positions
from zvt_pipelines.portfolio.positions import AccountingMethod, PositionBook, PositionSnapshot
from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.lifecycle_models import TargetPositionRow
from zvt_pipelines.storage.locks import strategy_lock
from zvt_pipelines.storage.models import CryptoExecution, CryptoOrder
from zvt_pipelines.strategies.config import StrategyConfig
from zvt_pipelines.strategies.registry import get_strategy
from zvt_pipelines.trading.market_view import CandleCache, decision_window, last_prices

ZERO = Decimal(0)
LOOKBACK_BARS = 500


@dataclass(frozen=True)
class StrategyPlan:
    """A strategy's decision at `as_of` and the account it was made from."""

    strategy: str
    as_of: pd.Timestamp
    plan: Any  # strategies.targets.RebalancePlan
    prices: dict[InstrumentId, Decimal]
    balances: dict[str, dict[str, Decimal]]
    equity: Decimal
    day_start_equity: Decimal
    fills_seen: int | None = None  # the strategy's fills the decision was made from


@dataclass
class ExecutionReport:
    """What a rebalance sent and got back, per order and in total."""

    strategy: str
    as_of: pd.Timestamp
    orders: list[dict[str, Any]] = field(default_factory=list)

    def count(self, *statuses: str) -> int:
        return sum(1 for o in self.orders if o["status"] in statuses)

    @property
    def fees(self) -> Decimal:
        return sum((o["fee"] for o in self.orders), ZERO)

    @property
    def mean_slippage_bps(self) -> float | None:
        values = [o["slippage_bps"] for o in self.orders if o.get("slippage_bps") is not None]
        return sum(values) / len(values) if values else None


def book_tops(venues: dict[str, Any], instruments: list[InstrumentId]) -> dict[InstrumentId, Any]:
    """Best bid and ask (with sizes) of each instrument on its venue, for the strategy's view."""
    from zvt_pipelines.strategies import BookTop

    tops = {}
    for instrument in instruments:
        venue = venues.get(instrument.venue)
        book = None if venue is None else venue.fetch_order_book(instrument.symbol)
        if book and book["bids"] and book["asks"]:
            (bid, bid_size, *_), (ask, ask_size, *_) = book["bids"][0], book["asks"][0]
            tops[instrument] = BookTop(*(to_decimal(v) for v in (bid, ask, bid_size, ask_size)))
    return tops


def plan_rebalance(
    db: Database,
    entry: StrategyConfig,
    as_of: pd.Timestamp,
    cache: CandleCache | None = None,
    books: dict[InstrumentId, Any] | None = None,
) -> StrategyPlan:
    """Run the strategy on what it could know at `as_of`, with the venues' book tops when
    given (market making and arbitrage quote from them); nothing is written."""
    from zvt_pipelines.strategies import (
        MarketData,
        PortfolioView,
        PositionView,
        build_strategy,
        rebalance,
    )

    cache = cache or CandleCache(db)
    strategy = build_strategy(entry)
    instruments = entry.instrument_ids()
    start, end = decision_window(as_of, entry.frequency, LOOKBACK_BARS)
    frames = {i: cache.candles(i, entry.frequency, start, end) for i in instruments}
    prices = last_prices(frames)
    fills = strategy_fills(db, entry.name)
    balances = account_balances(instruments, entry.capital, fills)
    equity = account_equity(balances, prices)
    day_start = as_of.floor("D")
    day_prices = {
        i: decimal_from_float(f.loc[f["ts"] < day_start, "close"].iloc[-1])
        for i, f in frames.items()
        if (f["ts"] < day_start).any()
    }
    early = [f for f in fills if f.timestamp < day_start.to_pydatetime()]
    day_start_equity = account_equity(
        account_balances(instruments, entry.capital, early), day_prices or prices
    )
    positions = {
        i: PositionView(i, balances[i.venue].get(i.base, ZERO), prices.get(i, ZERO))
        for i in instruments
        if balances[i.venue].get(i.base, ZERO) != 0
    }
    portfolio = PortfolioView(equity=equity, positions=positions, balances=balances)
    market = MarketData(now=as_of, timeframe=entry.frequency, candles=frames, order_books=books)
    plan = rebalance(strategy, market, portfolio)
    return StrategyPlan(
        entry.name, as_of, plan, prices, balances, equity, day_start_equity, len(fills)
    )


def store_targets(db: Database, decided: StrategyPlan) -> None:
    """Replace the strategy's stored targets (what the drift sensor compares with) in one transaction."""
    with db.transaction() as session:
        session.execute(
            sa.delete(TargetPositionRow).where(TargetPositionRow.strategy == decided.strategy)
        )
        for instrument, target in decided.plan.targets.items():
            session.add(
                TargetPositionRow(
                    strategy=decided.strategy,
                    venue=instrument.venue,
                    symbol=instrument.symbol,
                    quantity=target.quantity,
                    price=decided.prices.get(instrument, ZERO),
                    equity=decided.equity,
                    as_of=decided.as_of.to_pydatetime(),
                )
            )


def client_order_id(
    strategy: str, as_of: pd.Timestamp, instrument: InstrumentId, side: str, amount: Decimal
) -> str:
    """A client order id derived from the decision, so a retried rebalance reuses it (≤ 36 chars)."""
    digest = hashlib.sha256(
        f"{strategy}|{as_of.isoformat()}|{instrument}|{side}|{amount}".encode()
    ).hexdigest()
    tag = "".join(ch for ch in strategy if ch.isalnum())[:8] or "s"
    return f"zvt-{tag}-{digest}"[:36]


def _already_sent(db: Database, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    with db.engine.connect() as conn:
        query = sa.select(CryptoOrder.client_order_id).where(CryptoOrder.client_order_id.in_(ids))
        return set(conn.execute(query).scalars())


def _fill_count(db: Database, strategy: str) -> int:
    """How many fills the strategy's orders have (what a plan's `fills_seen` is compared with)."""
    query = (
        sa.select(sa.func.count())
        .select_from(CryptoExecution)
        .join(CryptoOrder, CryptoOrder.client_order_id == CryptoExecution.client_order_id)
        .where(CryptoOrder.strategy == strategy)
    )
    with db.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def _held_back(db: Database, strategy: str, decided: StrategyPlan) -> tuple[str, str] | None:
    """Why nothing may be sent now, as (status, reason): the strategy was paused or stopped
    (e.g. an emergency stop while this run waited for the lock), or its account changed after
    the decision (another run's fills); None when the plan may go ahead."""
    from zvt_pipelines.trading.lifecycle import Status, get_status

    status = get_status(db, strategy)
    if status in (Status.PAUSED, Status.STOPPED):
        return "HALTED", f"strategy {strategy!r} is {status}"
    fills_now = _fill_count(db, strategy)
    if decided.fills_seen is not None and fills_now != decided.fills_seen:
        return (
            "STALE_PLAN",
            f"decided on {decided.fills_seen} fills, the account now has {fills_now}",
        )
    return None


def execute_plan(
    db: Database,
    entry: StrategyConfig,
    decided: StrategyPlan,
    venues: dict[str, Any],
    *,
    after_check: Callable[[], None] | None = None,
) -> ExecutionReport:
    """Trade every instrument towards its target; record orders and fills; report them.

    Runs under the strategy's lock. `after_check` is a test hook called right after the
    "already sent" check, before anything is sent (the worst point for a concurrent run).
    """
    with strategy_lock(db, entry.name):
        return _execute_locked(db, entry, decided, venues, after_check)


def _execute_locked(
    db: Database,
    entry: StrategyConfig,
    decided: StrategyPlan,
    venues: dict[str, Any],
    after_check: Callable[[], None] | None,
) -> ExecutionReport:
    """`execute_plan`'s work, once the strategy's lock is held."""
    from zvt_pipelines.oms.manager import OrderManager
    from zvt_pipelines.oms.messages import EventBus
    from zvt_pipelines.oms.persistence import OrderRecorder

    as_of = decided.as_of
    report = ExecutionReport(entry.name, as_of)
    risk = RiskState(entry.risk_limits.to_limits(entry.instrument_ids()))
    risk.update_daily_pnl(decided.equity - decided.day_start_equity)
    gross = sum(
        (abs(decided.balances[i.venue].get(i.base, ZERO)) * p for i, p in decided.prices.items()),
        ZERO,
    )

    def risk_check(order: Any, _state: Any) -> str | None:
        instrument = InstrumentId.parse(f"{order.venue}:{order.symbol}")
        decision = risk.check_order(
            str(instrument),
            order.side.value,
            order.amount,
            decided.prices[instrument],
            decided.balances[order.venue].get(instrument.base, ZERO),
            decided.equity,
            gross,
        )
        return decision.message if isinstance(decision, RiskDenial) else None

    bus = EventBus()
    recorder = OrderRecorder(db, actor=f"strategy:{entry.name}").attach(bus)
    manager = OrderManager(venues, bus, risk_check=risk_check, clock=lambda: as_of.to_pydatetime())
    intents = _intents(decided, venues, manager)
    sent_before = _already_sent(db, [intent["client_order_id"] for intent in intents])
    held_back = _held_back(db, entry.name, decided)
    if after_check is not None:
        after_check()
    resting = get_strategy(entry.type).rests_limit_orders
    if resting and decided.plan.limit_orders and held_back is None:  # replace resting quotes
        from zvt_pipelines.trading.resting_orders import resting_orders

        for order in resting_orders(db, entry.name, venues):
            if order.client_order_id not in sent_before:
                manager.orders[order.client_order_id] = order
                manager.cancel(order.client_order_id, "replaced by new quotes")
    try:
        for intent in intents:
            instrument = intent["instrument"]
            row = {
                "instrument": str(instrument),
                "side": intent["side"],
                "amount": intent["amount"],
                "client_order_id": intent["client_order_id"],
                "fee": ZERO,
                "filled": ZERO,
                "average_price": None,
                "arrival": intent["arrival"],
                "slippage_bps": None,
                "reason": "",
            }
            if intent["client_order_id"] in sent_before:
                report.orders.append({**row, "status": "ALREADY_SENT"})
                continue
            if held_back is not None:
                report.orders.append({**row, "status": held_back[0], "reason": held_back[1]})
                continue
            order = manager.new_order(
                instrument.venue,
                instrument.symbol,
                intent["side"],
                intent["type"],
                intent["amount"],
                intent.get("price"),
                strategy=entry.name,
                client_order_id=intent["client_order_id"],
                **(
                    {"time_in_force": "GTC" if resting else "IOC"}
                    if intent["type"] == "limit"
                    else {}
                ),
            )
            manager.submit(order, reference_price=decided.prices[instrument])
            arrival = intent["arrival"]
            average = order.average_price
            slippage = None
            if average is not None and arrival:
                sign = 1 if intent["side"] == Side.BUY else -1
                slippage = float((average / arrival - 1) * 10_000) * sign
            report.orders.append(
                {
                    **row,
                    "status": order.status.value,
                    "filled": order.filled,
                    "average_price": average,
                    "fee": order.fee,
                    "slippage_bps": slippage,
                    "reason": order.reason or "",
                }
            )
    finally:
        recorder.close()
    return report


def _intents(decided: StrategyPlan, venues: dict[str, Any], manager: Any) -> list[dict[str, Any]]:
    """Orders that move each instrument to its target, rounded to the venue's amount step."""
    intents = []
    for instrument, target in decided.plan.targets.items():
        delta = target.delta
        if delta == 0:
            continue
        rules = market_rules(manager.markets(instrument.venue)[instrument.symbol])
        book = _top(venues[instrument.venue], instrument.symbol)
        side = Side.BUY if delta > 0 else Side.SELL
        wanted = abs(delta)
        if book is not None:  # a buy never spends more than the free quote balance at the ask
            cash = decided.balances[instrument.venue].get(instrument.quote, ZERO)
            wanted = affordable_amount(side, wanted, cash, book[1], rules.taker_fee)
        amount = floor_to_step(wanted, rules.amount_step)
        price = decided.prices[instrument]
        if amount <= 0 or amount < rules.min_amount or amount * price < rules.min_notional:
            continue  # too small to trade: the venue would refuse it, and it is not worth a fee
        intents.append(
            {
                "instrument": instrument,
                "side": side,
                "type": "market",
                "amount": amount,
                "arrival": None if book is None else (book[0] + book[1]) / 2,
                "client_order_id": client_order_id(
                    decided.strategy, decided.as_of, instrument, side, amount
                ),
            }
        )
    for signal in decided.plan.limit_orders:
        if signal.amount is None or signal.price is None:
            continue
        side = Side.BUY if signal.kind.value.lower() in ("buy",) else Side.SELL
        instrument = signal.instrument
        market = manager.markets(instrument.venue)[instrument.symbol]
        amount = signal.amount
        if side is Side.SELL and not market.get("contract"):  # spot: sell only what is held
            held = decided.balances[instrument.venue].get(instrument.base, ZERO)
            amount = floor_to_step(min(amount, max(held, ZERO)), market_rules(market).amount_step)
            if amount <= 0:
                continue
        intents.append(
            {
                "instrument": signal.instrument,
                "side": side,
                "type": "limit",
                "amount": amount,
                "price": signal.price,
                "arrival": _mid(venues[signal.instrument.venue], signal.instrument.symbol),
                "client_order_id": client_order_id(
                    decided.strategy, decided.as_of, signal.instrument, side, amount
                ),
            }
        )
    return intents


def _top(venue: Any, symbol: str) -> tuple[Decimal, Decimal] | None:
    """Best bid and ask of the venue's book (None when a side is empty)."""
    book = venue.fetch_order_book(symbol)
    if not book["bids"] or not book["asks"]:
        return None
    return to_decimal(book["bids"][0][0]), to_decimal(book["asks"][0][0])


def _mid(venue: Any, symbol: str) -> Decimal | None:
    top = _top(venue, symbol)
    return None if top is None else (top[0] + top[1]) / 2


def update_positions(
    db: Database,
    entry: StrategyConfig,
    prices: dict[InstrumentId, Decimal],
    at: datetime,
    method: AccountingMethod = AccountingMethod.FIFO,
) -> list[PositionSnapshot]:
    """Rebuild the strategy's positions from all its fills, mark them and store them."""
    book = PositionBook(method)
    for fill in strategy_fills(db, entry.name):
        book.apply(fill, entry.name)
    for instrument, price in prices.items():
        book.mark(instrument.venue, instrument.symbol, price)
    snapshots = [position.snapshot(at) for position in book.positions.values()]
    save_positions(db, snapshots)
    return snapshots
