"""Backtest report: valid PNG and HTML files whose numbers equal independent computations."""

from __future__ import annotations

import math
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from zvt_pipelines.backtest import run_sma_cross
from zvt_pipelines.backtest.report import (
    CHART_NAMES,
    drawdown_figure,
    rolling_figure,
    rolling_sharpe,
    rolling_volatility,
    write_report,
)
from zvt_pipelines.errors import ConfigError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def result():
    rng = np.random.default_rng(11)
    n = 24 * 120
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    open_ = np.concatenate(([100.0], close[:-1]))
    ts = pd.date_range("2024-03-01", periods=n, freq="1h", tz="UTC").astype("datetime64[ms, UTC]")
    frame = pd.DataFrame(
        {"ts": ts, "open": open_, "high": np.maximum(open_, close), "low": np.minimum(open_, close)}
    )
    frame["close"], frame["volume"] = close, 1.0
    return run_sma_cross(frame, 12, 48, 10.0, 10_000.0)


class TableReader(HTMLParser):
    """Collects (th, td) rows of the table with class `wanted`."""

    def __init__(self, wanted: str) -> None:
        super().__init__()
        self.wanted, self.inside, self.cell, self.rows, self.row = wanted, False, None, [], []

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.inside = dict(attrs).get("class") == self.wanted
        elif self.inside and tag in ("th", "td"):
            self.cell = ""

    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False
        elif self.inside and tag in ("th", "td"):
            self.row.append(self.cell)
            self.cell = None
        elif self.inside and tag == "tr":
            self.rows.append(tuple(self.row))
            self.row = []

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def test_files_are_png_and_self_contained_html(result, tmp_path):
    files = write_report(result, tmp_path / "out", title="SMA 12/48", params={"fast": 12})
    assert set(files.charts) == set(CHART_NAMES)
    for path in files.charts.values():
        data = path.read_bytes()
        assert data[:8] == PNG_SIGNATURE and len(data) > 5_000
    page = files.html.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert page.count('src="data:image/png;base64,') == len(CHART_NAMES)
    assert "http://" not in page and "https://" not in page
    assert "<h1>SMA 12/48</h1>" in page


def test_metrics_table_shows_the_results_values(result, tmp_path):
    page = write_report(result, tmp_path).html.read_text()
    reader = TableReader("metrics")
    reader.feed(page)
    shown = dict(reader.rows)
    assert set(shown) == set(result.metrics)
    for name, value in result.metrics.items():
        if math.isnan(value):
            assert shown[name] == "nan"
        else:
            assert float(shown[name]) == pytest.approx(value, rel=1e-5), name
    trades = TableReader("dataframe")
    trades.feed(page)
    assert len(trades.rows) == min(20, len(result.trades)) + 1  # header row + head of trades


def test_plotted_drawdown_is_equity_over_running_max_minus_one(result):
    equity = result.equity.to_numpy()
    expected = equity / np.maximum.accumulate(equity) - 1.0
    line = drawdown_figure(result).axes[0].lines[0]
    np.testing.assert_allclose(line.get_ydata(), expected, rtol=0, atol=1e-12)
    assert expected.min() < -0.01


def test_rolling_sharpe_and_volatility_match_pandas(result):
    """Sharpe = mean / std(ddof=1) * sqrt(365) and vol = std(ddof=1) * sqrt(365) per 30 days."""
    daily = result.daily_returns
    window = daily.rolling(30)
    np.testing.assert_allclose(
        rolling_sharpe(daily, 30, 365).to_numpy(),
        (window.mean() / window.std() * np.sqrt(365)).to_numpy(),
        rtol=1e-9,
    )
    np.testing.assert_allclose(
        rolling_volatility(daily, 30, 365).to_numpy(),
        (window.std() * np.sqrt(365)).to_numpy(),
        rtol=1e-9,
    )
    plotted = rolling_figure(result, 30, 365).axes[0].lines[0].get_ydata()
    np.testing.assert_allclose(plotted, rolling_sharpe(daily, 30, 365).to_numpy(), rtol=1e-12)


def test_bad_window_is_rejected(result):
    with pytest.raises(ConfigError, match="window_days 1"):
        rolling_sharpe(result.daily_returns, 1, 365)
