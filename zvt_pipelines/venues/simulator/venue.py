"""A venue backed by the market simulator: ccxt's unified market-data and account calls.

The venue sees the market through a clock (a callable returning the current UTC time), so
a backtest or a test can replay any moment: nothing that has not happened by the clock's
time (an unclosed candle, a later trade or funding) is ever returned. Order placement is
added by the matching engine in its own module; balances are held as Decimals in
`SimulatedVenue.balances` for it to update.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import pandas as pd

from zvt_pipelines.data.candles import candles_to_ohlcv, resample_candles
from zvt_pipelines.errors import BadRequest, BadTimeframe, ConfigError, UnknownSymbol
from zvt_pipelines.model.money import to_decimal
from zvt_pipelines.model.timeframe import timeframe_ms
from zvt_pipelines.venues.simulator.market import MarketSimulator
from zvt_pipelines.venues.simulator.specs import (
    FUNDING_INTERVAL_MS,
    MS_PER_MINUTE,
    SymbolSpec,
    to_ms,
)

Clock = Callable[[], datetime]

TIMEFRAMES = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d")
OHLCV_LIMIT = (1000, 1000)  # (default, maximum) candles per call, as on Binance spot
TRADES_LIMIT = (500, 1000)
FUNDING_LIMIT = (100, 1000)
BOOK_LIMIT = (100, 5000)
MAX_TRADES_WINDOW_MS = 7 * 86_400_000  # how far back fetch_trades looks without `since`


def wall_clock() -> datetime:
    """The current UTC time."""
    return pd.Timestamp.now(tz="UTC")


@dataclass
class Balances:
    """An account's holdings per asset as Decimals: `total` owned, `used` reserved by orders."""

    total: dict[str, Decimal] = field(default_factory=dict)
    used: dict[str, Decimal] = field(default_factory=dict)

    @classmethod
    def from_config(cls, amounts: Mapping[str, Decimal | int | str]) -> Balances:
        """Balances from `{asset: amount}`; amounts are read as exact decimals, never negative."""
        total = {}
        for asset, amount in amounts.items():
            try:
                value = to_decimal(amount)
            except InvalidOperation:
                raise ConfigError(f"balance of {asset!r}: {amount!r} is not a number") from None
            if not value.is_finite() or value < 0:
                raise ConfigError(f"balance of {asset!r}: {amount!r} must be a non-negative number")
            total[asset] = value
        return cls(total=total)

    def to_ccxt(self) -> dict[str, Any]:
        """ccxt's `fetch_balance` shape, with Decimal values."""
        result: dict[str, Any] = {"info": {}, "timestamp": None, "datetime": None}
        free, used, total = {}, {}, {}
        for asset in sorted(self.total.keys() | self.used.keys()):
            total[asset] = self.total.get(asset, Decimal(0))
            used[asset] = self.used.get(asset, Decimal(0))
            free[asset] = total[asset] - used[asset]
            result[asset] = {"free": free[asset], "used": used[asset], "total": total[asset]}
        result.update(free=free, used=used, total=total)
        return result


