"""Grid trading: resting buys below the price and sells above it, at fixed levels.

Levels between `lower` and `upper` (both included), `levels` of them:

* arithmetic: ``lower + i (upper - lower) / (levels - 1)`` (equal price steps);
* geometric: ``lower (upper / lower) ** (i / (levels - 1))`` (equal percentage steps).

**Live**: between the previous close and the last close, every level the price fell
through is a filled buy and every level it rose through a filled sell: one signal per
level crossed, `amount_per_trade` (quote) at the level's price. A price that touches a
level exactly counts as having crossed it.

**Bar backtest**: the grid's inventory is one unit per level above the price, so the
target fraction at bar t is ``(levels strictly above close[t]) / levels``: 0 above the
top, 1 below the bottom, and it changes exactly when the close crosses a level.

**Adaptive grid** (`adaptive: true`): every `recenter_bars` bars the grid is re-centred
on the close and re-spaced by volatility: with sigma the std of the last `vol_window`
log returns, ``bounds = close x exp(-/+ width_sigmas x sigma x sqrt(vol_window))``,
spaced geometrically or arithmetically as configured. Both use bars <= t only.
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from zvt_pipelines.analytics.indicators import rolling_std
from zvt_pipelines.errors import ConfigError
from zvt_pipelines.model.money import decimal_from_float
from zvt_pipelines.strategies.base import (
    BaseCryptoStrategy,
    MarketData,
    PortfolioView,
    PositionView,
    Signal,
    SignalKind,
    StrategyParams,
)
from zvt_pipelines.strategies.registry import register_strategy


class GridParams(StrategyParams):
    lower: Decimal = Field(gt=0)
    upper: Decimal = Field(gt=0)
    levels: int = Field(10, ge=2)
    spacing: Literal["arithmetic", "geometric"] = "arithmetic"
    adaptive: bool = False
    recenter_bars: int = Field(24, ge=1)
    vol_window: int = Field(24, ge=2)
    width_sigmas: float = Field(2.0, gt=0)

    @model_validator(mode="after")
    def _bounds(self) -> GridParams:
        if self.lower >= self.upper:
            raise ValueError(f"lower {self.lower} must be below upper {self.upper}")
        return self


def grid_levels(
    lower: Decimal, upper: Decimal, levels: int, spacing: Literal["arithmetic", "geometric"]
) -> list[Decimal]:
    """The `levels` prices from `lower` to `upper`, both included (module docstring)."""
    if not (Decimal(0) < lower < upper) or levels < 2:
        raise ConfigError(f"grid lower={lower} upper={upper} levels={levels}: need 0<lower<upper")
    steps = levels - 1
    if spacing == "arithmetic":
        return [lower + (upper - lower) * i / steps for i in range(levels)]
    with localcontext() as context:
        context.prec = 28
        ratio = upper / lower
        inner = [lower * ratio ** (Decimal(i) / steps) for i in range(1, steps)]
    return [lower, *inner, upper]


def crossed_levels(
    previous: Decimal, price: Decimal, levels: list[Decimal]
) -> list[tuple[Decimal, SignalKind]]:
    """Levels crossed moving from `previous` to `price`, in the order the path meets them:
    falling through (or onto) a level is a BUY there, rising through (or onto) one a SELL."""
    if price < previous:
        hit = sorted((lv for lv in levels if price <= lv < previous), reverse=True)
        return [(level, SignalKind.BUY) for level in hit]
    hit = sorted(lv for lv in levels if previous < lv <= price)
    return [(level, SignalKind.SELL) for level in hit]


def adaptive_bounds(
    close: np.ndarray, t: int, vol_window: int, width_sigmas: float
) -> tuple[float, float] | None:
    """(lower, upper) centred on close[t] from the volatility of bars <= t; None in warm-up."""
    log_returns = np.diff(np.log(close[: t + 1]))
    if len(log_returns) < vol_window:
        return None
    sigma = float(rolling_std(log_returns[-vol_window:], vol_window, ddof=1)[-1])
    half = width_sigmas * sigma * math.sqrt(vol_window)
    return close[t] * math.exp(-half), close[t] * math.exp(half)


@register_strategy("grid")
class GridStrategy(BaseCryptoStrategy):
    """Static or volatility-adaptive grid of buy and sell levels."""

    params_model = GridParams
    params: GridParams

    def levels(self) -> list[Decimal]:
        p = self.params
        return grid_levels(p.lower, p.upper, p.levels, p.spacing)

    def _grid_at(self, close: np.ndarray, t: int, current: list[Decimal]) -> list[Decimal]:
        """The grid after bar t: re-centred on a re-centre bar once volatility is known."""
        p = self.params
        if not p.adaptive or t % p.recenter_bars != 0:
            return current
        bounds = adaptive_bounds(close, t, p.vol_window, p.width_sigmas)
        if bounds is None:
            return current
        lower, upper = (decimal_from_float(b) for b in bounds)
        return grid_levels(lower, upper, p.levels, p.spacing)

    def levels_at(self, frame: pd.DataFrame) -> list[Decimal]:
        """The levels in force after the last bar of `frame` (the static grid until an
        adaptive grid has the `vol_window` returns it needs)."""
        close = frame["close"].to_numpy(dtype="float64")
        grid = self.levels()
        if self.params.adaptive:
            last_centre = (len(close) - 1) // self.params.recenter_bars * self.params.recenter_bars
            grid = self._grid_at(close, last_centre, grid)
        return grid

    def generate_signals(self, market_data: MarketData, **kwargs: Any) -> list[Signal]:
        signals = []
        for instrument in self.instruments or market_data.instruments:
            frame = market_data.candles(instrument)
            if len(frame) < 2:
                continue
            previous = decimal_from_float(frame["close"].iloc[-2])
            price = decimal_from_float(frame["close"].iloc[-1])
            for level, kind in crossed_levels(previous, price, self.levels_at(frame.iloc[:-1])):
                signals.append(
                    self.signal(
                        instrument,
                        market_data.now,
                        kind,
                        f"grid level {level} crossed ({previous} -> {price})",
                        amount=self.amount_per_trade / level,
                        price=level,
                    )
                )
        return signals

    def calculate_position_size(
        self, signal: Signal, portfolio: PortfolioView, **kwargs: Any
    ) -> Decimal:
        return self.quote_amount_size(signal)

    def should_exit(self, position: PositionView, market_data: MarketData, **kwargs: Any) -> bool:
        return self.risk_exit(position, market_data.last_price(position.instrument))

    def target_series(self, frame: pd.DataFrame) -> np.ndarray:
        """Share of levels strictly above each close (module docstring)."""
        close = frame["close"].to_numpy(dtype="float64")
        levels = self.levels()
        if not self.params.adaptive:
            grid = np.asarray([float(v) for v in levels])
            return (grid[None, :] > close[:, None]).sum(axis=1) / len(grid)
        targets = np.empty(len(close))
        for t in range(len(close)):
            levels = self._grid_at(close, t, levels)
            targets[t] = sum(float(v) > close[t] for v in levels) / len(levels)
        return targets
