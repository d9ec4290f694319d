"""Backtest reports: PNG charts and one self-contained HTML page.

Charts are drawn on matplotlib `Figure` objects with the Agg canvas (no pyplot, no
global state, no display); matplotlib is imported only when a chart is drawn. Every
number shown comes from `zvt_pipelines.analytics.metrics` or the result itself.
"""

from __future__ import annotations

import base64
import html
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from zvt_pipelines.analytics import metrics
from zvt_pipelines.backtest.result import BacktestResult
from zvt_pipelines.errors import ConfigError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DEFAULT_WINDOW_DAYS = 30
TRADES_SHOWN = 20
CHART_NAMES = ("equity", "drawdown", "trade_pnl", "rolling")


def drawdown_curve(equity: pd.Series) -> pd.Series:
    """Drawdown of an equity curve at each point: ``equity / cummax(equity) - 1``.

    Computed by `metrics.drawdown_series` over the curve's period returns (the first
    point has return 0, so wealth starts at the first equity value). Always <= 0.
    """
    values = equity.to_numpy(dtype="float64")
    returns = np.concatenate(([0.0], values[1:] / values[:-1] - 1.0))
    return pd.Series(metrics.drawdown_series(returns), index=equity.index, name="drawdown")


def rolling_sharpe(daily_returns: pd.Series, window_days: int, annualization: float) -> pd.Series:
    """Annualised Sharpe ratio of each trailing window of `window_days` daily returns.

    Parameters
    ----------
    daily_returns : daily simple returns indexed by day
    window_days : number of daily returns per window (>= 2); earlier days are NaN
    annualization : periods per year (365 for crypto)
    """
    _check_window(window_days)
    return daily_returns.rolling(window_days).apply(
        lambda r: metrics.sharpe_ratio(r, annualization=annualization), raw=True
    )


def rolling_volatility(
    daily_returns: pd.Series, window_days: int, annualization: float
) -> pd.Series:
    """Annualised volatility (``std(ddof=1) * sqrt(annualization)``) of each trailing window.

    Same windows as `rolling_sharpe`; the first ``window_days - 1`` days are NaN.
    """
    _check_window(window_days)
    return daily_returns.rolling(window_days).apply(
        lambda r: metrics.annual_volatility(r, annualization), raw=True
    )


def _check_window(window_days: int) -> None:
    if isinstance(window_days, bool) or not isinstance(window_days, int) or window_days < 2:
        raise ConfigError(f"window_days {window_days!r}: expected a whole number of days >= 2")


def _figure(title: str) -> tuple[Figure, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 3.6), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    return figure, axes


def equity_figure(result: BacktestResult) -> Figure:
    """The equity curve at every bar close."""
    figure, axes = _figure("Equity")
    axes.plot(result.equity.index, result.equity.to_numpy(), color="tab:blue", linewidth=1.0)
    axes.set_ylabel("equity")
    figure.autofmt_xdate()
    return figure


def drawdown_figure(result: BacktestResult) -> Figure:
    """The underwater curve: `drawdown_curve` of the equity (first line of the axes)."""
    figure, axes = _figure("Drawdown (underwater)")
    drawdown = drawdown_curve(result.equity)
    axes.plot(drawdown.index, drawdown.to_numpy(), color="tab:red", linewidth=1.0)
    axes.fill_between(drawdown.index, drawdown.to_numpy(), 0.0, color="tab:red", alpha=0.25)
    axes.set_ylabel("drawdown")
    figure.autofmt_xdate()
    return figure


