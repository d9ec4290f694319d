"""Backtests: a numba fill loop over float64 bars, signals filled one bar later.

Entry points: `run_targets` / `run_signals` (vectorised signals), `run_bar_strategy`
(a strategy that sees only the past), `sma_cross_grid` (parameter sweeps) and the
`zvt backtest` contract `run_sma_cross_contract`.
"""

from zvt_pipelines.backtest.bar_by_bar import PastBars, run_bar_strategy
from zvt_pipelines.backtest.contract import run_sma_cross, run_sma_cross_contract
from zvt_pipelines.backtest.engine import BacktestSettings, FillPrice, run_signals, run_targets
from zvt_pipelines.backtest.grid import sma_cross_grid
from zvt_pipelines.backtest.result import BacktestResult

__all__ = [
    "BacktestResult",
    "BacktestSettings",
    "FillPrice",
    "PastBars",
    "run_bar_strategy",
    "run_signals",
    "run_sma_cross",
    "run_sma_cross_contract",
    "run_targets",
    "sma_cross_grid",
]
