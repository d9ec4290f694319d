"""The event-driven backtest: any strategy, several instruments and venues, the live order path.

`run_backtest` replays history bar by bar on the strategy's decision timeframe. For the
bar that opens at o and closes at c = o + timeframe:

1. resting orders of the previous bar (``resting_limits=True``) are canceled;
2. the plan decided at o (the previous close) is executed at this bar's open: every
   venue's book is set to ``open x (1 -/+ half_spread)`` with ``depth_fraction x bar
   volume`` on each side, and each target is traded by a market order, each limit signal
   sent as an IOC limit (GTC when resting), through the live `OrderManager` and
   `PaperVenue` (see `synthetic_books`). The delta is the target minus what is held now,
   cut to the amount step and skipped below the market minimums, as the live loop does;
   a spot buy the free quote cannot pay at the ask (fee included) is shrunk to what it
   can (live would reject it). An instrument with no bar opening here is not traded;
3. with ``resting_limits``, the bar is walked (open, nearer extreme, farther extreme,
   close) so resting quotes it touches fill as maker;
4. funding settled in (o, c] is booked on every open perpetual position:
   ``payment = -position x mark x rate`` (longs pay when the rate is positive), the mark
   being the close of the base bar that ends at the settlement;
5. the account is marked at the closes, then the strategy decides at c on a
   `ReplayMarketData` holding only bars closed by c, book tops ``close -/+ half_spread``
   and funding settled by c (`strategies.targets.rebalance`, as live).

Balances are per venue and never move between venues. The decision of the last bar is
never executed, so no decision can use a price from its future.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from zvt_pipelines.analytics import metrics
from zvt_pipelines.analytics.metrics import DAYS_PER_YEAR
from zvt_pipelines.backtest.replay import Replay, ReplayAccount, funding_frame
from zvt_pipelines.backtest.result import TRADE_COLUMNS, BacktestResult, performance_metrics
from zvt_pipelines.backtest.synthetic_books import (
    MarketRules,
    VenueFees,
)
from zvt_pipelines.errors import ConfigError, DataError
from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.model.money import decimal_from_float, to_decimal
from zvt_pipelines.model.timeframe import timeframe_ms
from zvt_pipelines.strategies.base import BaseCryptoStrategy

ZERO = Decimal(0)
ORDER_COLUMNS = (
    "time",
    "instrument",
    "side",
    "type",
    "amount",
    "price",
    "filled",
    "status",
    "reason",
)
FUNDING_COLUMNS = ("time", "instrument", "position", "mark", "rate", "payment")


@dataclass(frozen=True)
class EventBacktestResult(BacktestResult):
    """A `BacktestResult` (equity at each close, fills, round trips per instrument, metrics)
    plus what only the event-driven path knows.

    `position` is the units held for a single instrument, the gross notional otherwise.
    `positions` holds the units per instrument at each close, `orders` one row per order
    (status and reason as the OMS left them), `funding` one row per settlement booked,
    `balances` the final balances per venue and currency.
    """

    positions: pd.DataFrame = field(default_factory=pd.DataFrame)
    orders: pd.DataFrame = field(default_factory=pd.DataFrame)
    funding: pd.DataFrame = field(default_factory=pd.DataFrame)
    balances: Mapping[str, Mapping[str, Decimal]] = field(default_factory=dict)
    funding_income: float = 0.0


# -- the public entry point ---------------------------------------------------------------


def _bars_at(replay: Replay, timeframe: str, open_ms: int) -> dict[InstrumentId, Any]:
    """The bar of each instrument that opens at `open_ms` (instruments without one left out)."""
    bars = {}
    for instrument, opens in replay.opens(timeframe).items():
        index = int(np.searchsorted(opens, open_ms))
        if index < len(opens) and opens[index] == open_ms:
            bars[instrument] = replay.frames(timeframe)[instrument].iloc[index]
    return bars


def _starting_balances(
    instruments: tuple[InstrumentId, ...],
    capital: Decimal,
    holdings: Mapping[str, Mapping[str, Decimal]] | None,
) -> dict[str, dict[str, Decimal]]:
    """`capital` in the quote (settle) currency of the first instrument on each venue,
    plus `holdings` (venue -> currency -> amount)."""
    balances: dict[str, dict[str, Decimal]] = {}
    for instrument in instruments:
        balances.setdefault(instrument.venue, {instrument.settle or instrument.quote: capital})
    for venue, currencies in (holdings or {}).items():
        if venue not in balances:
            raise ConfigError(f"initial_holdings: venue {venue!r} has no replayed instrument")
        for currency, amount in currencies.items():
            balances[venue][currency] = balances[venue].get(currency, ZERO) + to_decimal(amount)
    return balances


def run_backtest(
    strategy: BaseCryptoStrategy,
    candles: Mapping[InstrumentId, pd.DataFrame],
    start: pd.Timestamp,
    end: pd.Timestamp,
    initial_capital: Decimal,
    *,
    funding: Mapping[InstrumentId, pd.DataFrame] | None = None,
    fees: VenueFees | Mapping[str, VenueFees] | None = None,
    half_spread_bps: Decimal = ZERO,
    decision_timeframe: str | None = None,
    base_timeframe: str | None = None,
    initial_holdings: Mapping[str, Mapping[str, Decimal]] | None = None,
    resting_limits: bool = False,
    rules: MarketRules | None = None,
    lookback_bars: int = 500,
    annualization: float = DAYS_PER_YEAR,
) -> EventBacktestResult:
    """Replay `candles` through `strategy` and its live order path (module docstring).

    Parameters
    ----------
    strategy : any strategy; it decides on every bar of `decision_timeframe`
        (default `strategy.frequency`) that opens in [start, end)
    candles : candle frame per instrument at one base timeframe (any history before
        `start` is visible to the strategy as warm-up)
    initial_capital : quote currency put on every venue (settle currency for perpetuals)
    funding : funding rates per perpetual (`timestamp` ms or `ts`, `funding_rate`)
    fees : one `VenueFees` for all venues or one per venue id (default 10 bps each)
    half_spread_bps : half the synthetic spread around the open (execution) and the close
        (decision book tops)
    initial_holdings : extra balances per venue and currency (e.g. the base inventory the
        sell leg of an arbitrage needs)
    resting_limits : limit signals rest for one bar (GTC, filled as maker when the bar
        touches them) instead of IOC, as a market maker's quotes do
    rules : amount step, price tick, minimum notional, book depth, perpetual leverage
    lookback_bars : closed bars in each view the strategy gets
    """
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    if start.tzinfo is None or end.tzinfo is None or not start < end:
        raise ConfigError(f"backtest window {start} .. {end}: need tz-aware UTC and start < end")
    capital = to_decimal(initial_capital)
    if capital < 0:
        raise ConfigError(f"initial_capital {capital}: must not be negative")
    timeframe = decision_timeframe or strategy.frequency
    replay = Replay(candles, base_timeframe, lookback_bars)
    rates = {i: funding_frame(f) for i, f in (funding or {}).items()}
    for instrument in rates:
        if instrument.settle is None or instrument not in replay.instruments:
            raise ConfigError(f"funding for {instrument}: not a replayed perpetual")
    venues = {i.venue for i in replay.instruments}
    fee_map = {v: fees for v in venues} if isinstance(fees, VenueFees) else dict(fees or {})
    fee_map = {v: fee_map.get(v, VenueFees()) for v in venues}
    step = pd.Timedelta(milliseconds=timeframe_ms(timeframe))
    start_ms, end_ms = start.value // 1_000_000, end.value // 1_000_000
    opens = np.unique(np.concatenate(list(replay.opens(timeframe).values())))
    opens = opens[(opens >= start_ms) & (opens < end_ms)]
    if len(opens) < 2:
        raise DataError(f"backtest window {start} .. {end}: fewer than 2 bars of {timeframe}")
    balances = _starting_balances(replay.instruments, capital, initial_holdings)
    loop = ReplayAccount(
        strategy,
        replay,
        timeframe,
        balances,
        fee_map,
        to_decimal(half_spread_bps),
        rules or MarketRules(),
        rates,
        resting_limits,
    )
    first = _bars_at(replay, timeframe, int(opens[0]))
    loop.last_close = {i: decimal_from_float(b.open) for i, b in first.items()}
    for instrument in replay.instruments:
        if instrument not in loop.last_close:
            before = replay.view(
                instrument, timeframe, pd.Timestamp(int(opens[0]), unit="ms", tz="UTC"), 1
            )
            if before.empty:
                raise DataError(f"{instrument}: no price at or before the first bar {start}")
            loop.last_close[instrument] = decimal_from_float(before["close"].iat[-1])
    initial_equity = float(loop.equity())
    equity, marks, plan = [], [], None
    for k, open_ms in enumerate(opens):
        bar_open = pd.Timestamp(int(open_ms), unit="ms", tz="UTC")
        loop.now = bar_open.to_pydatetime()
        bars = _bars_at(replay, timeframe, int(open_ms))
        if resting_limits:
            loop.cancel_resting()
        if plan is not None:
            loop.set_books(bars, "open")
            loop.execute(plan, set(bars))
        if resting_limits:
            loop.walk_bars(bars)
        loop.collect_fills()
        loop.settle_funding(bar_open, bar_open + step)
        loop.last_close.update({i: decimal_from_float(b.close) for i, b in bars.items()})
        equity.append(float(loop.equity()))
        marks.append({str(i): float(loop.held(i)) for i in replay.instruments})
        if k < len(opens) - 1:
            plan = loop.decide(bar_open + step, bars)
    return _result(
        loop,
        pd.DatetimeIndex(pd.to_datetime(opens, unit="ms", utc=True), name="ts"),
        equity,
        marks,
        initial_equity,
        annualization,
    )


def _fills_frame(loop: ReplayAccount) -> pd.DataFrame:
    """One row per fill: the instrument's position (units from zero) after it, and its
    slippage_cost ``units x (price - mid)`` against the mid of the book it traded on."""
    rows, running = [], {}
    for instrument, fill, mid in loop.fills:
        units = fill.side.sign * fill.amount
        running[instrument] = after = running.get(instrument, ZERO) + units
        rows.append(
            (fill.timestamp, str(instrument), fill.side.value, float(units), float(fill.price),
             float(fill.fee), fill.liquidity.value, float(after), float(units * (fill.price - mid)))
        )  # fmt: skip
    columns = ["time", "instrument", "side", "units", "price", "fee", "liquidity", "position"]
    frame = pd.DataFrame(rows, columns=[*columns, "slippage_cost"])
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame


def signed_round_trips(fills: pd.DataFrame, last_close: float) -> pd.DataFrame:
    """Round trips of one instrument from flat to flat, long or short (`result.round_trips`
    is long-only); the columns of `result.TRADE_COLUMNS`.

    Entry (exit) price is the unit-weighted mean price of the fills that opened (closed)
    the position, size the units opened (negative for a short), pnl the cash received
    minus paid minus fees. A fill that crosses zero closes the trade and opens the next
    with its remainder, its fee split pro rata. A trade still open is marked at
    `last_close` (no exit fee).
    """
    rows: list[tuple] = []
    trade: dict[str, Any] | None = None
    held = ZERO  # exact: the units are amounts on the venue's step
    for time, units, price, fee in fills[["time", "units", "price", "fee"]].itertuples(index=False):
        left = decimal_from_float(units)
        while left != 0:
            if trade is None:
                trade = {"entry": time, "sign": 1 if left > 0 else -1, "opened": 0.0,
                         "cost": 0.0, "closed": 0.0, "proceeds": 0.0, "fees": 0.0}  # fmt: skip
            opening = (left > 0) == (trade["sign"] > 0)
            part = left if opening else min(abs(left), abs(held)).copy_sign(left)
            size = float(abs(part))
            trade["opened" if opening else "closed"] += size
            trade["cost" if opening else "proceeds"] += size * price
            trade["fees"] += fee * size / abs(units)
            held, left = held + part, left - part
            if held == 0:
                rows.append(_trade_row(trade, time, 0.0, last_close))
                trade = None
    if trade is not None:
        rows.append(_trade_row(trade, pd.NaT, float(held), last_close))
    frame = pd.DataFrame(rows, columns=list(TRADE_COLUMNS))
    for column in ("entry_time", "exit_time"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def _trade_row(trade: dict[str, Any], exit_time: Any, held: float, mark: float) -> tuple:
    closed, proceeds = trade["closed"] + abs(held), trade["proceeds"] + abs(held) * mark
    pnl = trade["sign"] * (proceeds - trade["cost"]) - trade["fees"]
    exit_price = proceeds / closed if closed else float("nan")
    return (trade["entry"], exit_time, trade["cost"] / trade["opened"], exit_price,
            trade["sign"] * trade["opened"], trade["fees"], pnl, held != 0.0)  # fmt: skip


def _result(
    loop: ReplayAccount,
    index: pd.DatetimeIndex,
    equity_values: list[float],
    marks: list[dict[str, float]],
    initial_equity: float,
    annualization: float,
) -> EventBacktestResult:
    equity = pd.Series(equity_values, index=index, name="equity")
    positions = pd.DataFrame(marks, index=index)
    closes = {str(i): float(p) for i, p in loop.last_close.items()}
    if positions.shape[1] == 1:
        position = positions.iloc[:, 0].rename("units")
    else:
        position = positions.abs().mul(pd.Series(closes)).sum(axis=1).rename("gross_notional")
    fills = _fills_frame(loop)
    trades = [
        signed_round_trips(group, closes[name]).assign(instrument=name)
        for name, group in fills.groupby("instrument", sort=True)
    ]
    trades = pd.concat(trades, ignore_index=True) if trades else signed_round_trips(fills, 0.0)
    entries = (fills["position"] != 0) & (
        fills.groupby("instrument")["position"].shift(1).fillna(0) == 0
    )
    daily = metrics.daily_returns_from_equity(equity, initial=initial_equity)
    funding = pd.DataFrame(loop.funding_rows, columns=list(FUNDING_COLUMNS))
    return EventBacktestResult(
        equity=equity,
        position=position,
        fills=fills,
        trades=trades,
        final_equity=equity_values[-1],
        fees_paid=float(fills["fee"].sum()),
        slippage_cost=float(fills["slippage_cost"].sum()),
        n_trades=int(entries.sum()),
        daily_returns=daily,
        metrics=performance_metrics(daily, trades, equity, position, fills, annualization),
        positions=positions,
        orders=pd.DataFrame(loop.orders, columns=list(ORDER_COLUMNS)),
        funding=funding,
        balances=loop.balances(),
        funding_income=float(sum(funding["payment"], ZERO)),
    )
