"""Strategies that decide bar by bar, seeing only the past.

On bar t the engine calls ``decide(bars)`` with a `PastBars` view holding bars 0..t
only: read-only NumPy views truncated at t, so ``bars.close[-1]`` is bar t's close and
``bars.close[t + 1]`` raises IndexError. The decision is then filled at bar t+1 by the
same fill loop as the vectorised engine, so a bar-by-bar strategy and its vectorised
twin give identical results.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from zvt_pipelines.backtest.engine import check_candles, run_targets
from zvt_pipelines.backtest.result import BacktestResult
from zvt_pipelines.backtest.settings import BacktestSettings
from zvt_pipelines.errors import StrategyError

Decision = bool | float | None


class PastBars:
    """Bars 0..t of a candle frame as read-only arrays (`ts` as int64 UTC milliseconds)."""

    __slots__ = ("_columns", "_end")

    def __init__(self, columns: dict[str, np.ndarray], end: int) -> None:
        self._columns = columns
        self._end = end

    def __len__(self) -> int:
        return self._end

    @property
    def ts(self) -> np.ndarray:
        return self._columns["ts"][: self._end]

    @property
    def open(self) -> np.ndarray:
        return self._columns["open"][: self._end]

    @property
    def high(self) -> np.ndarray:
        return self._columns["high"][: self._end]

    @property
    def low(self) -> np.ndarray:
        return self._columns["low"][: self._end]

    @property
    def close(self) -> np.ndarray:
        return self._columns["close"][: self._end]

    @property
    def volume(self) -> np.ndarray:
        return self._columns["volume"][: self._end]


def _read_only_columns(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    columns = {"ts": frame["ts"].astype("datetime64[ms, UTC]").astype("int64").to_numpy().copy()}
    for name in ("open", "high", "low", "close", "volume"):
        columns[name] = frame[name].to_numpy(dtype="float64").copy()
    for array in columns.values():
        array.flags.writeable = False
    return columns


def _as_target(decision: Decision, bar: int) -> float:
    if decision is None:
        return np.nan
    if isinstance(decision, bool | np.bool_):
        return 1.0 if decision else 0.0
    if isinstance(decision, int | float | np.number) and 0.0 <= float(decision) <= 1.0:
        return float(decision)
    raise StrategyError(
        f"bar {bar}: decision {decision!r} is not None, a bool or a target fraction in [0, 1]"
    )


def decide_targets(frame: pd.DataFrame, decide: Callable[[PastBars], Decision]) -> np.ndarray:
    """Call ``decide`` on every bar with the past only and collect its targets.

    ``decide`` returns None (keep the position), True / False (all-in / flat) or a
    target fraction of equity in [0, 1]. Any exception it raises becomes a
    `StrategyError` naming the bar (the original is chained as its cause).
    """
    columns = _read_only_columns(frame)
    targets = np.full(len(frame), np.nan)
    for bar in range(len(frame)):
        try:
            decision = decide(PastBars(columns, bar + 1))
        except Exception as exc:  # noqa: BLE001 - user code: any failure is reported as such
            when = pd.Timestamp(int(columns["ts"][bar]), unit="ms", tz="UTC")
            raise StrategyError(f"bar {bar} ({when.isoformat()}): strategy raised {exc!r}") from exc
        targets[bar] = _as_target(decision, bar)
    return targets


def run_bar_strategy(
    frame: pd.DataFrame,
    decide: Callable[[PastBars], Decision],
    settings: BacktestSettings | None = None,
) -> BacktestResult:
    """Backtest a bar-by-bar strategy; its decision on bar t fills at bar t+1."""
    check_candles(frame)
    return run_targets(frame, decide_targets(frame, decide), settings)
