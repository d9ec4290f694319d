"""Momentum: ride a move confirmed by trend, MACD, RSI and Bollinger; leave on weakness.

Entry (long, target 1) on a bar's close when all hold:
close > SMA(`trend_window`), MACD line > signal line, `rsi_entry` <= RSI <= `rsi_max`
(strong but not exhausted), and close > the Bollinger middle band.

Exit (target 0) when any holds while long:

* the trend breaks: MACD line < signal line and close < SMA(`trend_window`);
* the trailing stop: close <= ``peak close since entry x (1 - trailing_stop)``;
* a bearish divergence is confirmed (`detect_divergence`): price made a higher high while
  RSI made a lower high, the classic sign that a rally is running out of buyers.

Divergence uses swing highs: bar i is a swing high of order k when its value is the
strict maximum of bars i-k..i+k. It is known only at bar i+k, so the detector reports a
divergence at the confirmation bar of the later swing, never earlier.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from zvt_pipelines.analytics.indicators import bollinger, macd, rsi, sma
from zvt_pipelines.strategies.base import BarStrategy, MarketData, PositionView, StrategyParams
from zvt_pipelines.strategies.registry import register_strategy


class MomentumParams(StrategyParams):
    trend_window: int = Field(50, ge=2)
    rsi_window: int = Field(14, ge=2)
    rsi_entry: float = Field(55.0, gt=0, lt=100)
    rsi_max: float = Field(80.0, gt=0, le=100)
    macd_fast: int = Field(12, ge=1)
    macd_slow: int = Field(26, ge=2)
    macd_signal: int = Field(9, ge=1)
    bb_window: int = Field(20, ge=2)
    bb_k: float = Field(2.0, gt=0)
    trailing_stop: float = Field(0.05, gt=0, lt=1)
    divergence_order: int = Field(3, ge=1, description="bars each side of a swing high")
    exit_on_divergence: bool = True


def swing_points(values: np.ndarray, order: int, kind: Literal["high", "low"]) -> np.ndarray:
    """Indices i whose value is the strict max (min) of values[i-order : i+order+1]."""
    x = np.asarray(values, dtype="float64")
    found = []
    for i in range(order, len(x) - order):
        window = np.delete(x[i - order : i + order + 1], order)
        if np.isnan(x[i]) or np.isnan(window).any():
            continue
        if (kind == "high" and x[i] > window.max()) or (kind == "low" and x[i] < window.min()):
            found.append(i)
    return np.asarray(found, dtype="int64")


def detect_divergence(
    price: np.ndarray,
    oscillator: np.ndarray,
    order: int = 3,
    kind: Literal["bearish", "bullish"] = "bearish",
) -> np.ndarray:
    """True at bar j + order when swing j and the previous swing i < j of `price` diverge.

    Bearish: swing highs with price[j] > price[i] and oscillator[j] < oscillator[i].
    Bullish: swing lows with price[j] < price[i] and oscillator[j] > oscillator[i].
    """
    price = np.asarray(price, dtype="float64")
    oscillator = np.asarray(oscillator, dtype="float64")
    swings = swing_points(price, order, "high" if kind == "bearish" else "low")
    flags = np.zeros(len(price), dtype=bool)
    for i, j in zip(swings[:-1], swings[1:], strict=True):
        if np.isnan(oscillator[i]) or np.isnan(oscillator[j]):
            continue
        if kind == "bearish":
            diverges = price[j] > price[i] and oscillator[j] < oscillator[i]
        else:
            diverges = price[j] < price[i] and oscillator[j] > oscillator[i]
        if diverges:
            flags[j + order] = True
    return flags


@register_strategy("momentum")
class MomentumStrategy(BarStrategy):
    """Trend + MACD + RSI + Bollinger entries, trailing stop and divergence exits."""

    params_model = MomentumParams
    params: MomentumParams

    def target_series(self, frame: pd.DataFrame) -> np.ndarray:
        p = self.params
        close = frame["close"].to_numpy(dtype="float64")
        trend = sma(close, p.trend_window)
        line, signal_line, _ = macd(close, p.macd_fast, p.macd_slow, p.macd_signal)
        strength = rsi(close, p.rsi_window)
        _, middle, _ = bollinger(close, p.bb_window, p.bb_k)
        with np.errstate(invalid="ignore"):
            entry = (
                (close > trend)
                & (line > signal_line)
                & (strength >= p.rsi_entry)
                & (strength <= p.rsi_max)
                & (close > middle)
            )
            broken = (line < signal_line) & (close < trend)
        divergence = (
            detect_divergence(close, strength, p.divergence_order)
            if p.exit_on_divergence
            else np.zeros(len(close), dtype=bool)
        )
        targets = np.full(len(close), np.nan)
        long = False
        peak = 0.0
        for t in range(len(close)):
            if long:
                peak = max(peak, close[t])
                if broken[t] or divergence[t] or close[t] <= peak * (1 - p.trailing_stop):
                    targets[t] = 0.0
                    long = False
            elif entry[t]:
                targets[t] = 1.0
                long = True
                peak = close[t]
        return targets

    def should_exit(self, position: PositionView, market_data: MarketData, **kwargs: Any) -> bool:
        """Trailing stop on the peak close since `opened_at` (or the given `peak_price`)."""
        frame = market_data.candles(position.instrument)
        price = market_data.last_price(position.instrument)
        peak = float(position.peak_price or position.entry_price)
        if position.opened_at is not None:
            since = frame.loc[frame["ts"] >= position.opened_at, "close"]
            if not since.empty:
                peak = max(peak, float(since.max()))
        stopped = float(price) <= peak * (1 - self.params.trailing_stop)
        return stopped or self.risk_exit(position, price)
