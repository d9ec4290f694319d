"""Price and volume rules, evaluated vectorised over a candle frame or a frame of price updates.

Every rule is a frozen dataclass with `evaluate(frame, instrument) -> list[Alert]`. The frame
needs `ts` (UTC) and `close` (a frame of ticks works: one row per price update); volume
rules also need `volume`. State-like conditions (a percent move beyond a limit) alert on the
bar they become true, not on every bar they stay true; events (a cross, a spike) alert on
each bar they happen.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import pandas as pd

from zvt_pipelines.alerts.alert import Alert, AlertType, Severity
from zvt_pipelines.errors import AlertConfigError, DataError

RECENT = 50


class Rule(Protocol):
    """Anything that turns a frame of one instrument into the alerts it raises."""

    def evaluate(self, frame: pd.DataFrame, instrument: str) -> list[Alert]: ...


def column(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A float64 column of the frame, or a DataError naming the missing column."""
    if name not in frame.columns:
        raise DataError(f"alert rule needs column {name!r}; frame has {list(frame.columns)}")
    return frame[name].to_numpy(dtype="float64")


class Timestamps:
    """The frame's `ts` column, converted to UTC timestamps only for the rows asked for
    (alerts are rare; converting a million-row column up front would dominate the cost)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        if "ts" not in frame.columns:
            raise DataError(f"alert rule needs column 'ts'; frame has {list(frame.columns)}")
        self._ns = pd.DatetimeIndex(pd.to_datetime(frame["ts"], utc=True)).as_unit("ns").asi8

    def __getitem__(self, index: int) -> pd.Timestamp:
        return pd.Timestamp(int(self._ns[index]), unit="ns", tz="UTC")


def timestamps(frame: pd.DataFrame) -> Timestamps:
    """Lazy UTC timestamps of the frame's rows (see `Timestamps`)."""
    return Timestamps(frame)


def rising_edge(condition: np.ndarray) -> np.ndarray:
    """Indices where a boolean condition becomes true (true at index 0 counts)."""
    previous = np.concatenate(([False], condition[:-1]))
    return np.flatnonzero(condition & ~previous)


def recent(close: np.ndarray, index: int, count: int = RECENT) -> tuple[float, ...]:
    """The `count` closes up to and including `index`, for an alert's context and chart."""
    return tuple(close[max(0, index - count + 1) : index + 1].tolist())


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise AlertConfigError(f"{name} {value!r}: must be positive")


@dataclass(frozen=True)
class PriceCross:
    """The price crosses `level` upwards (previous < level <= current) or downwards."""

    level: float
    direction: Literal["up", "down"]
    severity: Severity = Severity.WARNING

    def __post_init__(self) -> None:
        _positive("price level", self.level)
        if self.direction not in ("up", "down"):
            raise AlertConfigError(f"cross direction {self.direction!r}: expected 'up' or 'down'")

    def evaluate(self, frame: pd.DataFrame, instrument: str) -> list[Alert]:
        close = column(frame, "close")
        if close.size < 2:
            return []
        before, now = close[:-1], close[1:]
        if self.direction == "up":
            hits = np.flatnonzero((before < self.level) & (now >= self.level)) + 1
        else:
            hits = np.flatnonzero((before > self.level) & (now <= self.level)) + 1
        ts = timestamps(frame) if hits.size else []
        word = "above" if self.direction == "up" else "below"
        return [
            Alert(
                type=AlertType.PRICE_THRESHOLD,
                severity=self.severity,
                title=f"{instrument} crossed {word} {self.level:g}",
                body=f"{instrument} moved from {close[i - 1]:g} to {close[i]:g}, "
                f"crossing {word} {self.level:g}.",
                at=ts[i].to_pydatetime(),
                condition=f"cross_{self.direction}@{self.level:g}",
                instrument=instrument,
                value=float(close[i]),
                threshold=self.level,
                recent_prices=recent(close, i),
                fields={"previous": float(close[i - 1])},
            )
            for i in hits
        ]


