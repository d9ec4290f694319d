"""Parameter sweeps of the SMA crossover, run in parallel inside one numba call."""

from __future__ import annotations

import numpy as np
import pandas as pd

from zvt_pipelines.analytics.indicators import check_windows
from zvt_pipelines.backtest.engine import BPS, check_candles, fill_prices
from zvt_pipelines.backtest.kernels import rolling_means_nb, sma_cross_grid_nb
from zvt_pipelines.backtest.settings import BacktestSettings
from zvt_pipelines.errors import ConfigError


def sma_cross_grid(
    frame: pd.DataFrame,
    pairs: list[tuple[int, int]],
    settings: BacktestSettings | None = None,
) -> pd.DataFrame:
    """Final equity and entries of the SMA crossover for every (fast, slow) pair.

    Each pair runs exactly the kernels of a single `run_targets` backtest (so a row
    equals `run_sma_cross` with the same parameters); every distinct window's moving
    average is computed once and the pairs are spread over the CPU cores.

    Returns
    -------
    DataFrame
        Columns fast, slow, final_equity, trades; one row per pair, in input order.
    """
    settings = settings or BacktestSettings()
    if settings.models_execution:
        raise ConfigError(
            "sma_cross_grid: the grid kernel prices fills with fee, fixed slippage and fill price "
            "only; run each point with run_targets for maker fees, spreads, impact or volume caps"
        )
    check_candles(frame)
    for fast, slow in pairs:
        check_windows(fast, slow)
    grid = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    windows, rows = np.unique(grid, return_inverse=True)
    rows = rows.reshape(grid.shape)
    close = frame["close"].to_numpy(dtype="float64")
    means = rolling_means_nb(close, windows)
    final_equity, entries = sma_cross_grid_nb(
        means,
        np.ascontiguousarray(rows[:, 0]),
        np.ascontiguousarray(rows[:, 1]),
        fill_prices(frame, settings.fill_price),
        close,
        settings.fee_bps * BPS,
        settings.slippage_bps * BPS,
        settings.cash,
    )
    return pd.DataFrame(
        {"fast": grid[:, 0], "slow": grid[:, 1], "final_equity": final_equity, "trades": entries}
    )
