"""Attribution: a hand-worked two-asset period, timing by hand, exact multi-period linking,
and the two benchmarks built from real candles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zvt_pipelines.data.candles import read_candle_file, slice_candles
from zvt_pipelines.errors import RiskInputError
from zvt_pipelines.portfolio.attribution import (
    EFFECTS,
    attribute,
    buy_and_hold_benchmark,
    close_returns,
    equal_weight_benchmark,
)

WP, WB = [0.6, 0.4], [0.5, 0.5]
RP, RB = [0.10, 0.02], [0.08, 0.04]


def test_two_assets_one_period_by_hand() -> None:
    """wp = (0.6, 0.4), wb = (0.5, 0.5), rp = (10 %, 2 %), rb = (8 %, 4 %).

    Rp = 0.06 + 0.008 = 0.068; Rb = 0.04 + 0.02 = 0.06; active 0.008.
    Allocation  (wp − wb)(rb − Rb): A1 = 0.1·0.02 = 0.002,   A2 = −0.1·−0.02 = 0.002.
    Selection   wb(rp − rb):        S1 = 0.5·0.02 = 0.01,    S2 = 0.5·−0.02 = −0.01.
    Interaction (wp − wb)(rp − rb): I1 = 0.1·0.02 = 0.002,   I2 = −0.1·−0.02 = 0.002.
    Total 0.004 + 0 + 0.004 = 0.008. One period: no timing, and no fx means no currency effect.
    """
    result = attribute(WP, WB, RP, RB, segments=["BTC", "ETH"])
    expected = pd.DataFrame(
        {
            "allocation": [0.002, 0.002],
            "timing": [0.0, 0.0],
            "selection": [0.01, -0.01],
            "interaction": [0.002, 0.002],
            "currency": [0.0, 0.0],
        },
        index=pd.Index(["BTC", "ETH"], name="segment"),
    )
    pd.testing.assert_frame_equal(result.effects, expected, atol=1e-15, rtol=0)
    assert result.portfolio_return == pytest.approx(0.068, abs=1e-15)
    assert result.benchmark_return == pytest.approx(0.06, abs=1e-15)
    assert result.effects.to_numpy().sum() == pytest.approx(0.008, abs=1e-15)


def test_currency_effect_by_hand() -> None:
    """As above, but ETH's quote currency (USDT) loses 1 % against USD during the period.

    Base-currency returns: rp* = (0.10, 1.02·0.99 − 1 = 0.0098), rb* = (0.08, 1.04·0.99 − 1 = 0.0296).
    Currency C2 = 0.4·(0.0098 − 0.02) − 0.5·(0.0296 − 0.04) = −0.00408 + 0.0052 = 0.00112, C1 = 0.
    R* = 0.06 + 0.4·0.0098 = 0.06392; B* = 0.04 + 0.5·0.0296 = 0.0548; active 0.00912
    = 0.008 (local Brinson effects, unchanged) + 0.00112.
    """
    result = attribute(WP, WB, RP, RB, fx_returns=[0.0, -0.01], segments=["BTC", "ETH"])
    assert result.effects["currency"].to_list() == pytest.approx([0.0, 0.00112], abs=1e-15)
    assert result.totals[["allocation", "selection", "interaction"]].sum() == pytest.approx(0.008)
    assert result.portfolio_return == pytest.approx(0.06392, abs=1e-15)
    assert result.benchmark_return == pytest.approx(0.0548, abs=1e-15)
    assert result.effects.to_numpy().sum() == pytest.approx(0.00912, abs=1e-15)


def test_timing_by_hand() -> None:
    """Benchmark 50/50 both periods; the portfolio holds 80/20 then 20/80 and the assets return
    (10 %, 0) then (0, 10 %), same in portfolio and benchmark (no selection).

    Rb_t = 0.05 and Rp_t = 0.08 in both periods. Active weights (0.3, −0.3) then (−0.3, 0.3)
    average to 0, so the static allocation is 0. Unscaled timing per asset and period: (±0.3)·(±0.05) = 0.015, i.e.
    0.03 per asset over both periods.
    Carino: k_t = ln(1.08/1.05)/0.03 both periods; R = 1.08² − 1 = 0.1664, B = 1.05² − 1 = 0.1025,
    K = 2·ln(1.08/1.05)/0.0639, so k_t/K = 0.0639/0.06 = 1.065 and timing = 1.065·0.03 = 0.03195
    per asset, 0.0639 = R − B in all.
    """
    wp = [[0.8, 0.2], [0.2, 0.8]]
    wb = [[0.5, 0.5], [0.5, 0.5]]
    returns = [[0.10, 0.0], [0.0, 0.10]]
    result = attribute(wp, wb, returns, returns)
    assert result.effects["timing"].to_list() == pytest.approx([0.03195, 0.03195], abs=1e-14)
    assert result.effects["allocation"].to_list() == pytest.approx([0.0, 0.0], abs=1e-15)
    assert result.active_return == pytest.approx(0.0639, abs=1e-14)


def test_multi_period_effects_sum_exactly_to_active_return() -> None:
    """60 periods, 4 segments, random weights, local returns and fx. The reference is
    computed here independently: R = Π(1 + Σ wp·(1+rp)(1+fx) − 1) − 1, likewise B."""
    rng = np.random.default_rng(2024)
    periods, segments = 60, 4
    wp = rng.dirichlet(np.ones(segments), size=periods)
    wb = rng.dirichlet(np.ones(segments), size=periods)
    rp = rng.normal(0.002, 0.04, size=(periods, segments))
    rb = rp + rng.normal(0, 0.01, size=(periods, segments))
    fx = rng.normal(0, 0.002, size=(periods, segments))
    result = attribute(wp, wb, rp, rb, fx_returns=fx)
    portfolio = np.prod(1 + (wp * ((1 + rp) * (1 + fx) - 1)).sum(axis=1)) - 1
    benchmark = np.prod(1 + (wb * ((1 + rb) * (1 + fx) - 1)).sum(axis=1)) - 1
    assert result.portfolio_return == pytest.approx(portfolio, abs=1e-14)
    assert result.benchmark_return == pytest.approx(benchmark, abs=1e-14)
    assert abs(result.effects.to_numpy().sum() - (portfolio - benchmark)) < 1e-12
    assert list(result.effects.columns) == list(EFFECTS)
    assert (result.effects["timing"].abs() > 0).all()
    # a constant over/under-weight has no timing: the portfolio moves with the benchmark
    offset = np.array([0.1, -0.05, 0.0, -0.05])
    steady = attribute(wb + offset, wb, rp, rb)
    np.testing.assert_allclose(steady.effects["timing"], 0.0, atol=1e-15)


def test_identical_portfolio_and_benchmark_have_no_effects() -> None:
    rng = np.random.default_rng(9)
    weights = rng.dirichlet(np.ones(3), size=12)
    returns = rng.normal(0, 0.03, size=(12, 3))
    result = attribute(weights, weights, returns, returns)
    assert result.active_return == 0.0
    # the weights vary over time, but the active weights are all zero: no timing either
    np.testing.assert_array_equal(result.effects.to_numpy(), 0.0)


def test_bad_inputs() -> None:
    with pytest.raises(RiskInputError, match="sum to 0.9"):
        attribute([0.5, 0.4], [0.5, 0.5], RP, RB)
    with pytest.raises(RiskInputError, match="benchmark_returns: shape"):
        attribute(WP, WB, RP, [0.1, 0.2, 0.3])
    with pytest.raises(RiskInputError, match="NaN"):
        attribute(WP, WB, [np.nan, 0.1], RB)


def test_benchmarks_from_real_candles(shared_data: Path) -> None:
    """A week of Binance BTC and ETH hourly candles. BTC buy-and-hold compounds to
    last close / first close − 1 (both read from the raw file); the equal-weight index's return
    each hour is the mean of the two assets' close-to-close returns."""
    start, end = pd.Timestamp("2024-08-01", tz="UTC"), pd.Timestamp("2024-08-08", tz="UTC")
    frames = {
        asset: slice_candles(
            read_candle_file(shared_data / f"binance_{asset}-USDT_1h.csv.gz"), start, end
        )
        for asset in ("BTC", "ETH")
    }
    returns = close_returns(frames)
    raw = pd.read_csv(shared_data / "binance_BTC-USDT_1h.csv.gz")
    window = raw[
        (raw["timestamp"] >= start.value // 10**6) & (raw["timestamp"] < end.value // 10**6)
    ]
    btc = buy_and_hold_benchmark(returns, "BTC")
    assert np.prod(1 + btc.returns) - 1 == pytest.approx(
        window["close"].iloc[-1] / window["close"].iloc[0] - 1, rel=1e-10
    )
    eth_raw = pd.read_csv(shared_data / "binance_ETH-USDT_1h.csv.gz").set_index("timestamp")[
        "close"
    ]
    btc_raw = window.set_index("timestamp")["close"]
    expected = (
        (btc_raw / btc_raw.shift(1) - 1)
        + (eth_raw.loc[btc_raw.index] / eth_raw.loc[btc_raw.index].shift(1) - 1)
    ) / 2
    index = equal_weight_benchmark(returns)
    assert len(index.returns) == len(window) - 1 == 167
    np.testing.assert_allclose(index.returns.to_numpy(), expected.iloc[1:].to_numpy(), rtol=1e-12)
    # attributing the equal-weight index against BTC buy-and-hold: effects add up to the gap
    result = attribute(index.weights, btc.weights, returns, returns)
    assert abs(result.effects.to_numpy().sum() - result.active_return) < 1e-12
    assert result.active_return == pytest.approx(
        np.prod(1 + index.returns) - np.prod(1 + btc.returns), abs=1e-12
    )
    with pytest.raises(RiskInputError, match="'SOL'"):
        buy_and_hold_benchmark(returns, "SOL")