@dataclass(frozen=True)
class PercentMove:
    """The price moved at least `percent` (a fraction, 0.05 = 5 %) over the last `window` rows."""

    percent: float
    window: int
    severity: Severity = Severity.WARNING

    def __post_init__(self) -> None:
        _positive("percent move", self.percent)
        _positive("window", self.window)

    def evaluate(self, frame: pd.DataFrame, instrument: str) -> list[Alert]:
        close = column(frame, "close")
        if close.size <= self.window:
            return []
        change = np.full(close.size, np.nan)
        change[self.window :] = close[self.window :] / close[: -self.window] - 1.0
        hits = rising_edge(np.abs(np.nan_to_num(change)) >= self.percent)
        ts = timestamps(frame) if hits.size else []
        alerts = []
        for i in hits:
            word = "up" if change[i] > 0 else "down"
            alerts.append(
                Alert(
                    type=AlertType.PRICE_THRESHOLD,
                    severity=self.severity,
                    title=f"{instrument} {word} {abs(change[i]):.2%} in {self.window} bars",
                    body=f"{instrument} went from {close[i - self.window]:g} to {close[i]:g} "
                    f"({change[i]:+.2%}) over {self.window} bars; limit {self.percent:.2%}.",
                    at=ts[i].to_pydatetime(),
                    condition=f"move_{word}>={self.percent:g}/{self.window}",
                    instrument=instrument,
                    value=float(change[i]),
                    threshold=self.percent if change[i] > 0 else -self.percent,
                    recent_prices=recent(close, i),
                    fields={"from_price": float(close[i - self.window]), "window": self.window},
                )
            )
        return alerts


@dataclass(frozen=True)
class VolumeSpike:
    """Volume at least `z` standard deviations above the mean of the previous `window` rows.

    The baseline excludes the bar itself, so a spike cannot dilute its own baseline. A flat
    baseline (standard deviation 0) counts any higher volume as a spike.
    """

    z: float
    window: int
    severity: Severity = Severity.WARNING

    def __post_init__(self) -> None:
        _positive("z-score", self.z)
        if self.window < 2:
            raise AlertConfigError(f"volume window {self.window!r}: needs at least 2 rows")

    def scores(self, volume: np.ndarray) -> np.ndarray:
        """The z-score of each row's volume against the previous `window` rows (NaN in warm-up)."""
        baseline = pd.Series(volume).shift(1).rolling(self.window)
        mean = baseline.mean().to_numpy()
        std = baseline.std(ddof=0).to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (volume - mean) / std
        flat = std == 0
        z[flat] = np.where(volume[flat] > mean[flat], np.inf, 0.0)
        return z

    def evaluate(self, frame: pd.DataFrame, instrument: str) -> list[Alert]:
        volume = column(frame, "volume")
        close = column(frame, "close")
        z = self.scores(volume)
        hits = np.flatnonzero(np.nan_to_num(z, nan=-np.inf) >= self.z)
        ts = timestamps(frame) if hits.size else []
        return [
            Alert(
                type=AlertType.VOLUME_SPIKE,
                severity=self.severity,
                title=f"{instrument} volume spike z={z[i]:.1f}",
                body=f"{instrument} traded {volume[i]:g} against a {self.window}-bar mean of "
                f"{volume[i - self.window : i].mean():g} (z {z[i]:.1f} >= {self.z:g}).",
                at=ts[i].to_pydatetime(),
                condition=f"volume_z>={self.z:g}/{self.window}",
                instrument=instrument,
                value=float(z[i]),
                threshold=self.z,
                recent_prices=recent(close, i),
                fields={"volume": float(volume[i])},
            )
            for i in hits
        ]


def evaluate_rules(rules: Iterable[Rule], frame: pd.DataFrame, instrument: str) -> list[Alert]:
    """Every alert the rules raise on the frame, in time order."""
    alerts = [alert for rule in rules for alert in rule.evaluate(frame, instrument)]
    return sorted(alerts, key=lambda a: a.at)


def alerts_after(alerts: Sequence[Alert], cursor: pd.Timestamp | None) -> list[Alert]:
    """The alerts strictly after `cursor` (all of them when there is no cursor yet)."""
    if cursor is None:
        return list(alerts)
    return [a for a in alerts if a.at > cursor]
