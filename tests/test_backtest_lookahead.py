"""No look-ahead: a decision on bar t fills at bar t+1, and bar-by-bar strategies see only
bars 0..t. Plus hand-worked fills for each fill-price setting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zvt_pipelines.backtest import (
    BacktestSettings,
    FillPrice,
    run_bar_strategy,
    run_signals,
    run_sma_cross,
    run_targets,
)
from zvt_pipelines.data.candles import read_candle_file
from zvt_pipelines.errors import ConfigError, DataError, StrategyError


def candles(open_, high, low, close) -> pd.DataFrame:
    n = len(close)
    ts = pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC").astype("datetime64[ms, UTC]")
    return pd.DataFrame(
        {"ts": ts, "open": open_, "high": high, "low": low, "close": close, "volume": 1.0}
    )


@pytest.fixture(scope="module")
def btc_1h(shared_data) -> pd.DataFrame:
    frame = read_candle_file(shared_data / "binance_BTC-USDT_1h.csv.gz")
    return frame.iloc[-3_000:].reset_index(drop=True)


@pytest.fixture
def four_bars() -> pd.DataFrame:
    return candles(
        [100.0, 110.0, 120.0, 130.0],
        [106.0, 118.0, 127.0, 140.0],
        [99.0, 108.0, 119.0, 128.0],
        [105.0, 115.0, 125.0, 135.0],
    )


def test_strategy_cannot_read_the_next_bar(btc_1h):
    def peeks(bars):
        return bool(bars.close[len(bars)] > bars.close[-1])  # bar t+1: not there

    with pytest.raises(StrategyError, match=r"bar 0 \(") as info:
        run_bar_strategy(btc_1h, peeks)
    assert isinstance(info.value.__cause__, IndexError)


def test_strategy_sees_exactly_bars_up_to_t(btc_1h):
    close = btc_1h["close"].to_numpy()
    seen = []

    def records(bars):
        window = bars.close[: len(bars) + 10]  # asking for more yields only what exists
        seen.append((len(bars), len(window), window[-1], bars.ts[-1]))

    run_bar_strategy(btc_1h, records)
    ts = btc_1h["ts"].astype("int64").to_numpy()
    assert [s[0] for s in seen] == list(range(1, len(btc_1h) + 1))
    assert all(s[1] == s[0] for s in seen)
    assert [s[2] for s in seen] == close.tolist()
    assert [s[3] for s in seen] == ts.tolist()


def test_strategy_cannot_write_into_history(btc_1h):
    def rewrites(bars):
        bars.close[-1] = 0.0

    with pytest.raises(StrategyError) as info:
        run_bar_strategy(btc_1h, rewrites)
    assert isinstance(info.value.__cause__, ValueError)


def test_bar_by_bar_sma_equals_vectorised_contract(btc_1h):
    """The contract's crossover decided one bar at a time from the past only."""

    def sma_cross(bars):
        close = bars.close
        if len(close) < 31:
            return None
        fast_now, slow_now = close[-10:].mean(), close[-30:].mean()
        fast_then, slow_then = close[-11:-1].mean(), close[-31:-1].mean()
        if fast_now > slow_now and fast_then <= slow_then:
            return True
        if fast_now < slow_now and fast_then >= slow_then:
            return False
        return None

    stepped = run_bar_strategy(btc_1h, sma_cross, BacktestSettings(cash=10_000, fee_bps=10))
    vectorised = run_sma_cross(btc_1h, 10, 30, 10.0, 10_000)
    assert stepped.n_trades == vectorised.n_trades > 10
    np.testing.assert_allclose(stepped.equity.to_numpy(), vectorised.equity.to_numpy(), rtol=1e-9)


