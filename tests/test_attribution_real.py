"""Brinson-Fachler attribution of a real backtest: SMA-crossover sleeves on Binance BTC and ETH
hourly candles over 2024, against the daily equal-weight BTC/ETH index and BTC buy-and-hold.

The portfolio splits 10,000 USDT equally into two sleeves, each an SMA(24, 96) crossover
backtest (10 bp fee) of one asset, never rebalanced. The segments are the sleeves, named by
their asset: a sleeve's weight at the start of day d is its equity at the last bar of day d−1
over the two sleeves' total, and its return is its own equity's return over the day (cash it
holds while flat included). The benchmark holds the asset itself, so selection is what the
crossover timing added or cost inside each asset, and allocation/timing what the drifting
sleeve weights did. Portfolio and benchmark returns are recomputed here independently: the
portfolio from the summed equity curves, the benchmarks from the raw closes in the files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zvt_pipelines.backtest.contract import run_sma_cross
from zvt_pipelines.data.candles import read_candle_file, resample_candles, slice_candles
from zvt_pipelines.portfolio.attribution import (
    attribute,
    buy_and_hold_benchmark,
    close_returns,
    equal_weight_benchmark,
)

ASSETS = ("BTC", "ETH")
START, END = pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2025-01-01", tz="UTC")
SLEEVE_CASH = 5_000.0
TOLERANCE = 1e-12


def _day_end(series: pd.Series) -> pd.Series:
    """The value at the last bar of each UTC day, indexed by the day."""
    return series.groupby(series.index.floor("D")).last()


@pytest.fixture(scope="module")
def book(shared_data: Path) -> dict:
    """Backtests, daily sleeve equity, library benchmarks and raw daily closes of 2024."""
    frames = {
        asset: slice_candles(
            read_candle_file(shared_data / f"binance_{asset}-USDT_1h.csv.gz"), START, END
        )
        for asset in ASSETS
    }
    # the outages are exchange-wide: both files have the same hours, so the sleeves' days align
    pd.testing.assert_series_equal(frames["BTC"]["ts"], frames["ETH"]["ts"])
    results = {
        asset: run_sma_cross(frame, fast=24, slow=96, fee_bps=10, cash=SLEEVE_CASH)
        for asset, frame in frames.items()
    }
    equity = pd.DataFrame({asset: _day_end(results[asset].equity) for asset in ASSETS})
    daily = close_returns({a: resample_candles(f, "1d") for a, f in frames.items()})

    raw_closes = {}
    for asset in ASSETS:
        raw = pd.read_csv(shared_data / f"binance_{asset}-USDT_1h.csv.gz")
        ts = pd.to_datetime(raw["timestamp"], unit="ms", utc=True)
        close = pd.Series(raw["close"].to_numpy(), index=pd.DatetimeIndex(ts))
        raw_closes[asset] = _day_end(close[(close.index >= START) & (close.index < END)])
    return {
        "results": results,
        "equity": equity,
        "daily": daily,
        "raw_closes": pd.DataFrame(raw_closes),
    }


def _portfolio(equity: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Start-of-day sleeve weights and each sleeve's daily return (day 1 onwards)."""
    weights = equity.div(equity.sum(axis=1), axis=0).shift(1).iloc[1:]
    returns = (equity / equity.shift(1) - 1).iloc[1:]
    return weights, returns


def test_backtests_traded_and_days_line_up(book: dict) -> None:
    """366 UTC days in 2024 (a leap year): 365 daily periods after the first close."""
    for result in book["results"].values():
        assert result.n_trades > 5
    assert len(book["equity"]) == 366
    assert book["daily"].index.equals(book["equity"].index[1:])
    assert book["daily"].index.equals(book["raw_closes"].index[1:])


