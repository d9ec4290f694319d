"""Evaluate price and volume rules on newly stored candles, resuming from a cursor.

`scan_market` reads enough history before the cursor to warm the rules up, evaluates them,
and returns only the alerts on bars after the cursor together with the new cursor (the last
bar seen). With no cursor yet only the newest bar may alert, so the first scan does not
replay history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from zvt_pipelines.alerts.alert import Alert
from zvt_pipelines.alerts.rules import (
    PercentMove,
    PriceCross,
    Rule,
    VolumeSpike,
    alerts_after,
    evaluate_rules,
)
from zvt_pipelines.model.timeframe import timeframe_ms
from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.market_data import load_candles


@dataclass(frozen=True)
class MarketRules:
    """The rules the market sensor applies to every watched instrument."""

    percent_move: float = 0.05
    percent_window: int = 60
    volume_z: float = 6.0
    volume_window: int = 120
    levels: tuple[float, ...] = ()

    def build(self) -> list[Rule]:
        rules: list[Rule] = [
            PercentMove(self.percent_move, self.percent_window),
            VolumeSpike(self.volume_z, self.volume_window),
        ]
        for level in self.levels:
            rules += [PriceCross(level, "up"), PriceCross(level, "down")]
        return rules

    @property
    def warmup(self) -> int:
        """Bars of history the rules need before the first bar they judge."""
        return max(self.percent_window, self.volume_window) + 1


def scan_market(
    db: Database,
    venue: str,
    symbol: str,
    timeframe: str,
    rules: Sequence[Rule],
    warmup: int,
    cursor: pd.Timestamp | None,
) -> tuple[list[Alert], pd.Timestamp | None]:
    """Alerts on candles after `cursor`, labelled `venue:symbol`, and the new cursor."""
    bar = pd.Timedelta(milliseconds=timeframe_ms(timeframe))
    start = None if cursor is None else cursor - warmup * bar
    candles = load_candles(db, venue, symbol, timeframe, start)
    if candles.empty:
        return [], cursor
    if cursor is None:
        candles = candles.tail(warmup + 1).reset_index(drop=True)
        cursor = candles["ts"].iloc[-1] - bar
    alerts = evaluate_rules(rules, candles, f"{venue}:{symbol}")
    return alerts_after(alerts, cursor), candles["ts"].iloc[-1]
