"""What the portfolio reports read from the trading database: prices and strategy accounts.

A strategy's account is rebuilt from its fills (as `trading.accounts` does for trading), so
every report agrees with `crypto_executions`. Figures are in each venue's quote currency,
summed at face value: the reports assume one quote currency (USDT in the shipped config).
`to_float` is the one place the Decimal money of the ledger becomes float analytics input.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd
import sqlalchemy as sa

from zvt_pipelines.data.candles import resample_candles
from zvt_pipelines.errors import DataError
from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.model.orders import Fill
from zvt_pipelines.model.timeframe import timeframe_ms
from zvt_pipelines.portfolio.lots import ClosedLot
from zvt_pipelines.portfolio.positions import AccountingMethod, Position, PositionBook, PositionKey
from zvt_pipelines.portfolio.stress import Holding
from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.market_data import load_candles
from zvt_pipelines.storage.models import MarketOhlcv
from zvt_pipelines.trading.accounts import account_balances, account_equity, strategy_fills

ZERO = Decimal(0)
MARK_TIMEFRAMES = ("1m", "1h", "1d")  # candles a mark price may come from
JUST_AFTER = pd.Timedelta(microseconds=1)  # fills are stored to the microsecond
FINER = {"1d": ("1h", "1m"), "1h": ("1m",), "1m": ()}  # what a missing timeframe is resampled from


def to_float(value: Decimal | None) -> float:
    """Decimal money to float64 analytics input (None becomes NaN): a rounding, nothing else."""
    return float("nan") if value is None else float(value)


def price_at(db: Database, instrument: InstrumentId, at: pd.Timestamp) -> Decimal | None:
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
    return None if best is None else best[1]


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

    def equity(self, venue: str | None = None) -> Decimal:
        """Capital plus fills marked at `prices`, on one venue or all of them."""
        if venue is None:
            return account_equity(self.balances, self.prices)
        prices = {i: p for i, p in self.prices.items() if i.venue == venue}
        return account_equity({venue: self.balances.get(venue, {})}, prices)

    def capital_on(self, venue: str | None = None) -> Decimal:
        """The capital the account(s) started with: `capital` per funded venue."""
        return self.capital * (len(self.venues) if venue is None else int(venue in self.venues))

    def quotes(self, venue: str) -> set[str]:
        """The quote currencies of the instruments priced on `venue` (cash, not exposure)."""
        return {i.quote for i in self.prices if i.venue == venue}

    def holdings(self) -> list[Holding]:
        """Every non-zero balance valued in its venue's quote currency (cash at face value)."""
        result = []
        for venue, currencies in sorted(self.balances.items()):
            by_base = {i.base: p for i, p in self.prices.items() if i.venue == venue}
            quotes = self.quotes(venue)
            for currency, amount in sorted(currencies.items()):
                if amount == 0:
                    continue
                if currency in quotes:
                    result.append(Holding(venue, currency, to_float(amount)))
                elif currency in by_base:
                    result.append(Holding(venue, currency, to_float(amount * by_base[currency])))
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
    marked at the last close.

    Raises DataError when an instrument the strategy holds has no candle closed by `at`.
    """
    fills = strategy_fills(db, entry.name, before=(at + JUST_AFTER).to_pydatetime())
    instruments = _instruments(entry, fills)
    balances = account_balances(list(entry.instrument_ids()), entry.capital, fills)
    prices = {}
    for instrument in instruments:
        price = price_at(db, instrument, at)
        if price is not None:
            prices[instrument] = price
        elif balances.get(instrument.venue, {}).get(instrument.base, ZERO) != 0:
            raise DataError(f"{instrument}: held by {entry.name} but no candle closed by {at}")
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
    )
