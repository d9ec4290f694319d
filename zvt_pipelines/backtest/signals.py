"""Transitional: the SMA crossover moved to `analytics.indicators`; `backtest/optimize.py` still imports it from here."""

from zvt_pipelines.analytics.indicators import sma_cross_targets

__all__ = ["sma_cross_targets"]
