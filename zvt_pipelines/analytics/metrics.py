"""Performance metrics over simple returns, equity curves and trade lists.

The one implementation of the project's metrics, shared by backtests and portfolio
analytics. Returns-based formulas follow empyrical-reloaded's definitions (tested to
agree within 1e-9); the default annualisation is 365 periods a year because crypto
markets trade every day, and every function takes an explicit `annualization` override.

Inputs may be a pandas Series or a 1-d array-like of simple (not log) returns, e.g.
``0.01`` for +1 %. Unless a docstring says otherwise, NaN returns are skipped (treated
as missing observations), which is also empyrical's behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from zvt_pipelines.errors import DataError

DAYS_PER_YEAR = 365

ReturnsLike = pd.Series | np.ndarray | list[float]


def _returns_array(returns: ReturnsLike) -> np.ndarray:
    values = np.asarray(returns, dtype="float64")
    if values.ndim != 1:
        raise DataError(f"returns: expected one dimension, got shape {values.shape}")
    return values


def _present(returns: ReturnsLike) -> np.ndarray:
    values = _returns_array(returns)
    return values[~np.isnan(values)]


def total_return(returns: ReturnsLike) -> float:
    """Compounded return over the whole period: ``prod(1 + r) - 1``.

    NaN returns count as 0 (no change). Empty input gives NaN.
    """
    values = _present(returns)
    if _returns_array(returns).size == 0:
        return float("nan")
    return float(np.prod(1.0 + values) - 1.0)


def cagr(returns: ReturnsLike, annualization: float = DAYS_PER_YEAR) -> float:
    """Compound annual growth rate: ``prod(1 + r) ** (annualization / n) - 1``.

    ``n`` counts every period, NaN ones included (as empyrical does), because a
    missing return still took up calendar time. Empty input gives NaN.
    """
    values = _returns_array(returns)
    if values.size == 0:
        return float("nan")
    growth = np.prod(1.0 + values[~np.isnan(values)])
    with np.errstate(over="ignore"):  # a float64 power overflows to inf, as empyrical's does
        return float(growth ** (annualization / values.size) - 1.0)


def annual_volatility(returns: ReturnsLike, annualization: float = DAYS_PER_YEAR) -> float:
    """Annualised volatility: ``std(r, ddof=1) * sqrt(annualization)``.

    NaN returns are skipped; fewer than two present returns give NaN.
    """
    values = _present(returns)
    if values.size < 2:
        return float("nan")
    return float(np.std(values, ddof=1) * np.sqrt(annualization))


def _dispersion(values: np.ndarray) -> float:
    # Identical values have an exact sample deviation of 0; the float mean may leave ~1e-18.
    if values.max() == values.min():
        return 0.0
    return float(np.std(values, ddof=1))


def sharpe_ratio(
    returns: ReturnsLike, risk_free: float = 0.0, annualization: float = DAYS_PER_YEAR
) -> float:
    """Annualised Sharpe ratio: ``mean(r - rf) / std(r - rf, ddof=1) * sqrt(annualization)``.

    ``risk_free`` is the constant per-period risk-free return. NaN returns are skipped;
    fewer than two present returns give NaN; zero dispersion gives ±inf (NaN if the mean
    excess return is also 0).
    """
    values = _present(returns) - risk_free
    if values.size < 2:
        return float("nan")
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(values.mean()) / _dispersion(values) * np.sqrt(annualization))


def downside_risk(
    returns: ReturnsLike, required_return: float = 0.0, annualization: float = DAYS_PER_YEAR
) -> float:
    """Annualised downside deviation: ``sqrt(mean(min(r - req, 0)^2)) * sqrt(annualization)``.

    The mean runs over all present periods (not only the losing ones). NaN returns are
    skipped; empty input gives NaN.
    """
    values = _present(returns)
    if values.size == 0:
        return float("nan")
    shortfall = np.minimum(values - required_return, 0.0)
    return float(np.sqrt(np.mean(shortfall**2)) * np.sqrt(annualization))


def sortino_ratio(
    returns: ReturnsLike, required_return: float = 0.0, annualization: float = DAYS_PER_YEAR
) -> float:
    """Annualised Sortino ratio: ``mean(r - req) * annualization / downside_risk(r, req)``.

    NaN returns are skipped; fewer than two present returns give NaN; no period below
    ``required_return`` gives +inf (NaN if the mean excess is 0).
    """
    values = _present(returns)
    if values.size < 2:
        return float("nan")
    numerator = np.float64(np.mean(values - required_return) * annualization)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(numerator / downside_risk(values, required_return, annualization))


def drawdown_series(returns: ReturnsLike) -> np.ndarray:
    """Drawdown after each period: ``wealth / running_max(wealth) - 1`` (always ≤ 0).

    Wealth starts at 1 before the first period, so a first-period loss is a drawdown.
    NaN returns count as 0.
    """
    values = np.nan_to_num(_returns_array(returns), nan=0.0)
    wealth = np.concatenate(([1.0], np.cumprod(1.0 + values)))
    peak = np.maximum.accumulate(wealth)
    return (wealth / peak - 1.0)[1:]


def max_drawdown(returns: ReturnsLike) -> float:
    """Largest peak-to-trough fall of compounded wealth, as a fraction (≤ 0).

    ``min(drawdown_series(r))``; NaN returns count as 0; empty input gives NaN.
    """
    if _returns_array(returns).size == 0:
        return float("nan")
    return float(min(drawdown_series(returns).min(), 0.0))


def calmar_ratio(returns: ReturnsLike, annualization: float = DAYS_PER_YEAR) -> float:
    """Calmar ratio: ``cagr(r) / abs(max_drawdown(r))``.

    NaN when there is no drawdown or the ratio is infinite (empyrical's convention).
    """
    worst = max_drawdown(returns)
    if not worst < 0:
        return float("nan")
    ratio = cagr(returns, annualization) / abs(worst)
    return float("nan") if np.isinf(ratio) else float(ratio)


def value_at_risk(returns: ReturnsLike, cutoff: float = 0.05) -> float:
    """Historical VaR: the ``cutoff`` percentile of the returns (linear interpolation).

    A negative number is a loss (e.g. -0.04 = 4 % loss at 95 % confidence for cutoff
    0.05). NaN returns are skipped; empty input gives NaN.
    """
    values = _present(returns)
    if values.size == 0:
        return float("nan")
    return float(np.percentile(values, 100.0 * cutoff))


def conditional_value_at_risk(returns: ReturnsLike, cutoff: float = 0.05) -> float:
    """Historical CVaR (expected shortfall): the mean of the worst returns.

    The tail is the ``k + 1`` lowest returns with ``k = int((n - 1) * cutoff)``,
    empyrical's convention. NaN returns are skipped before ``n`` is counted; empty
    input gives NaN.
    """
    values = _present(returns)
    if values.size == 0:
        return float("nan")
    tail = int((values.size - 1) * cutoff)
    return float(np.mean(np.partition(values, tail)[: tail + 1]))


@dataclass(frozen=True)
class DrawdownEpisode:
    """The worst drawdown of an equity curve and how long it lasted.

    `recovery` is the first time the equity is back at the peak after the trough
    (None if it never was); `duration` runs from peak to recovery (or to the last point
    when not recovered) and `recovery_time` from trough to recovery (None if open).
    """

    max_drawdown: float
    peak: pd.Timestamp
    trough: pd.Timestamp
    recovery: pd.Timestamp | None
    duration: pd.Timedelta
    recovery_time: pd.Timedelta | None


def drawdown_episode(equity: pd.Series) -> DrawdownEpisode:
    """The maximum drawdown of an equity curve, with its peak, trough and recovery times.

    Parameters
    ----------
    equity : pd.Series
        Positive account values indexed by time, sorted. NaN values are dropped.

    Returns
    -------
    DrawdownEpisode
        ``max_drawdown = min(equity / cummax(equity) - 1)`` (0 for a curve that never
        falls, with peak = trough = the first point).
    """
    values = equity.dropna()
    if values.empty:
        raise DataError("equity curve: no values")
    array = values.to_numpy(dtype="float64")
    peaks = np.maximum.accumulate(array)
    drawdowns = array / peaks - 1.0
    trough_at = int(np.argmin(drawdowns))
    peak_at = int(np.argmax(array[: trough_at + 1]))
    index = values.index
    if drawdowns[trough_at] == 0.0:
        recovery = index[peak_at]
    else:
        back = np.nonzero(array[trough_at + 1 :] >= array[peak_at])[0]
        recovery = index[trough_at + 1 + int(back[0])] if back.size else None
    end = recovery if recovery is not None else index[-1]
    return DrawdownEpisode(
        max_drawdown=float(drawdowns[trough_at]),
        peak=index[peak_at],
        trough=index[trough_at],
        recovery=recovery,
        duration=end - index[peak_at],
        recovery_time=None if recovery is None else recovery - index[trough_at],
    )


def daily_returns_from_equity(equity: pd.Series, initial: float | None = None) -> pd.Series:
    """Daily simple returns of an equity curve indexed by UTC timestamps.

    Each UTC day's value is the equity at its last bar; a day with no bar carries the
    previous day's value (return 0). With ``initial`` (the equity before the first bar)
    the first day's return is ``value_0 / initial - 1``; without it the first day only
    anchors the series and the result starts on the second day.

    NaN equity values are dropped before the daily values are taken.
    """
    if not isinstance(equity.index, pd.DatetimeIndex) or equity.index.tz is None:
        raise DataError("equity curve: expected a Series indexed by timezone-aware timestamps")
    values = equity.dropna()
    if values.empty:
        return pd.Series(dtype="float64", index=pd.DatetimeIndex([], tz="UTC"))
    values = values.tz_convert("UTC")
    daily = values.groupby(values.index.floor("D")).last()
    days = pd.date_range(daily.index[0], daily.index[-1], freq="D")
    daily = daily.reindex(days).ffill()
    previous = daily.shift(1)
    if initial is not None:
        previous.iloc[0] = initial
    return (daily / previous - 1.0).dropna()


@dataclass(frozen=True)
class TradeStatistics:
    """Summary of closed trades' profit and loss (in quote currency).

    `win_rate` = wins / trades; `average_win` / `average_loss` the mean P&L of winning
    (> 0) and losing (< 0) trades (NaN when there are none; the loss is negative);
    `profit_factor` = gross profit / |gross loss| (inf with profits and no loss).
    """

    trades: int
    wins: int
    losses: int
    win_rate: float
    average_win: float
    average_loss: float
    profit_factor: float


def trade_statistics(pnl: ReturnsLike) -> TradeStatistics:
    """Win rate, average win and loss and profit factor of a list of trade P&Ls.

    NaN P&Ls (trades still open) are skipped. With no trades every ratio is NaN.
    """
    values = _present(pnl)
    won = values[values > 0]
    lost = values[values < 0]
    gross_profit, gross_loss = float(won.sum()), float(-lost.sum())
    if gross_loss > 0:
        factor = gross_profit / gross_loss
    else:
        factor = float("inf") if gross_profit > 0 else float("nan")
    return TradeStatistics(
        trades=int(values.size),
        wins=int(won.size),
        losses=int(lost.size),
        win_rate=float(won.size / values.size) if values.size else float("nan"),
        average_win=float(won.mean()) if won.size else float("nan"),
        average_loss=float(lost.mean()) if lost.size else float("nan"),
        profit_factor=factor,
    )


def exposure(position: ReturnsLike) -> float:
    """Fraction of periods with an open position: ``mean(position != 0)``.

    ``position`` is units, notional or a fraction per period; NaN counts as flat.
    Empty input gives NaN.
    """
    values = _returns_array(position)
    if values.size == 0:
        return float("nan")
    return float(np.mean(np.nan_to_num(values, nan=0.0) != 0.0))


def turnover(traded_notional: ReturnsLike, equity: ReturnsLike) -> float:
    """Total traded notional over the mean equity: ``sum(|notional|) / mean(equity)``.

    A buy-and-hold round trip is about 2. NaN entries are skipped in both sums.
    """
    notional = _present(traded_notional)
    values = _present(equity)
    if values.size == 0:
        return float("nan")
    return float(np.abs(notional).sum() / values.mean())
