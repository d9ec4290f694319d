"""Value at risk and expected shortfall of a portfolio of holdings: historical, parametric, Monte Carlo.

Inputs are a T × N matrix of simple per-period (e.g. daily) asset returns and the N signed
position values in the portfolio's currency. A portfolio's P&L over a scenario is
``returns_row · values``. Results are positive numbers meaning loss, in that currency.

Quantile convention (shared with empyrical-reloaded): with ``α = 1 − confidence`` and the
scenario P&Ls ``x``, ``VaR = −percentile(x, 100·α)`` (numpy's linear interpolation between
order statistics) and ``ES = −mean(x₍₁₎ … x₍ₖ₎)``, the mean of the ``k = ⌊(n − 1)·α⌋ + 1``
smallest P&Ls. For a fully invested long portfolio of value V these are exactly
``−V·empyrical.value_at_risk(r, α)`` and ``−V·empyrical.conditional_value_at_risk(r, α)``
of its return series r.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from zvt_pipelines.analytics.metrics import conditional_value_at_risk, value_at_risk
from zvt_pipelines.errors import RiskInputError

DEFAULT_CONFIDENCE = 0.95
DEFAULT_PATHS = 100_000


class HorizonMethod(enum.Enum):
    """How a historical VaR reaches an h-period horizon."""

    OVERLAPPING = "overlapping"  # compounded returns of every h-period window (t … t+h−1)
    SQRT_TIME = "sqrt_time"  # 1-period VaR and ES times √h (i.i.d., zero-mean assumption)


class MonteCarloMethod(enum.Enum):
    """How Monte Carlo scenarios are drawn."""

    NORMAL = "normal"  # multivariate normal from the sample mean and covariance (Cholesky)
    BOOTSTRAP = "bootstrap"  # h whole historical rows drawn with replacement, compounded


@dataclass(frozen=True)
class RiskEstimate:
    """VaR and ES (positive = loss) at one confidence and horizon, and how they were made."""

    var: float
    es: float
    confidence: float
    horizon: int
    method: str
    scenarios: int


def _validate(
    returns: np.ndarray, values: np.ndarray, confidence: float, horizon: int
) -> np.ndarray:
    returns = np.asarray(returns, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    if returns.ndim != 2 or values.ndim != 1 or returns.shape[1] != values.shape[0]:
        raise RiskInputError(
            f"returns shape {returns.shape} and values shape {values.shape}: need T × N and N"
        )
    if not 0.0 < confidence < 1.0:
        raise RiskInputError(f"confidence={confidence}: must lie strictly between 0 and 1")
    if horizon < 1:
        raise RiskInputError(f"horizon={horizon}: must be a whole number of periods >= 1")
    if not np.isfinite(values).all():
        raise RiskInputError("values: every position value must be finite")
    infinite = int(np.isinf(returns).sum())
    if infinite:
        raise RiskInputError(
            f"returns: {infinite} infinite value(s); returns must be finite (NaN marks a gap)"
        )
    complete = returns[~np.isnan(returns).any(axis=1)]
    if complete.shape[0] < 2:
        raise RiskInputError(f"returns: {complete.shape[0]} complete row(s); need at least 2")
    return complete


def var_es_from_pnl(pnl: np.ndarray, confidence: float = DEFAULT_CONFIDENCE) -> tuple[float, float]:
    """VaR and ES (positive = loss) of a sample of scenario P&Ls, by the module's convention.

    NaN P&Ls are dropped first; an empty sample gives (NaN, NaN).
    """
    alpha = 1.0 - confidence  # the quantiles are the return metrics' own, on P&Ls
    return -value_at_risk(pnl, alpha), -conditional_value_at_risk(pnl, alpha)


def compounded_returns(returns: np.ndarray, horizon: int) -> np.ndarray:
    """Overlapping h-period compounded returns ``Π(1 + r_t … r_{t+h−1}) − 1``, shape (T−h+1, N)."""
    returns = np.asarray(returns, dtype=np.float64)
    if horizon == 1:
        return returns
    log_growth = np.log1p(returns)
    cumulative = np.vstack([np.zeros((1, returns.shape[1])), np.cumsum(log_growth, axis=0)])
    return np.expm1(cumulative[horizon:] - cumulative[:-horizon])


def historical_var(
    returns: np.ndarray,
    values: np.ndarray,
    confidence: float = DEFAULT_CONFIDENCE,
    horizon: int = 1,
    horizon_method: HorizonMethod = HorizonMethod.OVERLAPPING,
) -> RiskEstimate:
    """Historical-simulation VaR and ES of holdings `values` over `horizon` periods.

    Parameters
    ----------
    returns : float64 array, T × N
        Simple per-period returns. Rows with any NaN are dropped (the assets must share history).
    values : float64 array, N
        Signed position values in the portfolio currency.
    horizon_method : HorizonMethod
        OVERLAPPING revalues on every window of h consecutive rows (compounded per asset);
        SQRT_TIME scales the 1-period figures by √h.

    Returns
    -------
    RiskEstimate
        P&L scenarios ``R_h · values``; VaR/ES by the module's quantile convention.
    """
    complete = _validate(returns, values, confidence, horizon)
    values = np.asarray(values, dtype=np.float64)
    if horizon_method is HorizonMethod.SQRT_TIME or horizon == 1:
        var, es = var_es_from_pnl(complete @ values, confidence)
        scale = math.sqrt(horizon)
        return RiskEstimate(
            var * scale, es * scale, confidence, horizon, "historical", complete.shape[0]
        )
    if complete.shape[0] < horizon + 1:
        raise RiskInputError(
            f"returns: {complete.shape[0]} rows cannot make {horizon}-period windows"
        )
    pnl = compounded_returns(complete, horizon) @ values
    var, es = var_es_from_pnl(pnl, confidence)
    return RiskEstimate(var, es, confidence, horizon, "historical", pnl.size)


def parametric_var_from_moments(
    mean: np.ndarray,
    covariance: np.ndarray,
    values: np.ndarray,
    confidence: float = DEFAULT_CONFIDENCE,
    horizon: int = 1,
) -> RiskEstimate:
    """Normal (variance-covariance) VaR and ES from per-period asset means and covariance.

    With ``μ = mean·values``, ``σ = √(valuesᵀ Σ values)``, ``z = Φ⁻¹(confidence)`` and
    ``α = 1 − confidence``: ``VaR = −μ·h + z·σ·√h`` and ``ES = −μ·h + σ·√h·φ(z)/α``.
    """
    values = np.asarray(values, dtype=np.float64)
    if not 0.0 < confidence < 1.0:
        raise RiskInputError(f"confidence={confidence}: must lie strictly between 0 and 1")
    mu = float(np.asarray(mean, dtype=np.float64) @ values)
    sigma = math.sqrt(max(float(values @ np.asarray(covariance, dtype=np.float64) @ values), 0.0))
    z = float(norm.ppf(confidence))
    root_h = math.sqrt(horizon)
    var = -mu * horizon + z * sigma * root_h
    es = -mu * horizon + sigma * root_h * float(norm.pdf(z)) / (1.0 - confidence)
    return RiskEstimate(var, es, confidence, horizon, "parametric", 0)


def parametric_var(
    returns: np.ndarray,
    values: np.ndarray,
    confidence: float = DEFAULT_CONFIDENCE,
    horizon: int = 1,
) -> RiskEstimate:
    """Normal VaR and ES with the sample mean and covariance (ddof = 1) of `returns`.

    Rows with any NaN are dropped; see `parametric_var_from_moments` for the formula.
    """
    complete = _validate(returns, values, confidence, horizon)
    mean, covariance = _sample_moments(complete)
    estimate = parametric_var_from_moments(mean, covariance, values, confidence, horizon)
    return RiskEstimate(
        estimate.var, estimate.es, confidence, horizon, "parametric", complete.shape[0]
    )


def _sample_moments(complete: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-asset sample mean and covariance (ddof = 1) as an N × N matrix, even for N = 1."""
    n_assets = complete.shape[1]
    covariance = np.cov(complete, rowvar=False, ddof=1).reshape(n_assets, n_assets)
    return complete.mean(axis=0), covariance


