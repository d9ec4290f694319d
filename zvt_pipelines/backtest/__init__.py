"""Backtests: a numba fill loop over float64 bars, signals filled one bar later.

Entry points: `run_targets` / `run_signals` (vectorised signals), `run_bar_strategy`
(a strategy that sees only the past), `sma_cross_grid` (parameter sweeps) and the
`zvt backtest` contract `run_sma_cross_contract`. Execution costs beyond fees are
`BacktestSettings` fields (`OrderStyle`, `SlippageModel`, impact, volume cap; see
`costs.py`). The event-driven path for multi-instrument, multi-venue and multi-timeframe
strategies, on the live order and fill objects, is `event_driven.run_backtest` (import it
from there: it pulls in the OMS and the strategies).
"""

from zvt_pipelines.backtest.bar_by_bar import PastBars, run_bar_strategy
from zvt_pipelines.backtest.contract import run_sma_cross, run_sma_cross_contract
from zvt_pipelines.backtest.engine import run_signals, run_targets
from zvt_pipelines.backtest.grid import sma_cross_grid
from zvt_pipelines.backtest.result import BacktestResult
from zvt_pipelines.backtest.settings import BacktestSettings, FillPrice, OrderStyle, SlippageModel

__all__ = [
    "BacktestResult",
    "BacktestSettings",
    "FillPrice",
    "OrderStyle",
    "SlippageModel",
    "PastBars",
    "run_bar_strategy",
    "run_signals",
    "run_sma_cross",
    "run_sma_cross_contract",
    "run_targets",
    "sma_cross_grid",
]
