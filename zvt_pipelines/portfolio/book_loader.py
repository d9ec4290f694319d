"""What the portfolio reports read from the trading database: prices and strategy accounts.

A strategy's account is rebuilt from its fills (as `portfolio.accounts` does for trading), so
every report agrees with `crypto_executions`. Figures are in each venue's quote currency,
summed at face value: the reports assume one quote currency (USDT in the shipped config).
`to_float` is the one place the Decimal money of the ledger becomes float analytics input.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pandas as pd
import sqlalchemy as sa

from zvt_pipelines.data.candles import resample_candles
from zvt_pipelines.errors import DataError
from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.model.orders import Fill
from zvt_pipelines.model.timeframe import timeframe_ms
from zvt_pipelines.portfolio.accounts import account_balances, strategy_fills
from zvt_pipelines.portfolio.lots import ClosedLot
from zvt_pipelines.portfolio.positions import AccountingMethod, Position, PositionBook, PositionKey
from zvt_pipelines.portfolio.stress import Holding
from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.market_data import load_candles
from zvt_pipelines.storage.models import MarketOhlcv

ZERO = Decimal(0)
MARK_TIMEFRAMES = ("1m", "1h", "1d")  # candles a mark price may come from
JUST_AFTER = pd.Timedelta(microseconds=1)  # fills are stored to the microsecond
FINER = {"1d": ("1h", "1m"), "1h": ("1m",), "1m": ()}  # what a missing timeframe is resampled from
STALE_AFTER = pd.Timedelta(hours=1)  # a candle mark older than this is flagged stale


def to_float(value: Decimal | None) -> float:
    """Decimal money to float64 analytics input (None becomes NaN): a rounding, nothing else."""
    return float("nan") if value is None else float(value)


@dataclass(frozen=True)
class Mark:
    """The price an instrument is marked at, when that price was known and where it came from.

    `source` is 'candle' (the close of the latest candle closed by the report time) or 'fill'
    (no candle at all: the strategy's own last fill price). A mark older than `STALE_AFTER`,
    or taken from a fill, is stale: the report still uses it (never 0) and says so.
    """

    price: Decimal
    known_at: pd.Timestamp
    source: str
    age: pd.Timedelta

    @property
    def stale(self) -> bool:
        return self.source != "candle" or self.age > STALE_AFTER


def candle_mark(db: Database, instrument: InstrumentId, at: pd.Timestamp) -> Mark | None:
    """Close of the latest candle (1m, 1h or 1d) that had closed by `at`; None if there is none."""
    best: tuple[pd.Timestamp, Decimal] | None = None
    with db.engine.connect() as conn:
        for timeframe in MARK_TIMEFRAMES:
            step = pd.Timedelta(milliseconds=timeframe_ms(timeframe))
            row = conn.execute(
                sa.select(MarketOhlcv.open_time, MarketOhlcv.close)
                .where(
                    MarketOhlcv.venue == instrument.venue,
                    MarketOhlcv.symbol == instrument.symbol,
                    MarketOhlcv.timeframe == timeframe,
                    MarketOhlcv.open_time <= (at - step).to_pydatetime(),
                )
                .order_by(MarketOhlcv.open_time.desc())
                .limit(1)
            ).first()
            if row is not None:
                closed_at = pd.Timestamp(row.open_time) + step
                if best is None or closed_at > best[0]:
                    best = (closed_at, row.close)
    if best is None:
        return None
    return Mark(best[1], best[0], "candle", at - best[0])


def fill_mark(instrument: InstrumentId, fills: list[Fill], at: pd.Timestamp) -> Mark | None:
    """The strategy's last fill price of `instrument` (fills are oldest first); None without one."""
    for fill in reversed(fills):
        if fill.venue == instrument.venue and fill.symbol == instrument.symbol:
            known_at = pd.Timestamp(fill.timestamp)
            return Mark(fill.price, known_at, "fill", at - known_at)
    return None


def closes(
    db: Database, instrument: InstrumentId, timeframe: str, start: pd.Timestamp, end: pd.Timestamp
) -> pd.Series:
    """Close prices of candles opening in [start, end), indexed by open time.

    Stored candles of `timeframe` are used when there are any, else finer ones resampled.
    """
    frame = load_candles(db, instrument.venue, instrument.symbol, timeframe, start, end)
    for finer in FINER.get(timeframe, ()):
        if not frame.empty:
            break
        frame = resample_candles(
            load_candles(db, instrument.venue, instrument.symbol, finer, start, end), timeframe
        )
    return frame.set_index("ts")["close"]


@dataclass(frozen=True)
class StrategyAccount:
    """One strategy's accounts at a moment: balances, marked positions and their closed lots."""

    name: str
    capital: Decimal
    venues: tuple[str, ...]
    fills: tuple[Fill, ...]
    balances: dict[str, dict[str, Decimal]]
    prices: dict[InstrumentId, Decimal]
    positions: dict[PositionKey, Position]
    closed: dict[PositionKey, list[ClosedLot]]
    instruments: tuple[InstrumentId, ...] = ()
    marks: dict[InstrumentId, Mark] = field(default_factory=dict)

    def equity(self, venue: str | None = None) -> Decimal:
        """Capital plus fills marked at `prices`, on one venue or all of them.

        Cash in a quote currency of the strategy's instruments counts at face value even when
        nothing on that venue is priced (so an unpriced, untouched account is worth its capital,
        not 0); a base asset counts at its mark (BTC of ETH/BTC and BTC/USDT is priced, not cash);
        any other currency (a fee coin) counts as 0.
        """
        total = ZERO
        for name, currencies in self.balances.items():
            if venue is not None and name != venue:
                continue
            by_base = self.base_prices(name)
            quotes = self.quotes(name)
            for currency, amount in currencies.items():
                if currency in by_base:
                    total += amount * by_base[currency]
                elif currency in quotes:
                    total += amount
        return total

    def base_prices(self, venue: str) -> dict[str, Decimal]:
        """Price per base asset on `venue`, preferring a pair quoted in cash (ETH/USDT over
        ETH/BTC when BTC is itself priced), so every value is in the cash currency."""
        priced = [(i, p) for i, p in self.prices.items() if i.venue == venue]
        bases = {i.base for i, _ in priced}
        ordered = sorted(priced, key=lambda item: item[0].quote not in bases)
        return {i.base: p for i, p in ordered}

    def stale_marks(self) -> dict[InstrumentId, Mark]:
        """The marks of held instruments that are stale (see `Mark`)."""
        held = {
            i
            for i in self.marks
            if self.balances.get(i.venue, {}).get(i.base, ZERO) != 0 and self.marks[i].stale
        }
        return {i: self.marks[i] for i in sorted(held, key=str)}

    def capital_on(self, venue: str | None = None) -> Decimal:
        """The capital the account(s) started with: `capital` per funded venue."""
        return self.capital * (len(self.venues) if venue is None else int(venue in self.venues))

    def quotes(self, venue: str) -> set[str]:
        """The quote currencies of the strategy's instruments on `venue` (cash, not exposure)."""
        known = self.instruments or tuple(self.prices)
        return {i.quote for i in known if i.venue == venue}

    def holdings(self) -> list[Holding]:
        """Every non-zero balance valued in its venue's quote currency (cash at face value)."""
        result = []
        for venue, currencies in sorted(self.balances.items()):
            by_base = self.base_prices(venue)
            quotes = self.quotes(venue)
            for currency, amount in sorted(currencies.items()):
                if amount == 0:
                    continue
                if currency in by_base:
                    result.append(Holding(venue, currency, to_float(amount * by_base[currency])))
                elif currency in quotes:
                    result.append(Holding(venue, currency, to_float(amount)))
        return result


def _instruments(entry: Any, fills: list[Fill]) -> list[InstrumentId]:
    known = list(entry.instrument_ids())
    for fill in fills:
        instrument = InstrumentId.parse(f"{fill.venue}:{fill.symbol}")
        if instrument not in known:
            known.append(instrument)
    return known


def replay_account(db: Database, entry: Any, at: pd.Timestamp) -> StrategyAccount:
    """Rebuild a strategy entry's accounts from its fills up to `at` (a fill at `at` counts),
    marked at the last close, or at its own last fill price when no candle exists (flagged
    stale, never 0).

    Raises DataError when an instrument the strategy holds has neither a candle nor a fill.
    """
    fills = strategy_fills(db, entry.name, before=(at + JUST_AFTER).to_pydatetime())
    instruments = _instruments(entry, fills)
    balances = account_balances(list(entry.instrument_ids()), entry.capital, fills)
    marks = {}
    for instrument in instruments:
        mark = candle_mark(db, instrument, at) or fill_mark(instrument, fills, at)
        if mark is not None:
            marks[instrument] = mark
        elif balances.get(instrument.venue, {}).get(instrument.base, ZERO) != 0:
            raise DataError(f"{instrument}: held by {entry.name} but no candle closed by {at}")
    prices = {instrument: mark.price for instrument, mark in marks.items()}
    book = PositionBook(AccountingMethod.FIFO)
    closed: dict[PositionKey, list[ClosedLot]] = defaultdict(list)
    for fill in fills:
        key = PositionKey(fill.venue, fill.symbol, entry.name)
        closed[key] += book.apply(fill, entry.name)
    for instrument, price in prices.items():
        book.mark(instrument.venue, instrument.symbol, price)
    venues = tuple(dict.fromkeys(i.venue for i in entry.instrument_ids()))
    return StrategyAccount(
        entry.name,
        entry.capital,
        venues,
        tuple(fills),
        balances,
        prices,
        dict(book.positions),
        dict(closed),
        tuple(instruments),
        marks,
    )
