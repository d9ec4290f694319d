"""Technical-signal rules: RSI, MACD, Bollinger bands, support/resistance breakouts, trend changes.

The indicators are the strategies' own (`analytics.indicators`, NaN during warm-up), so an
alert and a strategy read the same RSI; each rule alerts on the bar its condition becomes
true, using only that bar and earlier ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from zvt_pipelines.alerts.alert import Alert, AlertType, Severity
from zvt_pipelines.alerts.rules import Timestamps, column, recent, rising_edge, timestamps
from zvt_pipelines.analytics.indicators import bollinger, macd, rsi, sma
from zvt_pipelines.errors import AlertConfigError


def crosses(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices where `a` crosses above `b` and where it crosses below (NaN rows never cross)."""
    above = np.nan_to_num(a - b, nan=0.0)
    prev = np.concatenate(([0.0], above[:-1]))
    valid = ~(np.isnan(a) | np.isnan(b))
    valid_prev = np.concatenate(([False], valid[:-1]))
    both = valid & valid_prev
    return np.flatnonzero(both & (prev <= 0) & (above > 0)), np.flatnonzero(
        both & (prev >= 0) & (above < 0)
    )


def _alert(
    ts: Timestamps,
    close: np.ndarray,
    index: int,
    instrument: str,
    condition: str,
    title: str,
    body: str,
    severity: Severity,
    value: float | None = None,
    threshold: float | None = None,
    **fields: float,
) -> Alert:
    return Alert(
        type=AlertType.TECHNICAL_SIGNAL,
        severity=severity,
        title=f"{instrument}: {title}",
        body=body,
        at=ts[index].to_pydatetime(),
        condition=condition,
        instrument=instrument,
        value=value,
        threshold=threshold,
        recent_prices=recent(close, index),
        fields=fields,
    )


@dataclass(frozen=True)
class RsiExtreme:
    """RSI enters overbought (>= `overbought`) or oversold (<= `oversold`) territory."""

    period: int = 14
    overbought: float = 70.0
    oversold: float = 30.0
    severity: Severity = Severity.INFO

    def __post_init__(self) -> None:
        if not 0 < self.oversold < self.overbought < 100:
            raise AlertConfigError(
                f"RSI bounds oversold={self.oversold!r}, overbought={self.overbought!r}: "
                "need 0 < oversold < overbought < 100"
            )

    def evaluate(self, frame: pd.DataFrame, instrument: str) -> list[Alert]:
        close = column(frame, "close")
        ts = timestamps(frame)
        value = rsi(close, self.period)
        finite = np.nan_to_num(value, nan=50.0)
        alerts = []
        for name, hits, bound in (
            ("overbought", rising_edge(finite >= self.overbought), self.overbought),
            ("oversold", rising_edge(finite <= self.oversold), self.oversold),
        ):
            alerts += [
                _alert(
                    ts,
                    close,
                    i,
                    instrument,
                    f"rsi{self.period}_{name}",
                    f"RSI({self.period}) {name} at {value[i]:.1f}",
                    f"RSI({self.period}) reached {value[i]:.1f} (bound {bound:g}).",
                    self.severity,
                    float(value[i]),
                    bound,
                )
                for i in hits
            ]
        return sorted(alerts, key=lambda a: a.at)


@dataclass(frozen=True)
class MacdCross:
    """The MACD line crosses its signal line: bullish upwards, bearish downwards."""

    fast: int = 12
    slow: int = 26
    signal: int = 9
    severity: Severity = Severity.INFO

    def evaluate(self, frame: pd.DataFrame, instrument: str) -> list[Alert]:
        close = column(frame, "close")
        ts = timestamps(frame)
        line, signal, _ = macd(close, self.fast, self.slow, self.signal)
        up, down = crosses(line, signal)
        alerts = [
            _alert(
                ts,
                close,
                i,
                instrument,
                f"macd_{name}",
                f"MACD {name} cross",
                f"MACD {line[i]:.4g} crossed {'above' if name == 'bullish' else 'below'} "
                f"its signal line {signal[i]:.4g}.",
                self.severity,
                float(line[i]),
                float(signal[i]),
            )
            for name, hits in (("bullish", up), ("bearish", down))
            for i in hits
        ]
        return sorted(alerts, key=lambda a: a.at)


