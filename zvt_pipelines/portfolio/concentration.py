"""Diversification helpers: rolling correlation matrices and concentration of holdings."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from zvt_pipelines.errors import RiskInputError


def rolling_correlation(returns: pd.DataFrame, window: int) -> np.ndarray:
    """Pearson correlation matrices of every `window` consecutive rows.

    Parameters
    ----------
    returns : DataFrame, T × N
        Per-period returns, one column per asset.
    window : int
        Rows per window (>= 2).

    Returns
    -------
    ndarray, shape (T − window + 1, N, N)
        Entry k is the correlation matrix of rows k … k+window−1. A window in which an asset
        has a NaN or zero variance gives NaN in that asset's row and column.
    """
    if window < 2:
        raise RiskInputError(f"window={window}: need at least 2 rows")
    values = returns.to_numpy(dtype=np.float64)
    if values.shape[0] < window:
        raise RiskInputError(f"returns: {values.shape[0]} rows, fewer than window={window}")
    windows = np.lib.stride_tricks.sliding_window_view(values, window, axis=0)  # (K, N, w)
    centred = windows - windows.mean(axis=2, keepdims=True)
    covariance = centred @ centred.transpose(0, 2, 1)
    scale = np.sqrt(np.einsum("kii->ki", covariance))
    # a constant window has zero variance; its float-noise residue must not pass for a scale
    scale[np.ptp(windows, axis=2) == 0] = np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        return covariance / (scale[:, :, None] * scale[:, None, :])


@dataclass(frozen=True)
class Concentration:
    """How concentrated holdings are, by absolute value weight ``wᵢ = |vᵢ| / Σ|v|``.

    `herfindahl` is ``Σ wᵢ²`` (1/N for equal weights, 1 for a single holding),
    `effective_holdings` is ``1 / herfindahl``, and `largest` names the biggest weight.
    """

    herfindahl: float
    effective_holdings: float
    largest_asset: str
    largest_weight: float


def concentration(values: pd.Series) -> Concentration:
    """Concentration of holdings given as a Series of position values indexed by asset.

    Raises RiskInputError when the values are empty, contain NaN, or are all zero.
    """
    absolute = values.abs().astype(np.float64)
    if absolute.empty or absolute.isna().any() or absolute.sum() == 0:
        raise RiskInputError("values: need at least one non-zero position value and no NaN")
    weights = absolute / absolute.sum()
    herfindahl = float((weights**2).sum())
    largest = weights.idxmax()
    return Concentration(herfindahl, 1.0 / herfindahl, str(largest), float(weights[largest]))