class SimulatedVenue:
    """A venue quoting the simulator's market `name`, in ccxt's unified shapes.

    `clock` returns the current UTC time (default: the wall clock); `balances` are the
    account's starting holdings; `maker_fee` and `taker_fee` are fractions of notional.
    """

    timeframes = {tf: tf for tf in TIMEFRAMES}

    def __init__(
        self,
        name: str,
        simulator: MarketSimulator,
        clock: Clock | None = None,
        balances: Mapping[str, Decimal | int | str] | None = None,
        maker_fee: Decimal = Decimal("0.001"),
        taker_fee: Decimal = Decimal("0.001"),
    ) -> None:
        if name not in simulator.venues:
            raise ConfigError(f"venue {name!r}: the simulator has {', '.join(simulator.venues)}")
        for fee_name, fee in (("maker_fee", maker_fee), ("taker_fee", taker_fee)):
            if not isinstance(fee, Decimal) or not Decimal("-0.01") <= fee <= Decimal("0.1"):
                raise ConfigError(f"{fee_name} {fee!r}: expected a Decimal fraction such as 0.001")
        self.id = name
        self.simulator = simulator
        self.clock = clock or wall_clock
        self.maker_fee = maker_fee
        self.taker_fee = taker_fee
        self.balances = Balances.from_config(
            balances if balances is not None else {"USDT": 100_000}
        )
        self.markets = {symbol: self._market(spec) for symbol, spec in simulator.specs.items()}

    # ---------------------------------------------------------------- reference data

    def load_markets(self, reload: bool = False) -> dict[str, dict[str, Any]]:
        """ccxt market dicts keyed by symbol (static, so `reload` changes nothing)."""
        return self.markets

    def market(self, symbol: str) -> dict[str, Any]:
        """The market dict of `symbol`; UnknownSymbol names the symbol and the venue."""
        if symbol not in self.markets:
            raise UnknownSymbol(
                f"symbol {symbol!r} is not listed on venue {self.id!r} (markets: {', '.join(self.markets)})"
            )
        return self.markets[symbol]

    def now_ms(self) -> int:
        """The venue clock in UTC milliseconds."""
        return to_ms(self.clock(), "clock time")

    # ------------------------------------------------------------------ market data

    def fetch_ohlcv(
        self, symbol: str, timeframe: str = "1m", since: int | None = None, limit: int | None = None
    ) -> list[list[float]]:
        """Closed candles `[ms, o, h, l, c, v]`, oldest first.

        From `since` (the first candle opening at or after it) or, without `since`, the
        latest `limit` closed candles. Coarser timeframes are resampled from 1 minute.
        """
        self.market(symbol)
        if timeframe not in self.timeframes:
            raise BadTimeframe(
                f"timeframe {timeframe!r}: venue {self.id!r} offers {', '.join(self.timeframes)}"
            )
        step = timeframe_ms(timeframe)
        limit = _limit(limit, OHLCV_LIMIT)
        last_closed = self.now_ms() // step * step - step
        first = last_closed - (limit - 1) * step if since is None else -(-int(since) // step) * step
        end = min(first + limit * step, last_closed + step)
        if end <= first:
            return []
        frame = self.simulator.candles(self.id, symbol, _stamp(first), _stamp(end))
        if timeframe != "1m":
            frame = resample_candles(frame, timeframe)
        return candles_to_ohlcv(frame)

    def fetch_order_book(self, symbol: str, limit: int | None = None) -> dict[str, Any]:
        """The order book at the clock's time, `limit` levels a side (default 100)."""
        self.market(symbol)
        depth = _limit(limit, BOOK_LIMIT)
        return self.simulator.order_book(self.id, symbol, _stamp(self.now_ms()), depth)

    def fetch_trades(
        self, symbol: str, since: int | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Public trades up to the clock's time, oldest first: from `since`, or the latest `limit`."""
        self.market(symbol)
        limit = _limit(limit, TRADES_LIMIT)
        now = self.now_ms() + 1
        window = 10 * MS_PER_MINUTE
        while True:
            start = now - window if since is None else int(since)
            end = now if since is None else min(start + window, now)
            trades = self.simulator.trades(self.id, symbol, _stamp(start), _stamp(end))
            reached_now = since is not None and end >= now
            if len(trades) >= limit or reached_now or window >= MAX_TRADES_WINDOW_MS:
                break
            window *= 4
        return trades[:limit] if since is not None else trades[-limit:]

    def fetch_funding_rate_history(
        self, symbol: str, since: int | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Funding rates settled by the clock's time: from `since`, or the latest `limit`."""
        self.market(symbol)
        limit = _limit(limit, FUNDING_LIMIT)
        now = self.now_ms() + 1
        start = now - limit * FUNDING_INTERVAL_MS if since is None else int(since)
        end = min(start + limit * FUNDING_INTERVAL_MS, now)
        rates = self.simulator.funding_rates(self.id, symbol, _stamp(start), _stamp(end))
        return rates[-limit:]

    # ---------------------------------------------------------------------- account

    def fetch_balance(self) -> dict[str, Any]:
        """The account balances in ccxt's shape (`free`/`used`/`total`), as Decimals."""
        return self.balances.to_ccxt()

    # ---------------------------------------------------------------------- helpers

    def _market(self, spec: SymbolSpec) -> dict[str, Any]:
        swap = spec.is_perpetual
        market_id = spec.base + spec.quote + ("-PERP" if swap else "")
        return {
            "id": market_id,
            "lowercaseId": market_id.lower(),
            "symbol": spec.symbol,
            "base": spec.base,
            "quote": spec.quote,
            "settle": spec.settle,
            "baseId": spec.base,
            "quoteId": spec.quote,
            "settleId": spec.settle,
            "type": "swap" if swap else "spot",
            "spot": not swap,
            "margin": False,
            "swap": swap,
            "future": False,
            "option": False,
            "index": False,
            "active": True,
            "contract": swap,
            "linear": True if swap else None,
            "inverse": False if swap else None,
            "subType": "linear" if swap else None,
            "taker": float(self.taker_fee),
            "maker": float(self.maker_fee),
            "contractSize": 1.0 if swap else None,
            "expiry": None,
            "expiryDatetime": None,
            "strike": None,
            "optionType": None,
            "precision": {
                "amount": float(spec.amount_step),
                "price": float(spec.price_tick),
                "cost": None,
                "base": None,
                "quote": None,
            },
            "limits": {
                "leverage": {"min": 1.0 if swap else None, "max": 20.0 if swap else None},
                "amount": {"min": float(spec.amount_step), "max": float(spec.max_amount)},
                "price": {"min": float(spec.price_tick), "max": None},
                "cost": {"min": float(spec.min_cost), "max": None},
            },
            "marginModes": {"cross": swap, "isolated": swap},
            "created": None,
            "info": {},
        }


def _limit(limit: int | None, bounds: tuple[int, int]) -> int:
    default, maximum = bounds
    if limit is None:
        return default
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= maximum:
        raise BadRequest(f"limit {limit!r}: must be an integer from 1 to {maximum}")
    return limit


def _stamp(ms: int) -> pd.Timestamp:
    return pd.Timestamp(ms, unit="ms", tz="UTC")
