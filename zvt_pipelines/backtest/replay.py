"""Replaying history: what a strategy may see (closed bars only) and the account it trades.

`Replay` holds each instrument's candles at a base timeframe (1m, 1h, ...) and builds
any coarser timeframe from them once (`resample_candles`). A bar of timeframe T that
opened at o is visible at time `now` only when it has closed, ``o + T <= now``: it was
aggregated from base bars that all closed by then, so a coarse view never leaks a base
bar later than `now`, and a partly formed coarse bar is never shown.

`ReplayMarketData` is the strategy's `MarketData` at a decision time, with one addition:
``candles(instrument, timeframe)`` returns the closed bars of another timeframe of the
same data (a strategy deciding hourly may read 1m bars, or 4h bars, under the rule above).

`ReplayAccount` is the trading side: the live order path over synthetic books
(`synthetic_books`), positions, funding, and what the result reports. The order of the
steps of one bar is `event_driven.run_backtest`'s.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from zvt_pipelines.backtest.synthetic_books import (
    BacktestVenue,
    MarketRules,
    VenueFees,
    book_top,
)
from zvt_pipelines.data.candles import resample_candles
from zvt_pipelines.errors import DataError
from zvt_pipelines.model.candles import CANDLE_COLUMNS, TS_DTYPE
from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.model.money import decimal_from_float
from zvt_pipelines.model.orders import Fill, Side
from zvt_pipelines.model.timeframe import timeframe_ms
from zvt_pipelines.oms.manager import OrderManager
from zvt_pipelines.oms.sizing import affordable_amount, floor_to_step
from zvt_pipelines.portfolio.accounts import account_equity
from zvt_pipelines.portfolio.positions import PositionBook, PositionKey
from zvt_pipelines.strategies.base import (
    BaseCryptoStrategy,
    BookTop,
    MarketData,
    PortfolioView,
    PositionView,
)
from zvt_pipelines.strategies.targets import RebalancePlan, rebalance

ZERO = Decimal(0)

_UNITS = (("w", 604_800_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000))


def timeframe_of(milliseconds: int) -> str:
    """The timeframe text of a bar length, e.g. 3_600_000 -> `1h` (the largest unit that divides it)."""
    for unit, size in _UNITS:
        if milliseconds >= size and milliseconds % size == 0:
            return f"{milliseconds // size}{unit}"
    raise DataError(f"bar spacing {milliseconds} ms: not a whole number of minutes")


def _ms(ts: pd.Series) -> np.ndarray:
    return ts.astype(TS_DTYPE).astype("int64").to_numpy()


def funding_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Funding rates as columns `ts` (UTC) and `funding_rate`, from a file's `timestamp` (ms)
    or an existing `ts` column, sorted by time."""
    if "funding_rate" not in frame.columns or not {"ts", "timestamp"} & set(frame.columns):
        raise DataError("funding frame: expected columns `timestamp` (or `ts`) and `funding_rate`")
    if "ts" in frame.columns:
        ts = pd.to_datetime(frame["ts"], utc=True)
    else:
        ts = pd.to_datetime(frame["timestamp"].astype("int64"), unit="ms", utc=True)
    result = pd.DataFrame({"ts": ts.astype(TS_DTYPE), "funding_rate": frame["funding_rate"]})
    return result.sort_values("ts", kind="stable").reset_index(drop=True)


