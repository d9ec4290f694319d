"""A seeded market simulator: candles, order books, trades and funding for several venues.

Every pair has one underlying log price. A daily GARCH(1,1) scaffold with Student-t shocks
fixes each UTC day's open level and variance; each day's minutes are then drawn from a
generator seeded by (seed, pair, day) and bridged to end exactly at the next day's
scaffold level. A day can therefore be generated alone, in any order, and always comes
out the same: candles for [a, c) equal those for [a, b) followed by [b, c), which keeps
Dagster partitions and backfills reproducible. Each venue quotes the underlying times
exp(basis), the basis being an Ornstein-Uhlenbeck deviation of a few bps per (venue,
symbol); perpetuals add a slower premium that drives their funding rate.
"""

from __future__ import annotations

import zlib
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from zvt_pipelines.errors import ConfigError, NotSupported, UnknownSymbol
from zvt_pipelines.model.candles import CANDLE_COLUMNS, TS_DTYPE, empty_candles
from zvt_pipelines.venues.simulator.books import make_order_book
from zvt_pipelines.venues.simulator.paths import (
    Scaffold,
    UnderlyingDay,
    VenueDay,
    daily_scaffold,
    ou_day,
    underlying_day,
    venue_candles,
)
from zvt_pipelines.venues.simulator.specs import (
    FUNDING_INTERVAL_MS,
    MINUTES_PER_DAY,
    MS_PER_DAY,
    MS_PER_MINUTE,
    ModelParams,
    SymbolSpec,
    intraday_profile,
    iso8601,
    resolve_specs,
    to_ms,
)
from zvt_pipelines.venues.simulator.trades import TradeBlock, make_trade_block, trade_dicts

DEFAULT_ORIGIN = pd.Timestamp("2024-01-01", tz="UTC")
SPAN_DAYS = 25 * 366  # simulated history on each side of the origin
_OFFSET = 1 << 40  # keeps seed words non-negative for days and times before 1970
_DAILY, _MINUTES, _BASIS, _PREMIUM, _TRADES, _BOOK, _VOLUME = range(1, 8)


