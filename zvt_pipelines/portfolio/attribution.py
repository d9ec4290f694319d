"""Performance attribution: Brinson-Fachler effects, Carino linking, timing and currency effects.

One period, segments i (assets), portfolio and benchmark weights ``wp, wb`` (each summing to the
same total, normally 1, cash included as a segment) and local-currency returns ``rp, rb``, with
the benchmark's local return ``Rb = Σ wb·rb``:

* allocation  ``(wp − wb)·(rb − Rb)``  (Brinson-Fachler: over/under-weighting segments that beat
  or lag the benchmark as a whole),
* selection   ``wb·(rp − rb)``,
* interaction ``(wp − wb)·(rp − rb)``,
* currency    ``wp·(rp* − rp) − wb·(rb* − rb)``, where ``r* = (1 + r)(1 + fx) − 1`` is the return
  in the base currency and ``fx`` the return of the segment's quote currency in it
  (e.g. USDT against USD); zero when no fx is given.

Their sum over segments is exactly ``Σ wp·rp* − Σ wb·rb*``, the period's active return.

Many periods are linked with Carino's logarithmic coefficients: each period's effects are scaled
by ``k_t / K`` with ``k_t = ln((1+R_t)/(1+B_t)) / (R_t − B_t)`` and the same for the compounded
totals ``R = Π(1+R_t) − 1``, ``B = Π(1+B_t) − 1`` (``1/(1+R)`` where the two returns are equal),
so the linked effects sum to ``R − B``. The linked allocation is then split into a static part,
taken at each segment's average active weight ``ā = mean_t(wp_t − wb_t)``, and timing
``Σ_t (k_t/K)·(wp_t − wb_t − ā)·(rb_t − Rb_t)``: the return of varying the active exposure around
its average (zero for a constant over/under-weight, and for a portfolio that is the benchmark).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from zvt_pipelines.errors import RiskInputError

EFFECTS = ("allocation", "timing", "selection", "interaction", "currency")
_SAME_RETURN = 1e-10  # below this |R − B| the Carino coefficient takes its limit 1/(1+R)


@dataclass(frozen=True)
class AttributionResult:
    """Effects per segment (rows) and kind (columns `EFFECTS`), with the returns they explain."""

    effects: pd.DataFrame
    portfolio_return: float
    benchmark_return: float

    @property
    def active_return(self) -> float:
        return self.portfolio_return - self.benchmark_return

    @property
    def totals(self) -> pd.Series:
        """Each effect summed over segments."""
        return self.effects.sum(axis=0)


def _as_matrix(
    name: str, data: pd.DataFrame | np.ndarray, shape: tuple[int, int] | None
) -> np.ndarray:
    matrix = np.asarray(data, dtype=np.float64)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    if matrix.ndim != 2 or (shape is not None and matrix.shape != shape):
        raise RiskInputError(f"{name}: shape {matrix.shape}, expected {shape or 'T × N'}")
    if not np.isfinite(matrix).all():
        raise RiskInputError(f"{name}: contains NaN or infinite values")
    return matrix


def _carino(portfolio: np.ndarray | float, benchmark: np.ndarray | float) -> np.ndarray:
    portfolio = np.asarray(portfolio, dtype=np.float64)
    benchmark = np.asarray(benchmark, dtype=np.float64)
    if (portfolio <= -1).any() or (benchmark <= -1).any():
        raise RiskInputError("a return of -100 % or worse cannot be linked geometrically")
    difference = portfolio - benchmark
    same = np.abs(difference) < _SAME_RETURN
    safe = np.where(same, 1.0, difference)
    return np.where(
        same, 1.0 / (1.0 + portfolio), (np.log1p(portfolio) - np.log1p(benchmark)) / safe
    )


def attribute(
    portfolio_weights: pd.DataFrame | np.ndarray,
    benchmark_weights: pd.DataFrame | np.ndarray,
    portfolio_returns: pd.DataFrame | np.ndarray,
    benchmark_returns: pd.DataFrame | np.ndarray,
    fx_returns: pd.DataFrame | np.ndarray | None = None,
    segments: list[str] | None = None,
) -> AttributionResult:
    """Attribute the active return over T periods (T = 1 is plain single-period Brinson-Fachler).

    Parameters
    ----------
    portfolio_weights, benchmark_weights : T × N (or N for one period)
        Beginning-of-period weights per segment; each row of both must have the same sum.
    portfolio_returns, benchmark_returns : T × N
        Each segment's local-currency return in the portfolio and in the benchmark.
    fx_returns : T × N, optional
        Return of each segment's quote currency in the base currency; zeros if omitted.
    segments : list of str, optional
        Segment names; default the DataFrame columns, else ``0 … N−1``.

    Returns
    -------
    AttributionResult
        Linked effects per segment whose grand total equals ``R − B`` of the compounded
        base-currency returns (to float rounding). NaN or infinite inputs raise RiskInputError.
    """
    wp = _as_matrix("portfolio_weights", portfolio_weights, None)
    shape = wp.shape
    wb = _as_matrix("benchmark_weights", benchmark_weights, shape)
    rp = _as_matrix("portfolio_returns", portfolio_returns, shape)
    rb = _as_matrix("benchmark_returns", benchmark_returns, shape)
    fx = np.zeros(shape) if fx_returns is None else _as_matrix("fx_returns", fx_returns, shape)
    gap = np.abs(wp.sum(axis=1) - wb.sum(axis=1))
    if (gap > 1e-9).any():
        period = int(np.argmax(gap))
        raise RiskInputError(
            f"period {period}: portfolio weights sum to {wp[period].sum()}, benchmark weights to "
            f"{wb[period].sum()}; add a cash segment so both sum to the same total"
        )
    if segments is None:
        columns = getattr(portfolio_weights, "columns", None)
        segments = (
            [str(c) for c in columns] if columns is not None else [str(i) for i in range(shape[1])]
        )
    if len(segments) != shape[1]:
        raise RiskInputError(f"segments: {len(segments)} names for {shape[1]} columns")

    rp_base = (1.0 + rp) * (1.0 + fx) - 1.0
    rb_base = (1.0 + rb) * (1.0 + fx) - 1.0
    benchmark_local = (wb * rb).sum(axis=1, keepdims=True)
    portfolio_period = (wp * rp_base).sum(axis=1)
    benchmark_period = (wb * rb_base).sum(axis=1)
    portfolio_total = float(np.prod(1.0 + portfolio_period) - 1.0)
    benchmark_total = float(np.prod(1.0 + benchmark_period) - 1.0)
    scale = (
        _carino(portfolio_period, benchmark_period) / _carino(portfolio_total, benchmark_total)
    )[:, None]

    relative_benchmark = rb - benchmark_local
    active_weight = wp - wb
    average_active = active_weight.mean(axis=0, keepdims=True)
    effects = {
        "allocation": scale * average_active * relative_benchmark,
        "timing": scale * (active_weight - average_active) * relative_benchmark,
        "selection": scale * wb * (rp - rb),
        "interaction": scale * (wp - wb) * (rp - rb),
        "currency": scale * (wp * (rp_base - rp) - wb * (rb_base - rb)),
    }
    table = pd.DataFrame({name: effects[name].sum(axis=0) for name in EFFECTS}, index=segments)
    table.index.name = "segment"
    return AttributionResult(table, portfolio_total, benchmark_total)


@dataclass(frozen=True)
class Benchmark:
    """A benchmark as per-period segment weights and segment returns (same index and columns)."""

    name: str
    weights: pd.DataFrame
    segment_returns: pd.DataFrame

    @property
    def returns(self) -> pd.Series:
        """The benchmark's return per period, ``Σ weight × segment return``."""
        return (self.weights * self.segment_returns).sum(axis=1)