class Replay:
    """Candles of several instruments at a base timeframe, viewed as of any moment.

    Parameters
    ----------
    candles : candle frame per instrument, all at the same base timeframe
    base_timeframe : that timeframe; inferred from the smallest spacing of open times
        when None
    lookback_bars : how many closed bars a view returns at most (the live loop's 500)
    """

    def __init__(
        self,
        candles: Mapping[InstrumentId, pd.DataFrame],
        base_timeframe: str | None = None,
        lookback_bars: int = 500,
    ) -> None:
        if not candles:
            raise DataError("replay: no candles given")
        if lookback_bars < 2:
            raise DataError(f"replay lookback_bars {lookback_bars}: need at least 2")
        self.lookback_bars = lookback_bars
        frames = {}
        for instrument, frame in candles.items():
            missing = [c for c in CANDLE_COLUMNS if c not in frame.columns]
            if missing or len(frame) < 2:
                raise DataError(f"replay: candles of {instrument} lack {missing} or have < 2 rows")
            frame = frame[list(CANDLE_COLUMNS)].reset_index(drop=True)
            if not frame["ts"].is_monotonic_increasing or frame["ts"].duplicated().any():
                raise DataError(f"replay: candles of {instrument} are not strictly increasing")
            frames[instrument] = frame
        spacing = min(int(np.diff(_ms(f["ts"])).min()) for f in frames.values())
        self.base_timeframe = base_timeframe or timeframe_of(spacing)
        base_ms = timeframe_ms(self.base_timeframe)
        for instrument, frame in frames.items():
            if (_ms(frame["ts"]) % base_ms).any():
                raise DataError(
                    f"replay: candles of {instrument} are off the {self.base_timeframe} grid"
                )
        self._frames: dict[str, dict[InstrumentId, pd.DataFrame]] = {self.base_timeframe: frames}
        self._opens: dict[str, dict[InstrumentId, np.ndarray]] = {
            self.base_timeframe: {i: _ms(f["ts"]) for i, f in frames.items()}
        }

    @property
    def instruments(self) -> tuple[InstrumentId, ...]:
        return tuple(self._frames[self.base_timeframe])

    def frames(self, timeframe: str) -> dict[InstrumentId, pd.DataFrame]:
        """Every instrument's full history at `timeframe` (a multiple of the base), built once."""
        if timeframe not in self._frames:
            step, base = timeframe_ms(timeframe), timeframe_ms(self.base_timeframe)
            if step % base:
                raise DataError(
                    f"timeframe {timeframe}: not a multiple of the base timeframe {self.base_timeframe}"
                )
            built = {
                i: resample_candles(f, timeframe)
                for i, f in self._frames[self.base_timeframe].items()
            }
            self._frames[timeframe] = built
            self._opens[timeframe] = {i: _ms(f["ts"]) for i, f in built.items()}
        return self._frames[timeframe]

    def opens(self, timeframe: str) -> dict[InstrumentId, np.ndarray]:
        """Bar open times (int64 UTC ms) per instrument at `timeframe`."""
        self.frames(timeframe)
        return self._opens[timeframe]

    def closed_count(self, instrument: InstrumentId, timeframe: str, now_ms: int) -> int:
        """How many bars of `timeframe` had closed by `now_ms` (open + length <= now)."""
        opens = self.opens(timeframe)[instrument]
        return int(np.searchsorted(opens, now_ms - timeframe_ms(timeframe), side="right"))

    def view(
        self, instrument: InstrumentId, timeframe: str, now: pd.Timestamp, bars: int | None = None
    ) -> pd.DataFrame:
        """The last `bars` (default `lookback_bars`) bars of `timeframe` closed by `now`, a copy."""
        if instrument not in self.instruments:
            raise DataError(f"replay has no candles for {instrument}")
        end = self.closed_count(instrument, timeframe, int(now.value // 1_000_000))
        start = max(0, end - (bars or self.lookback_bars))
        return self.frames(timeframe)[instrument].iloc[start:end].reset_index(drop=True)

    def fingerprint(self) -> dict[str, Any]:
        """What data the backtest saw: instruments, base timeframe, range, bars and a hash
        of every open time and OHLCV value (as `tracking.data_fingerprint` does for one frame)."""
        digest = hashlib.sha256()
        frames = self._frames[self.base_timeframe]
        for instrument in sorted(frames):
            frame = frames[instrument]
            digest.update(str(instrument).encode())
            digest.update(_ms(frame["ts"]).tobytes())
            for column in CANDLE_COLUMNS[1:]:
                digest.update(frame[column].to_numpy(dtype="float64").tobytes())
        return {
            "venue": ",".join(sorted({i.venue for i in frames})),
            "symbols": ",".join(str(i) for i in sorted(frames)),
            "timeframe": self.base_timeframe,
            "start": min(f["ts"].iloc[0] for f in frames.values()).isoformat(),
            "end": max(f["ts"].iloc[-1] for f in frames.values()).isoformat(),
            "bars": sum(len(f) for f in frames.values()),
            "sha256": digest.hexdigest(),
        }


class ReplayMarketData(MarketData):
    """`MarketData` at a decision time whose `candles` also serves other timeframes of the
    replayed data, closed bars only (module docstring)."""

    def __init__(
        self,
        replay: Replay,
        now: pd.Timestamp,
        timeframe: str,
        order_books: Mapping[InstrumentId, BookTop] | None = None,
        funding: Mapping[InstrumentId, pd.DataFrame] | None = None,
    ) -> None:
        windows = {i: replay.view(i, timeframe, now) for i in replay.instruments}
        super().__init__(now, timeframe, windows, order_books=order_books, funding=funding)
        self._replay = replay

    def candles(self, instrument: InstrumentId, timeframe: str | None = None) -> pd.DataFrame:
        """Closed candles of `instrument` at the decision timeframe, or at `timeframe`."""
        if timeframe is None or timeframe == self.timeframe:
            return super().candles(instrument)
        return self._replay.view(instrument, timeframe, self.now)


class ReplayAccount:
    """The trading side of one replay: a `BacktestVenue` per venue under one
    the live `OrderManager`, a `PositionBook`, and the fills, orders and funding recorded.

    `now` is the replay clock every venue and the manager read."""

    def __init__(
        self,
        strategy: BaseCryptoStrategy,
        replay: Replay,
        timeframe: str,
        balances: dict[str, dict[str, Decimal]],
        fees: Mapping[str, VenueFees],
        half_spread_bps: Decimal,
        rules: MarketRules,
        funding: Mapping[InstrumentId, pd.DataFrame],
        resting_limits: bool,
    ) -> None:
        self.strategy, self.replay, self.timeframe = strategy, replay, timeframe
        self.half_spread, self.rules, self.resting = half_spread_bps, rules, resting_limits
        self.funding = funding
        self.now = datetime(1970, 1, 1, tzinfo=UTC)
        by_venue: dict[str, list[InstrumentId]] = {}
        for instrument in replay.instruments:
            by_venue.setdefault(instrument.venue, []).append(instrument)
        self.venues = {
            venue: BacktestVenue(
                venue, listed, balances.get(venue, {}), fees[venue], rules, lambda: self.now
            )
            for venue, listed in by_venue.items()
        }
        taker = max(f.taker_bps for f in fees.values())
        self.manager = OrderManager(self.venues, fee_bps=taker, clock=lambda: self.now)
        self.book = PositionBook()
        self.fills: list[tuple[InstrumentId, Fill, Decimal]] = []
        self.orders: list[tuple] = []
        self.funding_rows: list[tuple] = []
        self.last_close: dict[InstrumentId, Decimal] = {}
        self._seen: dict[str, int] = {}
        self._sequence = 0

    # -- execution ---------------------------------------------------------------------

    def top(self, bar: Any, column: str) -> BookTop:
        """The synthetic book around `bar`'s `column` price, as deep as its volume allows."""
        depth = floor_to_step(
            decimal_from_float(bar.volume) * self.rules.depth_fraction, self.rules.amount_step
        )
        price = decimal_from_float(getattr(bar, column))
        return book_top(price, self.half_spread, depth, self.rules.price_tick)

    def set_books(self, bars: Mapping[InstrumentId, Any], column: str) -> None:
        """Every venue's book set around its bar's `column` price (the execution books)."""
        for instrument, bar in bars.items():
            self.venues[instrument.venue].set_book(instrument.symbol, self.top(bar, column))

    def held(self, instrument: InstrumentId) -> Decimal:
        """Base units held on the instrument's venue (signed: a perpetual's position)."""
        return self.venues[instrument.venue].total.get(instrument.base, ZERO)

    def _send(self, instrument: InstrumentId, side: Side, amount: Decimal, price: Decimal | None):
        """One order through the manager (sizing rules of `run_backtest`, step 2), recorded."""
        venue = self.venues[instrument.venue]
        book = venue.fetch_order_book(instrument.symbol)
        kind = "market" if price is None else "limit"
        if not book["bids"] or not book["asks"]:
            row = (amount, price, ZERO, "NO_LIQUIDITY", "zero-volume bar: empty synthetic book")
            self.orders.append((self.now, str(instrument), side.value, kind, *row))
            return
        mid = venue.marks[instrument.symbol]
        if price is None and not venue.market(instrument.symbol).get("contract"):
            free = venue.fetch_balance()["free"].get(instrument.quote, ZERO)
            amount = affordable_amount(
                side, amount, free, book["asks"][0][0], venue.engine.taker_bps / 10_000
            )
        amount = floor_to_step(amount, self.rules.amount_step)
        if amount <= 0 or amount * (price or mid) < self.rules.min_notional:
            return  # dust: the venue would refuse it, as the live loop skips it
        self._sequence += 1
        extra = {} if price is None else {"time_in_force": "GTC" if self.resting else "IOC"}
        order = self.manager.new_order(
            instrument.venue, instrument.symbol, side, kind, amount, price,
            strategy=self.strategy.label, client_order_id=f"bt-{self._sequence}", **extra,
        )  # fmt: skip
        self.manager.submit(order, reference_price=mid)
        row = (amount, price, order.filled, order.status.value, order.reason or "")
        self.orders.append((self.now, str(instrument), side.value, kind, *row))

    def execute(self, plan: RebalancePlan, tradable: set[InstrumentId]) -> None:
        """Trade every target and send every limit signal of `plan` (module docstring, step 2)."""
        for instrument, target in plan.targets.items():
            delta = target.quantity - self.held(instrument)
            if instrument in tradable and delta != 0:
                self._send(instrument, Side.BUY if delta > 0 else Side.SELL, abs(delta), None)
        for signal in plan.limit_orders:
            if signal.instrument in tradable and signal.amount and signal.price:
                self._send(signal.instrument, signal.side, signal.amount, signal.price)

    def walk_bars(self, bars: Mapping[InstrumentId, Any]) -> None:
        """Feed each bar's price path to its venue so resting orders it touches fill."""
        for instrument, bar in bars.items():
            prices = [decimal_from_float(getattr(bar, c)) for c in ("open", "high", "low", "close")]
            self.venues[instrument.venue].on_bar(instrument.symbol, *prices, ts=self.now)
        self.manager.sync_open()

    def cancel_resting(self) -> None:
        """Cancel the quotes still resting from the previous bar."""
        for order in self.manager.open_orders():
            self.manager.cancel(order.client_order_id, "backtest: quote expired with its bar")

    def collect_fills(self) -> None:
        """Book every fill not yet seen into the position book and the fill list (with the
        mid of the book it traded against, the reference of its slippage cost)."""
        for order in self.manager.orders.values():
            seen = self._seen.get(order.client_order_id, 0)
            if len(order.fills) > seen:
                instrument = InstrumentId.parse(f"{order.venue}:{order.symbol}")
                mid = self.venues[order.venue].marks[order.symbol]
                for fill in order.fills[seen:]:
                    self.book.apply(fill, self.strategy.label)
                    self.fills.append((instrument, fill, mid))
                self._seen[order.client_order_id] = len(order.fills)

    # -- funding, marks and decisions ----------------------------------------------------

    def settle_funding(self, after: pd.Timestamp, until: pd.Timestamp) -> None:
        """Book the funding of settlements in (after, until] on open perpetual positions."""
        for instrument, rates in self.funding.items():
            due = rates.loc[(rates["ts"] > after) & (rates["ts"] <= until)]
            position = self.held(instrument)
            for ts, rate in zip(due["ts"], due["funding_rate"], strict=True):
                if position == 0:
                    continue
                count = self.replay.closed_count(
                    instrument, self.replay.base_timeframe, ts.value // 1_000_000
                )
                if count == 0:
                    continue
                frame = self.replay.frames(self.replay.base_timeframe)[instrument]
                mark, rate_ = (
                    decimal_from_float(frame["close"].iat[count - 1]),
                    decimal_from_float(rate),
                )
                payment = -position * mark * rate_
                self.venues[instrument.venue].book_funding(
                    instrument.settle or instrument.quote, payment
                )
                self.funding_rows.append((ts, str(instrument), position, mark, rate_, payment))
                self.manager.refresh_balances(instrument.venue)

    def balances(self) -> dict[str, dict[str, Decimal]]:
        return {venue_id: dict(venue.total) for venue_id, venue in self.venues.items()}

    def equity(self) -> Decimal:
        return account_equity(self.balances(), self.last_close)

    def portfolio(self) -> PortfolioView:
        positions = {}
        for instrument in self.replay.instruments:
            quantity = self.held(instrument)
            if quantity == 0:
                continue
            held = self.book.position(
                PositionKey(instrument.venue, instrument.symbol, self.strategy.label)
            )
            entry = held.average_entry_price or self.last_close[instrument]
            positions[instrument] = PositionView(instrument, quantity, entry)
        return PortfolioView(self.equity(), positions, self.balances())

    def decide(self, now: pd.Timestamp, bars: Mapping[InstrumentId, Any]) -> RebalancePlan:
        """The strategy's plan at `now` on what it could know then (module docstring, step 5)."""
        books = {instrument: self.top(bar, "close") for instrument, bar in bars.items()}
        funding = {
            i: r.loc[r["ts"] <= now].tail(self.replay.lookback_bars)
            for i, r in self.funding.items()
        }
        market = ReplayMarketData(self.replay, now, self.timeframe, books, funding)
        return rebalance(self.strategy, market, self.portfolio())