@pytest.mark.parametrize("benchmark_name", ["equal weight", "BTC buy and hold"])
def test_effects_sum_to_active_return_each_day_and_linked(book: dict, benchmark_name: str) -> None:
    """Per day: Σ effects = R_t − B_t with R_t = ΣE(d)/ΣE(d−1) − 1 from the equity curves and
    B_t from the raw closes (mean of the two assets' returns, or BTC's alone). Linked over the
    year: Σ effects = R − B with R = ΣE(last day)/ΣE(first day) − 1 and B compounded from
    the same raw closes (BTC buy-and-hold: last close / first close − 1)."""
    equity, daily = book["equity"], book["daily"]
    if benchmark_name == "equal weight":
        benchmark = equal_weight_benchmark(daily)
    else:
        benchmark = buy_and_hold_benchmark(daily, "BTC")
    wp, rp = _portfolio(equity)
    wb, rb = benchmark.weights, benchmark.segment_returns

    total = equity.sum(axis=1).to_numpy()
    closes = book["raw_closes"].to_numpy()
    asset_returns = closes[1:] / closes[:-1] - 1
    portfolio_daily = total[1:] / total[:-1] - 1
    if benchmark_name == "equal weight":
        benchmark_daily = asset_returns.mean(axis=1)
        benchmark_total = np.prod(1 + benchmark_daily) - 1
    else:
        benchmark_daily = asset_returns[:, 0]
        benchmark_total = closes[-1, 0] / closes[0, 0] - 1
    portfolio_total = total[-1] / total[0] - 1

    for day in range(len(wp)):
        one = attribute(wp.iloc[day], wb.iloc[day], rp.iloc[day], rb.iloc[day])
        active = portfolio_daily[day] - benchmark_daily[day]
        assert abs(one.effects.to_numpy().sum() - active) < TOLERANCE, wp.index[day]
        assert abs(one.portfolio_return - portfolio_daily[day]) < TOLERANCE
        assert abs(one.benchmark_return - benchmark_daily[day]) < TOLERANCE

    linked = attribute(wp, wb, rp, rb)
    assert abs(linked.portfolio_return - portfolio_total) < TOLERANCE
    assert abs(linked.benchmark_return - benchmark_total) < TOLERANCE
    assert abs(linked.effects.to_numpy().sum() - (portfolio_total - benchmark_total)) < TOLERANCE
    # the crossover's timing inside an asset the benchmark holds is not free: selection ≠ 0
    held = [asset for asset in ASSETS if (wb[asset] > 0).all()]
    assert (linked.effects.loc[held, "selection"].abs() > 1e-4).all()
    if benchmark_name == "BTC buy and hold":
        # the benchmark holds no ETH (wb = 0): ETH selection wb·(rp − rb) is 0 every period,
        # and BTC's allocation and timing vanish because rb_BTC − Rb = 0 every period
        assert linked.effects.loc["ETH", "selection"] == 0.0
        assert linked.effects.loc["BTC", ["allocation", "timing"]].tolist() == [0.0, 0.0]


def test_flat_sleeve_day_has_selection_of_minus_half_the_asset_return(book: dict) -> None:
    """On a day a sleeve held no units at any bar (and none at the previous day's close), its
    equity did not move: rp = 0, so against the equal-weight index its single-period selection
    is 0.5·(0 − rb) = −rb / 2, rb being the asset's close-to-close return from the raw file."""
    equity, daily = book["equity"], book["daily"]
    wp, rp = _portfolio(equity)
    benchmark = equal_weight_benchmark(daily)
    closes = book["raw_closes"]
    checked = 0
    for asset in ASSETS:
        units = book["results"][asset].position
        held_by_day = units.groupby(units.index.floor("D")).apply(lambda u: bool((u != 0).any()))
        held_at_close = _day_end(units) != 0
        flat = ~held_by_day & ~held_at_close.shift(1, fill_value=True)
        for day in flat[flat].index:
            if day == equity.index[0]:
                continue
            one = attribute(
                wp.loc[day],
                benchmark.weights.loc[day],
                rp.loc[day],
                daily.loc[day],
                segments=list(ASSETS),
            )
            asset_return = closes.loc[day, asset] / closes[asset].shift(1).loc[day] - 1
            assert rp.loc[day, asset] == 0.0
            assert one.effects.loc[asset, "selection"] == pytest.approx(
                -asset_return / 2, abs=1e-15
            )
            checked += 1
    assert checked > 20
