"""Simulated order-book snapshots in ccxt's shape, around a venue's price."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from zvt_pipelines.venues.simulator.specs import (
    MINUTES_PER_DAY,
    ModelParams,
    SymbolSpec,
    iso8601,
    round_to_tick,
)


def make_order_book(
    rng: np.random.Generator,
    spec: SymbolSpec,
    params: ModelParams,
    mid: float,
    depth: int,
    at_ms: int,
) -> dict[str, Any]:
    """`depth` levels a side around `mid`: bids strictly falling, asks strictly rising.

    The spread is about `book_spread_bps` (at least one tick, never crossed); levels sit
    one to two times `book_level_bps` apart (at least one tick), and the expected size grows
    linearly with the distance from the touch, from 2 % of a typical minute's volume.
    """
    tick = float(spec.price_tick)
    half_spread = max(tick / 2, mid * params.book_spread_bps / 2e4 * (0.5 + rng.random()))
    gap = max(1, round(mid * params.book_level_bps / 1e4 / tick))
    per_minute = spec.daily_volume / MINUTES_PER_DAY
    levels = np.arange(depth)
    sides = {}
    for name, touch, sign in (
        ("bids", math.floor((mid - half_spread) / tick), -1),
        ("asks", math.ceil((mid + half_spread) / tick), 1),
    ):
        steps = np.concatenate([[0], np.cumsum(gap + rng.integers(0, gap + 1, depth - 1))])
        prices = round_to_tick((touch + sign * steps) * tick, spec.price_tick)
        sizes = per_minute * 0.02 * (1 + 0.25 * levels) * rng.lognormal(-0.125, 0.5, depth)
        amounts = np.maximum(round_to_tick(sizes, spec.amount_step), float(spec.amount_step))
        sides[name] = [[p, a] for p, a in zip(prices.tolist(), amounts.tolist(), strict=True)]
    return {
        "symbol": spec.symbol,
        "bids": sides["bids"],
        "asks": sides["asks"],
        "timestamp": at_ms,
        "datetime": iso8601(at_ms),
        "nonce": None,
    }