class _Lru:
    """A small least-recently-used cache of generated day blocks."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        value = make()
        self._items[key] = value
        if len(self._items) > self._size:
            self._items.popitem(last=False)
        return value


def _word(name: str) -> int:
    return zlib.crc32(name.encode())


class MarketSimulator:
    """Deterministic market data for several venues sharing one underlying price per pair.

    Parameters
    ----------
    seed : non-negative integer; the same seed gives the same data, whatever the call order.
    venues : venue names, e.g. `("sim_a", "sim_b")`.
    symbols : symbols (`"BTC/USDT"`, `"BTC/USDT:USDT"`) taking the default specs, or specs.
    origin : UTC midnight at which each pair's underlying price is its spec's `start_price`.
    params : model constants (tails, GARCH, basis, premium, book shape).
    cache_days : how many generated day blocks to keep in memory.
    """

    def __init__(
        self,
        seed: int,
        venues: Sequence[str],
        symbols: Iterable[str | SymbolSpec] = ("BTC/USDT", "ETH/USDT"),
        origin: pd.Timestamp = DEFAULT_ORIGIN,
        params: ModelParams | None = None,
        cache_days: int = 512,
    ) -> None:
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ConfigError(f"seed {seed!r}: must be a non-negative integer")
        if isinstance(venues, str) or not venues or len(set(venues)) != len(venues):
            raise ConfigError(f"venues {venues!r}: give a list of distinct venue names")
        origin_ms = to_ms(origin, "origin")
        if origin_ms % MS_PER_DAY:
            raise ConfigError(f"origin {origin!r}: must be a UTC midnight")
        if not isinstance(cache_days, int) or cache_days < 2:
            raise ConfigError(f"cache_days {cache_days!r}: must be an integer of at least 2")
        self.seed = seed
        self.venues = tuple(venues)
        self.specs = resolve_specs(symbols)
        self.origin = pd.Timestamp(origin_ms, unit="ms", tz="UTC")
        self.params = params or ModelParams()
        self._origin_day = origin_ms // MS_PER_DAY
        self._profile = intraday_profile()
        self._scaffolds: dict[str, Scaffold] = {}
        self._days = _Lru(cache_days)
        self._trade_blocks = _Lru(8)

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self.specs)

    def spec(self, venue: str, symbol: str) -> SymbolSpec:
        """The spec of `symbol`, after checking that `venue` is simulated here."""
        if venue not in self.venues:
            raise ConfigError(f"venue {venue!r}: not simulated (venues: {', '.join(self.venues)})")
        if symbol not in self.specs:
            raise UnknownSymbol(
                f"symbol {symbol!r} is not listed on venue {venue!r} "
                f"(markets: {', '.join(self.specs)})"
            )
        return self.specs[symbol]

    def candles(
        self, venue: str, symbol: str, start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DataFrame:
        """1-minute candles of `symbol` on `venue` with open time in [start, end)."""
        self.spec(venue, symbol)
        first = -(-to_ms(start, "start") // MS_PER_MINUTE) * MS_PER_MINUTE
        end_ms = to_ms(end, "end")
        if end_ms <= first:
            return empty_candles()
        columns: dict[str, list[np.ndarray]] = {name: [] for name in CANDLE_COLUMNS[1:]}
        for day in range(first // MS_PER_DAY, (end_ms - 1) // MS_PER_DAY + 1):
            block = self.venue_day(venue, symbol, day)
            day_ms = day * MS_PER_DAY
            lo = max(first - day_ms, 0) // MS_PER_MINUTE
            hi = min(-(-(end_ms - day_ms) // MS_PER_MINUTE), MINUTES_PER_DAY)
            for name in columns:
                columns[name].append(getattr(block, name)[lo:hi])
        frame = pd.DataFrame({name: np.concatenate(parts) for name, parts in columns.items()})
        ts = first + MS_PER_MINUTE * np.arange(len(frame), dtype=np.int64)
        frame.insert(0, "ts", pd.DatetimeIndex(ts.astype("datetime64[ms]")).tz_localize("UTC"))
        frame["ts"] = frame["ts"].astype(TS_DTYPE)
        return frame

    def venue_day(self, venue: str, symbol: str, day: int) -> VenueDay:
        """The candles of one UTC day (days since 1970-01-01), generated once and cached."""
        self.spec(venue, symbol)
        key = ("venue", venue, symbol, day)
        return self._days.get(key, lambda: self._make_venue_day(venue, symbol, day))

    def order_book(
        self, venue: str, symbol: str, at: pd.Timestamp, depth: int = 20
    ) -> dict[str, Any]:
        """A ccxt-shaped order book, `depth` levels a side, around the venue's price at `at`.

        The mid is the open of the minute containing `at` (the last minute's close).
        """
        spec = self.spec(venue, symbol)
        if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
            raise ConfigError(f"depth {depth!r}: must be a positive integer")
        at_ms = to_ms(at, "at")
        day, in_day = divmod(at_ms, MS_PER_DAY)
        mid = float(self.venue_day(venue, symbol, day).open[in_day // MS_PER_MINUTE])
        rng = self._rng(_word(venue), _word(symbol), _BOOK, at_ms + _OFFSET)
        return make_order_book(rng, spec, self.params, mid, depth, at_ms)

    def trades(
        self, venue: str, symbol: str, start: pd.Timestamp, end: pd.Timestamp
    ) -> list[dict[str, Any]]:
        """ccxt-shaped public trades with timestamp in [start, end), oldest first.

        Each minute's trades rebuild its candle exactly: first price = open, last = close,
        max = high, min = low, and the amounts sum to the volume (in whole lot sizes).
        """
        spec = self.spec(venue, symbol)
        start_ms, end_ms = to_ms(start, "start"), to_ms(end, "end")
        result: list[dict[str, Any]] = []
        for day in range(start_ms // MS_PER_DAY, (end_ms - 1) // MS_PER_DAY + 1):
            block = self.trade_block(venue, symbol, day)
            lo, hi = np.searchsorted(block.timestamp, [start_ms, end_ms])
            result.extend(trade_dicts(block, spec, int(lo), int(hi)))
        return result

    def trade_block(self, venue: str, symbol: str, day: int) -> TradeBlock:
        """All trades of one UTC day as arrays (the last few days are cached)."""
        spec = self.spec(venue, symbol)

        def make() -> TradeBlock:
            rng = self._rng(_word(venue), _word(symbol), _TRADES, day + _OFFSET)
            per_volume = self.params.trades_per_minute * MINUTES_PER_DAY / spec.daily_volume
            return make_trade_block(self.venue_day(venue, symbol, day), spec, day, per_volume, rng)

        return self._trade_blocks.get((venue, symbol, day), make)

    def funding_rates(
        self, venue: str, symbol: str, start: pd.Timestamp, end: pd.Timestamp
    ) -> list[dict[str, Any]]:
        """ccxt-shaped funding history of a perpetual, settled at 00, 08, 16 UTC in [start, end).

        The rate settled at T is Binance's rule on the mean premium P of the venue's
        perpetual over the underlying during [T - 8h, T): P + clamp(I - P, -0.05 %, 0.05 %)
        with I = 0.01 %, then capped at +-0.3 %; rounded to 8 decimals.
        """
        spec = self.spec(venue, symbol)
        if not spec.is_perpetual:
            raise NotSupported(
                f"funding rates: {symbol!r} on venue {venue!r} is a spot market, not a perpetual"
            )
        start_ms, end_ms = to_ms(start, "start"), to_ms(end, "end")
        first = -(-start_ms // FUNDING_INTERVAL_MS) * FUNDING_INTERVAL_MS
        params = self.params
        window = FUNDING_INTERVAL_MS // MS_PER_MINUTE
        result = []
        for settle_ms in range(first, end_ms, FUNDING_INTERVAL_MS):
            day, in_day = divmod(settle_ms - FUNDING_INTERVAL_MS, MS_PER_DAY)
            lo = in_day // MS_PER_MINUTE
            offsets = self.venue_day(venue, symbol, day).offset[lo : lo + window]
            premium = float(np.mean(np.expm1(offsets)))
            clamp = params.premium_clamp
            rate = premium + min(max(params.interest_rate - premium, -clamp), clamp)
            rate = round(min(max(rate, -params.funding_cap), params.funding_cap), 8)
            result.append(
                {
                    "info": {"premium": premium},
                    "symbol": symbol,
                    "fundingRate": rate,
                    "timestamp": settle_ms,
                    "datetime": iso8601(settle_ms),
                }
            )
        return result

    # ------------------------------------------------------------------ generation

    def _rng(self, *words: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.seed, *words]))

    def _scaffold(self, spec: SymbolSpec) -> Scaffold:
        if spec.pair not in self._scaffolds:
            rng = self._rng(_word(spec.pair), _DAILY)
            first_day = self._origin_day - SPAN_DAYS
            scaffold = daily_scaffold(rng, self.params, spec, first_day, 2 * SPAN_DAYS, SPAN_DAYS)
            self._scaffolds[spec.pair] = scaffold
        return self._scaffolds[spec.pair]

    def _underlying_day(self, spec: SymbolSpec, day: int) -> UnderlyingDay:
        scaffold = self._scaffold(spec)
        index = day - scaffold.first_day
        if not 0 <= index < len(scaffold.variance):
            first = pd.Timestamp(scaffold.first_day * MS_PER_DAY, unit="ms", tz="UTC")
            last = first + pd.Timedelta(days=len(scaffold.variance))
            when = pd.Timestamp(day * MS_PER_DAY, unit="ms", tz="UTC")
            raise ConfigError(
                f"time {when:%Y-%m-%d}: outside the simulated span "
                f"{first:%Y-%m-%d} .. {last:%Y-%m-%d} of {spec.pair}"
            )

        def make() -> UnderlyingDay:
            rng = self._rng(_word(spec.pair), _MINUTES, day + _OFFSET)
            return underlying_day(
                rng,
                self.params,
                self._profile,
                float(scaffold.variance[index]),
                spec.annual_vol,
                float(scaffold.log_open[index]),
                float(scaffold.log_open[index + 1]),
            )

        return self._days.get(("pair", spec.pair, day), make)

    def _ou_offset(
        self, words: tuple[int, ...], day: int, mean: float, sd: float, half_life: float
    ):
        """A day of an OU offset; each day starts from a stationary draw, the first of its stream."""
        rng = self._rng(*words, day + _OFFSET)
        start = sd * rng.standard_normal()
        target = sd * self._rng(*words, day + 1 + _OFFSET).standard_normal()
        return ou_day(rng, start, target, mean, sd, half_life)

    def _make_venue_day(self, venue: str, symbol: str, day: int) -> VenueDay:
        spec = self.specs[symbol]
        params = self.params
        under = self._underlying_day(spec, day)
        offset = self._ou_offset(
            (_word(venue), _word(symbol), _BASIS),
            day,
            0.0,
            params.basis_bps / 1e4,
            params.basis_half_life_minutes,
        )
        if spec.is_perpetual:
            offset = offset + self._ou_offset(
                (_word(symbol), _PREMIUM),
                day,
                spec.premium_bps / 1e4,
                params.premium_sd_bps / 1e4,
                params.premium_half_life_minutes,
            )
        sigma = params.venue_volume_noise
        rng = self._rng(_word(venue), _word(symbol), _VOLUME, day + _OFFSET)
        share = np.exp(sigma * rng.standard_normal(MINUTES_PER_DAY) - sigma * sigma / 2)
        return venue_candles(under, offset, spec, share)


def default_simulator(seed: int = 7) -> MarketSimulator:
    """The demo market: venues `sim_a` and `sim_b` listing BTC/USDT and ETH/USDT."""
    return MarketSimulator(seed, ("sim_a", "sim_b"), ("BTC/USDT", "ETH/USDT"))
