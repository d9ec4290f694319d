"""The fast bar-level backtest: targets decided on bar t are filled at bar t+1.

Look-ahead is impossible by construction: the fill loop only ever applies the target of
the previous bar, at a price of the current bar, and marks the account at the current
close. Strategies that decide bar by bar get a view of the past only (see
`bar_by_bar`). Execution realism (maker fills, spread, impact, volume caps) lives in
`costs` and runs only when one of its settings is on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from zvt_pipelines.backtest.costs import BPS, simulate_with_costs
from zvt_pipelines.backtest.kernels import signals_to_targets_nb, simulate_nb
from zvt_pipelines.backtest.result import BacktestResult, build_result
from zvt_pipelines.backtest.settings import BacktestSettings, FillPrice
from zvt_pipelines.errors import DataError
from zvt_pipelines.model.candles import CANDLE_COLUMNS


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
    settings : cash, fees, slippage, fill price and the execution-realism models;
        defaults to `BacktestSettings()`. With a volume cap or a limit order a target
        may fill over several bars (one fill per bar); see `costs`.
    """
    settings = settings or BacktestSettings()
    check_candles(frame)
    wanted = _per_bar(targets, frame, "targets", "float64")
    present = wanted[~np.isnan(wanted)]
    if present.size and (present.min() < 0 or present.max() > 1):
        raise DataError("targets: long-only fractions must lie in [0, 1] (or be NaN to hold)")
    close = frame["close"].to_numpy(dtype="float64")
    base = fill_prices(frame, settings.fill_price)
    if settings.models_execution:
        output = simulate_with_costs(frame, wanted, base, settings)
    else:
        output = simulate_nb(
            wanted, base, close, settings.fee_bps * BPS, settings.slippage_bps * BPS, settings.cash
        )
    return build_result(
        frame["ts"], float(close[-1]), output, base, settings.cash, settings.annualization
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