@dataclass(frozen=True)
class BollingerBreak:
    """The close moves outside the Bollinger bands (above the upper or below the lower band)."""

    window: int = 20
    width: float = 2.0
    severity: Severity = Severity.INFO

    def evaluate(self, frame: pd.DataFrame, instrument: str) -> list[Alert]:
        close = column(frame, "close")
        ts = timestamps(frame)
        lower, _, upper = bollinger(close, self.window, self.width)
        alerts = []
        for name, outside, band in (
            ("upper", close > np.nan_to_num(upper, nan=np.inf), upper),
            ("lower", close < np.nan_to_num(lower, nan=-np.inf), lower),
        ):
            alerts += [
                _alert(
                    ts,
                    close,
                    i,
                    instrument,
                    f"bollinger_{name}",
                    f"close outside the {name} Bollinger band",
                    f"Close {close[i]:g} is outside the {name} band {band[i]:g} "
                    f"({self.window} bars, {self.width:g} sd).",
                    self.severity,
                    float(close[i]),
                    float(band[i]),
                )
                for i in rising_edge(outside)
            ]
        return sorted(alerts, key=lambda a: a.at)


@dataclass(frozen=True)
class Breakout:
    """The close breaks above the highest high (resistance) or below the lowest low (support)
    of the previous `lookback` bars."""

    lookback: int = 20
    severity: Severity = Severity.WARNING

    def evaluate(self, frame: pd.DataFrame, instrument: str) -> list[Alert]:
        close = column(frame, "close")
        ts = timestamps(frame)
        high = column(frame, "high") if "high" in frame.columns else close
        low = column(frame, "low") if "low" in frame.columns else close
        resistance = pd.Series(high).shift(1).rolling(self.lookback).max().to_numpy()
        support = pd.Series(low).shift(1).rolling(self.lookback).min().to_numpy()
        alerts = []
        for name, broken, level in (
            ("resistance", close > np.nan_to_num(resistance, nan=np.inf), resistance),
            ("support", close < np.nan_to_num(support, nan=-np.inf), support),
        ):
            alerts += [
                _alert(
                    ts,
                    close,
                    i,
                    instrument,
                    f"breakout_{name}/{self.lookback}",
                    f"{name} breakout at {level[i]:g}",
                    f"Close {close[i]:g} broke the {self.lookback}-bar {name} {level[i]:g}.",
                    self.severity,
                    float(close[i]),
                    float(level[i]),
                )
                for i in rising_edge(broken)
            ]
        return sorted(alerts, key=lambda a: a.at)


@dataclass(frozen=True)
class TrendChange:
    """The fast simple moving average crosses the slow one (golden cross up, death cross down)."""

    fast: int = 20
    slow: int = 50
    severity: Severity = Severity.WARNING

    def __post_init__(self) -> None:
        if not 0 < self.fast < self.slow:
            raise AlertConfigError(
                f"trend windows fast={self.fast!r}, slow={self.slow!r}: need 0 < fast < slow"
            )

    def evaluate(self, frame: pd.DataFrame, instrument: str) -> list[Alert]:
        close = column(frame, "close")
        ts = timestamps(frame)
        fast, slow = sma(close, self.fast), sma(close, self.slow)
        up, down = crosses(fast, slow)
        alerts = [
            _alert(
                ts,
                close,
                i,
                instrument,
                f"trend_{name}/{self.fast}/{self.slow}",
                f"trend turned {'up' if name == 'golden' else 'down'} ({name} cross)",
                f"SMA{self.fast} {fast[i]:g} crossed SMA{self.slow} {slow[i]:g}.",
                self.severity,
                float(fast[i]),
                float(slow[i]),
            )
            for name, hits in (("golden", up), ("death", down))
            for i in hits
        ]
        return sorted(alerts, key=lambda a: a.at)
