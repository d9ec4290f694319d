"""What a backtest returns: equity curve, fills, round-trip trades and metrics."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from zvt_pipelines.analytics import metrics

TRADE_COLUMNS = (
    "entry_time",
    "exit_time",
    "entry_price",
    "exit_price",
    "size",
    "fees",
    "pnl",
    "is_open",
)


@dataclass(frozen=True)
class BacktestResult:
    """The outcome of one backtest run (floats in the quote currency).

    Attributes
    ----------
    equity : account value at each bar's close, indexed by the bar's open time
    position : units held after each bar's fill, same index
    fills : one row per fill: time, units (signed), price, fee, position (units after)
        and slippage_cost (see `build_result`); a volume cap or a resting limit order
        can split one target into several fills, at most one per bar
    trades : round trips from flat to flat (see `round_trips`); an open one last
    final_equity : equity at the last close (an open position marked, not sold)
    fees_paid : sum of all fill fees (a maker rebate counts negative)
    slippage_cost : sum of the fills' slippage_cost (slippage, half spread and impact)
    n_trades : number of entries (fills that open a position from flat)
    daily_returns : daily simple returns of the equity (see `daily_returns_from_equity`)
    metrics : flat dict of floats (NaN where undefined), see `performance_metrics`
    """

    equity: pd.Series
    position: pd.Series
    fills: pd.DataFrame
    trades: pd.DataFrame
    final_equity: float
    fees_paid: float
    slippage_cost: float
    n_trades: int
    daily_returns: pd.Series
    metrics: dict[str, float] = field(default_factory=dict)


def round_trips(fills: pd.DataFrame, last_close: float) -> pd.DataFrame:
    """Group fills into trades that run from a flat position back to flat.

    Entry (exit) price is the unit-weighted mean buy (sell) price, size the units
    bought, fees the fees of all the trade's fills, and pnl
    ``sell proceeds - buy cost - fees``. A trade still open at the end has no exit
    time; its remaining units are marked at `last_close` (no exit fee), which enters
    its exit price and pnl.
    """
    rows = []
    bought = cost = sold = proceeds = fees = 0.0
    entry_time = None
    columns = ["time", "units", "price", "fee", "position"]
    for time, units, price, fee, position in fills[columns].itertuples(index=False):
        if entry_time is None:
            entry_time = time
        if units > 0:
            bought += units
            cost += units * price
        else:
            sold -= units
            proceeds -= units * price
        fees += fee
        if position == 0.0:
            pnl = proceeds - cost - fees
            rows.append(
                (entry_time, time, cost / bought, proceeds / sold, bought, fees, pnl, False)
            )
            bought = cost = sold = proceeds = fees = 0.0
            entry_time = None
    if entry_time is not None:
        held = float(fills["position"].iloc[-1])
        value = proceeds + held * last_close
        exit_price = value / (sold + held)
        rows.append(
            (entry_time, pd.NaT, cost / bought, exit_price, bought, fees, value - cost - fees, True)
        )
    trades = pd.DataFrame(rows, columns=list(TRADE_COLUMNS))
    trades["exit_time"] = pd.to_datetime(trades["exit_time"], utc=True)
    trades["entry_time"] = pd.to_datetime(trades["entry_time"], utc=True)
    return trades


def performance_metrics(
    daily_returns: pd.Series,
    trades: pd.DataFrame,
    equity: pd.Series,
    position: pd.Series,
    fills: pd.DataFrame,
    annualization: float,
) -> dict[str, float]:
    """The standard metric set of a backtest, all from `zvt_pipelines.analytics.metrics`.

    Returns-based metrics use the daily returns; the `bar_` drawdown figures use the
    bar-level equity curve (peak to trough, and how long until it was regained);
    trade statistics use closed trades
    only; exposure is the share of bars holding a position; turnover is traded notional
    over mean equity; slippage_cost is the fills' total price cost in quote currency.
    """
    closed = trades.loc[~trades["is_open"], "pnl"].to_numpy(dtype="float64")
    stats = metrics.trade_statistics(closed)
    notional = (fills["units"].abs() * fills["price"]).to_numpy(dtype="float64")
    worst = metrics.drawdown_episode(equity)
    day = pd.Timedelta(days=1)
    return {
        "total_return": metrics.total_return(daily_returns),
        "cagr": metrics.cagr(daily_returns, annualization),
        "annual_volatility": metrics.annual_volatility(daily_returns, annualization),
        "sharpe": metrics.sharpe_ratio(daily_returns, annualization=annualization),
        "sortino": metrics.sortino_ratio(daily_returns, annualization=annualization),
        "max_drawdown": metrics.max_drawdown(daily_returns),
        "bar_max_drawdown": worst.max_drawdown,
        "bar_drawdown_duration_days": worst.duration / day,
        "bar_drawdown_recovery_days": (
            worst.recovery_time / day if worst.recovery_time is not None else float("nan")
        ),
        "calmar": metrics.calmar_ratio(daily_returns, annualization),
        "var_95": metrics.value_at_risk(daily_returns, 0.05),
        "cvar_95": metrics.conditional_value_at_risk(daily_returns, 0.05),
        "var_99": metrics.value_at_risk(daily_returns, 0.01),
        "cvar_99": metrics.conditional_value_at_risk(daily_returns, 0.01),
        "win_rate": stats.win_rate,
        "average_win": stats.average_win,
        "average_loss": stats.average_loss,
        "profit_factor": stats.profit_factor,
        "exposure": metrics.exposure(position.to_numpy(dtype="float64")),
        "turnover": metrics.turnover(notional, equity.to_numpy(dtype="float64")),
        "slippage_cost": float(fills["slippage_cost"].sum()),
    }


def json_float(value: float) -> float | None:
    """A float that JSON can carry: NaN and ±inf become None."""
    return float(value) if math.isfinite(value) else None


def build_result(
    ts: pd.Series,
    last_close: float,
    kernel_output: tuple,
    fill_base: np.ndarray,
    initial_cash: float,
    annualization: float,
) -> BacktestResult:
    """Wrap the fill loop's arrays (see `kernels.simulate_nb`) into a `BacktestResult`.

    `fill_base` is each bar's price before costs; a fill's slippage_cost is
    ``units * (price - base)``, what the fill lost to slippage and impact (>= 0 both
    ways: a buy pays above base, a sell receives below it).
    """
    equity_values, units_held, fill_bar, fill_units, fill_price, fill_fee, n_fills = kernel_output
    index = pd.DatetimeIndex(ts, name="ts")
    equity = pd.Series(equity_values, index=index, name="equity")
    position = pd.Series(units_held, index=index, name="units")
    bars = fill_bar[:n_fills]
    fills = pd.DataFrame(
        {
            "time": index[bars],
            "units": fill_units[:n_fills],
            "price": fill_price[:n_fills],
            "fee": fill_fee[:n_fills],
            "position": units_held[bars],
            "slippage_cost": fill_units[:n_fills] * (fill_price[:n_fills] - fill_base[bars]),
        }
    )
    opens_position = (fill_units[:n_fills] > 0) & (units_held[np.maximum(bars - 1, 0)] == 0)
    trades = round_trips(fills, last_close)
    daily = metrics.daily_returns_from_equity(equity, initial=initial_cash)
    return BacktestResult(
        equity=equity,
        position=position,
        fills=fills,
        trades=trades,
        final_equity=float(equity_values[-1]),
        fees_paid=float(fill_fee[:n_fills].sum()),
        slippage_cost=float(fills["slippage_cost"].sum()),
        n_trades=int(opens_position.sum()),
        daily_returns=daily,
        metrics=performance_metrics(daily, trades, equity, position, fills, annualization),
    )
