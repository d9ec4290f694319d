"""Vectorised mark-to-market of many positions on one price tick (float64 arrays).

Positions live in the ledger as Decimals; `positions_to_arrays` is the one place they turn into
the float64 arrays this module (and the VaR code) works on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from zvt_pipelines.errors import RiskInputError


@dataclass(frozen=True)
class PositionArrays:
    """N positions as aligned float64 arrays: signed quantity and average entry price."""

    instruments: tuple[str, ...]
    quantities: np.ndarray
    entry_prices: np.ndarray


def positions_to_arrays(positions: Mapping[str, tuple[Decimal, Decimal]]) -> PositionArrays:
    """Convert `{instrument: (signed quantity, average entry price)}` Decimals to float64 arrays.

    Instruments keep the mapping's order. This is the Decimal -> float64 boundary of the
    portfolio analytics: a rounding to the nearest double, nothing else.
    """
    instruments = tuple(positions)
    quantities = np.array([float(positions[i][0]) for i in instruments], dtype=np.float64)
    entry_prices = np.array([float(positions[i][1]) for i in instruments], dtype=np.float64)
    return PositionArrays(instruments, quantities, entry_prices)


@dataclass(frozen=True)
class Revaluation:
    """The portfolio marked at one price tick.

    `market_value` and `unrealised_pnl` are per position (signed); the rest are totals in the
    price currency. `leverage` and `margin_utilisation` are NaN when their denominator is 0.
    """

    market_value: np.ndarray
    unrealised_pnl: np.ndarray
    gross_exposure: float
    net_exposure: float
    equity: float
    leverage: float
    margin_utilisation: float


def revalue(
    quantities: np.ndarray,
    entry_prices: np.ndarray,
    prices: np.ndarray,
    cash: float = 0.0,
    margin_used: float = 0.0,
    margin_available: float = 0.0,
) -> Revaluation:
    """Mark N positions to `prices`.

    Parameters
    ----------
    quantities, entry_prices, prices : float64 arrays of length N
        Signed quantity (short < 0), average entry price and current price per instrument.
    cash : float
        Cash balance, net of what longs cost and including what shorts raised.
    margin_used, margin_available : float
        Margin committed to open positions and margin still free.

    Returns
    -------
    Revaluation
        market value ``q·p``, unrealised PnL ``q·(p − entry)``, gross exposure ``Σ|q·p|``, net
        exposure ``Σq·p``, equity ``cash + Σq·p``, leverage ``gross / equity`` and margin
        utilisation ``used / (used + available)``.

    Notes
    -----
    NaN in an input propagates to that position's values and to every total; a missing price
    is a data problem to fix upstream, not one to hide here.
    """
    if not (quantities.shape == entry_prices.shape == prices.shape) or quantities.ndim != 1:
        raise RiskInputError(
            f"quantities {quantities.shape}, entry_prices {entry_prices.shape} and prices "
            f"{prices.shape} must be 1-D arrays of the same length"
        )
    market_value = quantities * prices
    unrealised_pnl = quantities * (prices - entry_prices)
    gross = float(np.abs(market_value).sum())
    net = float(market_value.sum())
    equity = cash + net
    margin_total = margin_used + margin_available
    return Revaluation(
        market_value=market_value,
        unrealised_pnl=unrealised_pnl,
        gross_exposure=gross,
        net_exposure=net,
        equity=equity,
        leverage=gross / equity if equity != 0 else float("nan"),
        margin_utilisation=margin_used / margin_total if margin_total != 0 else float("nan"),
    )
