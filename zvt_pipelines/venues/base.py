"""The venue interface: the subset of ccxt's unified API that the core uses.

A live venue is a real `ccxt.Exchange` behind `CcxtVenue`; the offline default is
`SimulatedVenue`. Both return ccxt's unified shapes (lists of `[ms, o, h, l, c, v]`,
order-book dicts with `bids`/`asks`, order dicts), so the same code runs on either.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from zvt_pipelines.data.candles import candles_from_ohlcv
from zvt_pipelines.model.candles import empty_candles
from zvt_pipelines.model.timeframe import timeframe_ms

FaultHook = Callable[[str], None]
"""Called with the name of a step of the order path (see `FAULT_STEPS`); None in production.

The fault-injection tests (tests/faults/) pass one that ends the process at a chosen step.
"""
FAULT_STEPS = (
    "before_send",  # the order's SUBMITTED row is written; the request has not left
    "after_send",  # the venue accepted the order (and may have filled it); nothing recorded yet
    "fill_seen",  # the venue reported a fill of a known order; the fill is not recorded yet
    "before_positions",  # a rebalance recorded its fills; positions are not updated yet
)


@runtime_checkable
class CandleSource(Protocol):
    """The least a source of candles offers (a venue, or a folder of candle files)."""

    id: str

    def load_markets(self, reload: bool = False) -> dict[str, dict[str, Any]]: ...

    def fetch_ohlcv(
        self, symbol: str, timeframe: str = "1m", since: int | None = None, limit: int | None = None
    ) -> list[list[float]]: ...


@runtime_checkable
class Venue(CandleSource, Protocol):
    """What every venue offers, named after ccxt's unified methods."""

    def fetch_order_book(self, symbol: str, limit: int | None = None) -> dict[str, Any]: ...

    def fetch_trades(
        self, symbol: str, since: int | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]: ...

    def fetch_funding_rate_history(
        self, symbol: str, since: int | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]: ...

    def fetch_balance(self) -> dict[str, Any]: ...

    def create_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: float,
        price: float | None = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]: ...

    def cancel_order(self, id: str, symbol: str | None = None) -> dict[str, Any]: ...

    def fetch_order(self, id: str, symbol: str | None = None) -> dict[str, Any]: ...

    def fetch_open_orders(self, symbol: str | None = None) -> list[dict[str, Any]]: ...

    def fetch_my_trades(
        self, symbol: str | None = None, since: int | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]: ...


def download_ohlcv(
    venue: CandleSource,
    symbol: str,
    timeframe: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    page_limit: int = 1000,
) -> pd.DataFrame:
    """All candles with open time in [start, end), paging through `fetch_ohlcv`.

    Pages advance from the last candle received, so gaps in the venue's history
    (exchange outages) are skipped rather than looping; duplicates across pages are
    dropped. Returns a candle frame.
    """
    step = timeframe_ms(timeframe)
    since = int(start.value // 1_000_000)
    end_ms = int(end.value // 1_000_000)
    rows: list[list[float]] = []
    while since < end_ms:
        page = venue.fetch_ohlcv(symbol, timeframe, since=since, limit=page_limit)
        page = [row for row in page if since <= row[0] < end_ms]
        if not page:
            break
        rows.extend(page)
        since = int(page[-1][0]) + step
    if not rows:
        return empty_candles()
    frame = candles_from_ohlcv(rows)
    return frame.drop_duplicates("ts", keep="last").sort_values("ts").reset_index(drop=True)