def trade_pnl_figure(result: BacktestResult) -> Figure:
    """Histogram of the PnL of closed trades (an empty frame says so)."""
    figure, axes = _figure("Trade PnL (closed trades)")
    pnl = result.trades.loc[~result.trades["is_open"], "pnl"].to_numpy(dtype="float64")
    if pnl.size:
        axes.hist(pnl, bins=min(50, max(5, pnl.size // 2)), color="tab:gray", edgecolor="black")
        axes.axvline(0.0, color="black", linewidth=0.8)
    else:
        axes.text(0.5, 0.5, "no closed trades", ha="center", va="center")
    axes.set_xlabel("pnl")
    return figure


def rolling_figure(result: BacktestResult, window_days: int, annualization: float) -> Figure:
    """Rolling Sharpe (left axis, first line) and rolling volatility (right axis)."""
    figure, axes = _figure(f"Rolling {window_days}-day Sharpe and volatility")
    sharpe = rolling_sharpe(result.daily_returns, window_days, annualization)
    volatility = rolling_volatility(result.daily_returns, window_days, annualization)
    axes.plot(sharpe.index, sharpe.to_numpy(), color="tab:green", linewidth=1.0, label="Sharpe")
    axes.set_ylabel("Sharpe")
    right = axes.twinx()
    right.plot(
        volatility.index, volatility.to_numpy(), color="tab:orange", linewidth=1.0, label="vol"
    )
    right.set_ylabel("volatility")
    figure.legend(loc="upper left")
    figure.autofmt_xdate()
    return figure


def figure_png(figure: Figure) -> bytes:
    """The figure rendered as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def report_charts(
    result: BacktestResult,
    window_days: int = DEFAULT_WINDOW_DAYS,
    annualization: float = metrics.DAYS_PER_YEAR,
) -> dict[str, bytes]:
    """PNG bytes of every chart, keyed by `CHART_NAMES`."""
    figures = {
        "equity": equity_figure(result),
        "drawdown": drawdown_figure(result),
        "trade_pnl": trade_pnl_figure(result),
        "rolling": rolling_figure(result, window_days, annualization),
    }
    return {name: figure_png(figure) for name, figure in figures.items()}


def format_value(value: Any) -> str:
    """A table cell: floats to 6 significant digits, NaN/inf spelled out."""
    if isinstance(value, float | np.floating):
        return f"{value:.6g}" if math.isfinite(value) else str(float(value))
    return str(value)


def _table(rows: list[tuple[str, Any]], css_class: str) -> str:
    cells = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(format_value(v))}</td></tr>"
        for k, v in rows
    )
    return f'<table class="{css_class}">{cells}</table>'


def render_html(
    result: BacktestResult,
    charts: dict[str, bytes],
    *,
    title: str,
    params: dict[str, Any] | None = None,
) -> str:
    """One self-contained HTML page: summary, metrics, parameters, charts, trade list head.

    Charts are inlined as base64 PNG data URIs, so the file opens anywhere offline.
    """
    summary = [
        ("final_equity", result.final_equity),
        ("trades", result.n_trades),
        ("fees_paid", result.fees_paid),
        ("start", result.equity.index[0].isoformat()),
        ("end", result.equity.index[-1].isoformat()),
        ("bars", len(result.equity)),
    ]
    images = "".join(
        f'<figure><img alt="{html.escape(name)}" '
        f'src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}"/></figure>'
        for name, png in charts.items()
    )
    trades = result.trades.head(TRADES_SHOWN).to_html(index=False, float_format="{:.6g}".format)
    parameter_rows = sorted((params or {}).items())
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"/>'
        f"<title>{html.escape(title)}</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
        "th,td{border:1px solid #ccc;padding:2px 8px;text-align:right}img{max-width:100%}"
        "</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<h2>Summary</h2>{_table(summary, 'summary')}"
        f"<h2>Metrics</h2>{_table(list(result.metrics.items()), 'metrics')}"
        f"<h2>Parameters</h2>{_table(parameter_rows, 'params')}"
        f"<h2>Charts</h2>{images}"
        f"<h2>Trades (first {TRADES_SHOWN} of {len(result.trades)})</h2>{trades}"
        "</body></html>\n"
    )


@dataclass(frozen=True)
class ReportFiles:
    """Paths of a written report: one PNG per chart and the HTML page."""

    charts: dict[str, Path]
    html: Path


def write_report(
    result: BacktestResult,
    folder: str | Path,
    *,
    title: str = "Backtest report",
    params: dict[str, Any] | None = None,
    window_days: int = DEFAULT_WINDOW_DAYS,
    annualization: float = metrics.DAYS_PER_YEAR,
) -> ReportFiles:
    """Write `<name>.png` for every chart and `report.html` into `folder` (created)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    charts = report_charts(result, window_days, annualization)
    paths = {}
    for name, png in charts.items():
        paths[name] = folder / f"{name}.png"
        paths[name].write_bytes(png)
    page = folder / "report.html"
    page.write_text(render_html(result, charts, title=title, params=params), encoding="utf-8")
    return ReportFiles(charts=paths, html=page)
