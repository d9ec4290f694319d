"""Simulated public trades: one UTC day of trades per (venue, symbol) that rebuild its candles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from zvt_pipelines.venues.simulator.kernels import layout_trades
from zvt_pipelines.venues.simulator.paths import VenueDay
from zvt_pipelines.venues.simulator.specs import (
    MINUTES_PER_DAY,
    MS_PER_DAY,
    MS_PER_MINUTE,
    SymbolSpec,
    round_to_tick,
)

MAX_TRADES_PER_MINUTE = 9999  # trade ids are minute index * 10_000 + sequence


@dataclass(frozen=True)
class TradeBlock:
    """A day of trades as arrays, sorted by time: ms timestamp, id, price, amount, side."""

    timestamp: np.ndarray
    trade_id: np.ndarray
    price: np.ndarray
    amount: np.ndarray
    is_buy: np.ndarray


def make_trade_block(
    candles: VenueDay,
    spec: SymbolSpec,
    day: int,
    trades_per_volume: float,
    rng: np.random.Generator,
) -> TradeBlock:
    """Draw the trades of one day: about `trades_per_volume` trades per unit of volume.

    Every minute has at least four trades (open, high, low, close) and at most
    `MAX_TRADES_PER_MINUTE`; amounts are whole multiples of the amount step.
    """
    tick, step = spec.price_tick, spec.amount_step
    units = np.rint(candles.volume / float(step)).astype(np.int64)
    counts = rng.poisson(trades_per_volume * candles.volume)
    counts = np.clip(counts, 4, np.minimum(units, MAX_TRADES_PER_MINUTE)).astype(np.int64)
    total = int(counts.sum())
    minute, offset, price_ticks, amount_units, side = layout_trades(
        counts,
        *(
            np.rint(getattr(candles, name) / float(tick)).astype(np.int64)
            for name in ("open", "high", "low", "close")
        ),
        units,
        rng.random(total),
        rng.random(total),
        rng.exponential(1.0, total),
        rng.random(2 * MINUTES_PER_DAY),
        rng.random(total),
    )
    minute_ms = day * MS_PER_DAY + minute * MS_PER_MINUTE
    first_of_minute = np.concatenate([[0], np.cumsum(counts)[:-1]])
    sequence = np.arange(total) - np.repeat(first_of_minute, counts)
    return TradeBlock(
        timestamp=minute_ms + offset,
        trade_id=(minute_ms // MS_PER_MINUTE) * 10_000 + sequence,
        price=round_to_tick(price_ticks * float(tick), tick),
        amount=round_to_tick(amount_units * float(step), step),
        is_buy=side > 0,
    )


def trade_dicts(block: TradeBlock, spec: SymbolSpec, lo: int, hi: int) -> list[dict[str, Any]]:
    """The ccxt trade dicts of rows [lo, hi) of a trade block."""
    stamps = pd.DatetimeIndex(block.timestamp[lo:hi].astype("datetime64[ms]"))
    texts = stamps.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z"
    rows = zip(
        block.timestamp[lo:hi].tolist(),
        block.trade_id[lo:hi].tolist(),
        block.price[lo:hi].tolist(),
        block.amount[lo:hi].tolist(),
        block.is_buy[lo:hi].tolist(),
        texts,
        strict=True,
    )
    return [
        {
            "info": {},
            "id": str(trade_id),
            "order": None,
            "timestamp": ms,
            "datetime": text,
            "symbol": spec.symbol,
            "type": None,
            "side": "buy" if is_buy else "sell",
            "takerOrMaker": "taker",
            "price": price,
            "amount": amount,
            "cost": price * amount,
            "fee": None,
            "fees": [],
        }
        for ms, trade_id, price, amount, is_buy, text in rows
    ]
