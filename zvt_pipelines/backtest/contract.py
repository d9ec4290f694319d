"""The SMA-crossover backtest behind `zvt backtest`: one documented contract.

Long-only crossover of simple moving averages of the close (SMA over the last n
closes; none during the first n-1 bars).

* Fast crosses above slow at bar t when fast[t] > slow[t] and fast[t-1] <= slow[t-1],
  all four defined; it crosses below when fast[t] < slow[t] and fast[t-1] >= slow[t-1].
* A cross above on bar t's close enters at bar t+1's open, all-in with fractional
  units: entry notional = cash / (1 + fee). A cross below exits everything at bar
  t+1's open. A cross on the last bar is not filled.
* fee = fee_bps / 10,000 of the notional of every fill; no slippage.
* A position still open at the end is marked at the last close, not sold.
* Metrics use daily simple returns: equity at the last bar of each UTC day, days
  without bars carry the previous equity, the first day is measured from the starting
  cash, annualisation 365.

backtrader, vectorbt and a plain Python loop reproduce this contract in
`tests/test_backtest_parity.py`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from zvt_pipelines.analytics.indicators import sma_cross_targets
from zvt_pipelines.backtest.engine import check_candles, run_targets
from zvt_pipelines.backtest.result import BacktestResult, json_float
from zvt_pipelines.backtest.settings import BacktestSettings, FillPrice

CONTRACT_METRICS = ("sharpe", "sortino", "max_drawdown", "calmar", "var_95", "cvar_95")


def run_sma_cross(
    frame: pd.DataFrame, fast: int, slow: int, fee_bps: float, cash: float
) -> BacktestResult:
    """The contract's backtest as a full `BacktestResult` (equity curve, trades, fills)."""
    check_candles(frame)
    settings = BacktestSettings(cash=cash, fee_bps=fee_bps, fill_price=FillPrice.OPEN)
    targets = sma_cross_targets(frame["close"].to_numpy(dtype="float64"), fast, slow)
    return run_targets(frame, targets, settings)


def contract_summary(
    result: BacktestResult, frame: pd.DataFrame, fast: int, slow: int, fee_bps: float, cash: float
) -> dict[str, Any]:
    """The JSON-serialisable summary of a contract run (NaN/inf metrics become None)."""
    return {
        "strategy": "sma_cross",
        "params": {
            "fast": int(fast),
            "slow": int(slow),
            "fee_bps": float(fee_bps),
            "cash": float(cash),
        },
        "data": {
            "start": frame["ts"].iloc[0].isoformat(),
            "end": frame["ts"].iloc[-1].isoformat(),
            "bars": len(frame),
        },
        "final_equity": float(result.final_equity),
        "trades": int(result.n_trades),
        "fees": float(result.fees_paid),
        "metrics": {name: json_float(result.metrics[name]) for name in CONTRACT_METRICS},
        "all_metrics": {name: json_float(value) for name, value in result.metrics.items()},
    }


def run_sma_cross_contract(
    frame: pd.DataFrame, fast: int, slow: int, fee_bps: float, cash: float
) -> dict[str, Any]:
    """Run the SMA-crossover contract (module docstring) and summarise it.

    Returns
    -------
    dict
        ``final_equity``, ``trades`` (entries), ``fees``, ``metrics`` (sharpe, sortino,
        max_drawdown, calmar, var_95, cvar_95 on daily returns), ``all_metrics``,
        ``params``, ``data`` (start, end, bars) and ``strategy``.
    """
    result = run_sma_cross(frame, fast, slow, fee_bps, cash)
    return contract_summary(result, frame, fast, slow, fee_bps, cash)