def close_returns(candles: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Close-to-close simple returns of several candle frames on their common timestamps.

    Only open times present in every frame are kept (missing candles are never filled), so a
    return after a gap spans the gap for every asset alike. Columns are the mapping's keys.
    """
    if not candles:
        raise RiskInputError("candles: need at least one candle frame")
    closes = pd.concat(
        {asset: frame.set_index("ts")["close"] for asset, frame in candles.items()},
        axis=1,
        join="inner",
    )
    return closes.pct_change().iloc[1:]


def equal_weight_benchmark(returns: pd.DataFrame) -> Benchmark:
    """An index holding every column at 1/N, rebalanced to equal weights every period."""
    weights = pd.DataFrame(1.0 / returns.shape[1], index=returns.index, columns=returns.columns)
    return Benchmark("equal weight", weights, returns)


def buy_and_hold_benchmark(returns: pd.DataFrame, asset: str = "BTC") -> Benchmark:
    """All in `asset` for the whole period (its weight is 1 and every other column's 0)."""
    if asset not in returns.columns:
        raise RiskInputError(f"returns have no {asset!r} column for a buy-and-hold benchmark")
    weights = pd.DataFrame(0.0, index=returns.index, columns=returns.columns)
    weights[asset] = 1.0
    return Benchmark(f"{asset} buy and hold", weights, returns)