def test_future_information_in_a_signal_still_trades_one_bar_later(btc_1h):
    """A signal that cheats (knows whether the next close is higher) can still only act
    at the open of the bar after it was raised."""
    close = btc_1h["close"]
    rises_next = (close.shift(-1) > close).fillna(False).to_numpy()
    result = run_signals(btc_1h, rises_next, ~rises_next)
    signal_bars = np.flatnonzero(np.diff(np.concatenate(([False], rises_next))) != 0)
    fill_bars = btc_1h.index[btc_1h["ts"].isin(result.fills["time"])].to_numpy()
    assert len(fill_bars) > 100
    assert set(fill_bars) <= set(signal_bars + 1)
    np.testing.assert_array_equal(
        result.fills["price"].to_numpy(), btc_1h["open"].to_numpy()[fill_bars]
    )


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 197), st.integers(0, 2**32 - 1))
def test_nothing_after_t_changes_the_account_up_to_t_plus_1(t, seed):
    """Rewrite every target after bar t and every price after bar t+1: the equity and
    the fills up to bar t+1 stay the same."""
    rng = np.random.default_rng(seed)
    n = 200
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    frame = candles(close * 1.001, close * 1.01, close * 0.99, close)
    targets = rng.choice([np.nan, 0.0, 0.5, 1.0], n)
    base = run_targets(frame, targets, BacktestSettings(fee_bps=10, slippage_bps=5))

    future = frame.copy()
    for column in ("open", "high", "low", "close"):
        future.loc[t + 2 :, column] = future.loc[t + 2 :, column] * rng.uniform(0.5, 2.0)
    changed = targets.copy()
    changed[t + 1 :] = rng.choice([np.nan, 0.0, 0.25, 1.0], n - t - 1)
    other = run_targets(future, changed, BacktestSettings(fee_bps=10, slippage_bps=5))

    np.testing.assert_array_equal(base.equity.to_numpy()[: t + 2], other.equity.to_numpy()[: t + 2])
    cutoff = frame["ts"].iloc[t + 1]
    pd.testing.assert_frame_equal(
        base.fills[base.fills["time"] <= cutoff], other.fills[other.fills["time"] <= cutoff]
    )


@pytest.mark.parametrize(
    ("fill_price", "buy", "sell"),
    [
        (FillPrice.OPEN, 110.0, 130.0),
        (FillPrice.CLOSE, 115.0, 135.0),
        (FillPrice.TYPICAL, (118 + 108 + 115) / 3, (140 + 128 + 135) / 3),
    ],
)
def test_hand_worked_round_trip(four_bars, fill_price, buy, sell):
    """Entry on bar 0 fills on bar 1, exit on bar 2 fills on bar 3, fee 10 bps, 50 bps
    slippage: units = 10,000 / (buy * 1.005 * 1.001); the sale returns
    units * sell * 0.995 * 0.999."""
    entries = np.array([True, False, False, False])
    exits = np.array([False, False, True, False])
    setup = BacktestSettings(cash=10_000, fee_bps=10, slippage_bps=50, fill_price=fill_price)
    result = run_signals(four_bars, entries, exits, setup)
    units = 10_000 / (buy * 1.005 * 1.001)
    final = units * sell * 0.995 * 0.999
    assert result.final_equity == pytest.approx(final, rel=1e-12)
    assert result.n_trades == 1
    assert result.fills["time"].tolist() == four_bars["ts"].iloc[[1, 3]].tolist()
    assert result.fees_paid == pytest.approx(
        units * buy * 1.005 * 0.001 + units * sell * 0.995 * 0.001
    )
    trade = result.trades.iloc[0]
    assert trade["pnl"] == pytest.approx(final - 10_000, rel=1e-9)
    assert not trade["is_open"]
    # Bar 1: cash left ~0, units marked at bar 1's close.
    assert result.equity.iloc[1] == pytest.approx(units * 115.0, rel=1e-12)


def test_half_target_and_open_position_marked_at_last_close(four_bars):
    """Target 0.5 from flat with fee 10 bps at open 110: notional V solves
    V = 0.5 (10,000 - 0.001 V), V = 5,000 / 1.0005; held to the end, marked at 135."""
    result = run_targets(four_bars, [0.5, np.nan, np.nan, np.nan], BacktestSettings(fee_bps=10))
    notional = 5_000 / 1.0005
    cash = 10_000 - notional * 1.001
    assert result.final_equity == pytest.approx(cash + notional / 110 * 135, rel=1e-12)
    trade = result.trades.iloc[0]
    assert trade["is_open"] and pd.isna(trade["exit_time"])
    assert trade["exit_price"] == 135.0


def test_last_bar_signal_is_never_filled(four_bars):
    result = run_signals(four_bars, [False, False, False, True], [False] * 4)
    assert result.n_trades == 0 and result.final_equity == 10_000


def test_inputs_are_guarded(four_bars):
    with pytest.raises(DataError, match="4 values"):
        run_targets(four_bars, [1.0, 0.0])
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        run_targets(four_bars, [1.5, 0, 0, 0])
    with pytest.raises(ConfigError, match="fee_bps"):
        BacktestSettings(fee_bps=-1)
    with pytest.raises(ConfigError, match="fill_price"):
        BacktestSettings(fill_price="vwap")
    with pytest.raises(ConfigError, match="fast 30 / slow 10"):
        run_sma_cross(four_bars, 30, 10, 0.0, 1_000)