def _cholesky(covariance: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor; a positive semi-definite (singular) matrix gets a tiny ridge."""
    try:
        return np.linalg.cholesky(covariance)
    except np.linalg.LinAlgError:
        ridge = 1e-12 * max(float(np.trace(covariance)) / covariance.shape[0], 1e-300)
        try:
            return np.linalg.cholesky(covariance + ridge * np.eye(covariance.shape[0]))
        except np.linalg.LinAlgError as exc:
            raise RiskInputError("covariance matrix is not positive semi-definite") from exc


def monte_carlo_var(
    returns: np.ndarray,
    values: np.ndarray,
    confidence: float = DEFAULT_CONFIDENCE,
    horizon: int = 1,
    paths: int = DEFAULT_PATHS,
    seed: int | None = 0,
    method: MonteCarloMethod = MonteCarloMethod.NORMAL,
) -> RiskEstimate:
    """Monte Carlo VaR and ES of holdings `values` over `horizon` periods.

    NORMAL draws h-period asset returns ``μ·h + √h·L·z`` with ``z ~ N(0, I)`` and ``L`` the
    Cholesky factor of the sample covariance (ddof = 1), so it converges to `parametric_var`.
    BOOTSTRAP draws h historical rows with replacement per path and compounds them per asset.
    Each path's P&L is its simulated return row · values; VaR/ES use the module's convention.
    The generator is ``numpy.random.default_rng(seed)``: the same seed gives the same figures.
    """
    complete = _validate(returns, values, confidence, horizon)
    if paths < 2:
        raise RiskInputError(f"paths={paths}: need at least 2")
    values = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    if method is MonteCarloMethod.NORMAL:
        mean, covariance = _sample_moments(complete)
        lower = _cholesky(covariance)
        shocks = rng.standard_normal((paths, complete.shape[1]))
        simulated = shocks @ (lower.T * math.sqrt(horizon))
        simulated += mean * horizon
    else:
        rows = rng.integers(0, complete.shape[0], size=(paths, horizon))
        simulated = np.expm1(np.log1p(complete)[rows].sum(axis=1))
    var, es = var_es_from_pnl(simulated @ values, confidence)
    return RiskEstimate(var, es, confidence, horizon, f"monte_carlo_{method.value}", paths)


def var_table(
    returns: np.ndarray,
    values: np.ndarray,
    confidence: float = DEFAULT_CONFIDENCE,
    horizons: tuple[int, ...] = (1, 7),
    paths: int = DEFAULT_PATHS,
    seed: int | None = 0,
) -> pd.DataFrame:
    """VaR and ES by every method at each horizon: one row per (method, horizon).

    Columns `method`, `horizon`, `confidence`, `var`, `es`, `scenarios`; historical uses
    overlapping windows and Monte Carlo the multivariate normal with `seed`. When the
    history is too short for overlapping windows of a horizon (fewer than 2 × horizon
    rows), historical VaR scales the 1-period figure by √horizon instead.
    """
    rows = []
    for horizon in horizons:
        short = np.asarray(returns).shape[0] < 2 * horizon
        method = HorizonMethod.SQRT_TIME if short else HorizonMethod.OVERLAPPING
        rows.append(historical_var(returns, values, confidence, horizon, method))
        rows.append(parametric_var(returns, values, confidence, horizon))
        rows.append(monte_carlo_var(returns, values, confidence, horizon, paths, seed))
    return pd.DataFrame(
        [(r.method, r.horizon, r.confidence, r.var, r.es, r.scenarios) for r in rows],
        columns=["method", "horizon", "confidence", "var", "es", "scenarios"],
    )
