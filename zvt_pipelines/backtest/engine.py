"""The fast bar-level backtest: targets decided on bar t are filled at bar t+1.

Look-ahead is impossible by construction: the fill loop only ever applies the target of
the previous bar, at a price of the current bar, and marks the account at the current
close. Strategies that decide bar by bar get a view of the past only (see
`bar_by_bar`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum

import numpy as np
import pandas as pd

from zvt_pipelines.analytics.metrics import DAYS_PER_YEAR
from zvt_pipelines.backtest.kernels import signals_to_targets_nb, simulate_nb
from zvt_pipelines.backtest.result import BacktestResult, build_result
from zvt_pipelines.data.candles import CANDLE_COLUMNS
from zvt_pipelines.errors import ConfigError, DataError

BPS = 1e-4


class FillPrice(StrEnum):
    """Which price of bar t+1 fills a target decided on bar t."""

    OPEN = "open"
    CLOSE = "close"
    TYPICAL = "typical"  # (high + low + close) / 3, a stand-in for the bar's VWAP


def money_to_float(value: Decimal | float | int | str, name: str) -> float:
    """The one conversion of a money amount (Decimal, str, int, float) into the float64
    world of the hot loop; rejects non-finite or non-positive amounts, naming them."""
    try:
        amount = float(Decimal(str(value)))
    except (InvalidOperation, ValueError) as exc:
        raise ConfigError(f"{name} {value!r}: not a number") from exc
    if not math.isfinite(amount) or amount <= 0:
        raise ConfigError(f"{name} {value!r}: must be a positive finite amount")
    return amount


@dataclass(frozen=True)
class BacktestSettings:
    """How fills are priced and charged.

    `fee_bps` is charged on the notional of every fill; `slippage_bps` moves every fill
    price against the trader (buys higher, sells lower); `annualization` is the number
    of daily returns per year used by the metrics.
    """

    cash: float = 10_000.0
    fee_bps: float = 0.0
    slippage_bps: float = 0.0
    fill_price: FillPrice = FillPrice.OPEN
    annualization: float = DAYS_PER_YEAR

    def __post_init__(self) -> None:
        object.__setattr__(self, "cash", money_to_float(self.cash, "cash"))
        for name in ("fee_bps", "slippage_bps"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0 <= value < 10_000):
                raise ConfigError(f"{name} {value!r}: expected a number of bps in [0, 10000)")
        try:
            object.__setattr__(self, "fill_price", FillPrice(self.fill_price))
        except ValueError as exc:
            choices = ", ".join(f.value for f in FillPrice)
            raise ConfigError(f"fill_price {self.fill_price!r}: expected one of {choices}") from exc
        if not self.annualization > 0:
            raise ConfigError(f"annualization {self.annualization!r}: must be positive")


def check_candles(frame: pd.DataFrame) -> None:
    """Guard the backtest's input: candle columns present, rows sorted, prices finite > 0."""
    missing = [c for c in CANDLE_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"candle frame: missing column(s) {missing}")
    if len(frame) < 2:
        raise DataError(f"candle frame: {len(frame)} row(s); a backtest needs at least 2")
    if not frame["ts"].is_monotonic_increasing:
        raise DataError("candle frame: `ts` is not sorted ascending")
    prices = frame[["open", "high", "low", "close"]].to_numpy(dtype="float64")
    bad = ~(np.isfinite(prices) & (prices > 0))
    if bad.any():
        row = int(np.nonzero(bad.any(axis=1))[0][0])
        raise DataError(
            f"candle frame: non-positive or missing price at row {row} ({frame['ts'].iloc[row]})"
        )


def fill_prices(frame: pd.DataFrame, fill_price: FillPrice) -> np.ndarray:
    """The base fill price of each bar (before slippage) for the chosen fill setting."""
    if fill_price is FillPrice.TYPICAL:
        return (
            frame["high"].to_numpy(dtype="float64")
            + frame["low"].to_numpy(dtype="float64")
            + frame["close"].to_numpy(dtype="float64")
        ) / 3.0
    return frame[fill_price.value].to_numpy(dtype="float64")


def _per_bar(values: object, frame: pd.DataFrame, name: str, dtype: str) -> np.ndarray:
    array = np.asarray(values, dtype=dtype)
    if array.shape != (len(frame),):
        raise DataError(
            f"{name}: expected {len(frame)} values (one per bar), got shape {array.shape}"
        )
    return array


def run_targets(
    frame: pd.DataFrame, targets: object, settings: BacktestSettings | None = None
) -> BacktestResult:
    """Backtest target position fractions decided on each bar's close.

    Parameters
    ----------
    frame : candle frame (see `zvt_pipelines.data.candles`)
    targets : one value per bar: the wanted long position as a fraction of equity in
        [0, 1], or NaN to keep the current position. The value of bar t is filled at
        bar t+1 (the last bar's value is never filled); a value equal to the standing
        target is not re-applied.
    settings : cash, fees, slippage, fill price; defaults to `BacktestSettings()`
    """
    settings = settings or BacktestSettings()
    check_candles(frame)
    wanted = _per_bar(targets, frame, "targets", "float64")
    present = wanted[~np.isnan(wanted)]
    if present.size and (present.min() < 0 or present.max() > 1):
        raise DataError("targets: long-only fractions must lie in [0, 1] (or be NaN to hold)")
    close = frame["close"].to_numpy(dtype="float64")
    output = simulate_nb(
        wanted,
        fill_prices(frame, settings.fill_price),
        close,
        settings.fee_bps * BPS,
        settings.slippage_bps * BPS,
        settings.cash,
    )
    return build_result(
        frame["ts"], float(close[-1]), output, settings.cash, settings.annualization
    )


def run_signals(
    frame: pd.DataFrame,
    entries: object,
    exits: object,
    settings: BacktestSettings | None = None,
) -> BacktestResult:
    """Backtest long-only entry/exit booleans decided on each bar's close.

    An entry on bar t buys all-in at bar t+1 (notional = cash / (1 + fee)); an exit
    sells everything at bar t+1. A bar with both or neither keeps the position; an
    entry while long or an exit while flat does nothing.
    """
    entry = _per_bar(entries, frame, "entries", "bool")
    leave = _per_bar(exits, frame, "exits", "bool")
    return run_targets(frame, signals_to_targets_nb(entry, leave), settings)
