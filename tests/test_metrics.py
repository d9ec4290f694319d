"""Returns metrics against empyrical-reloaded, plus properties and hand-worked cases."""

from __future__ import annotations

import empyrical
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from zvt_pipelines.analytics import metrics
from zvt_pipelines.data.candles import read_candle_file

ANN = 365


@pytest.fixture(scope="module")
def btc_daily_returns(shared_data) -> pd.Series:
    """Daily close-to-close returns of BTC/USDT from the 1h file (last hourly close per day)."""
    frame = read_candle_file(shared_data / "binance_BTC-USDT_1h.csv.gz")
    daily = frame.set_index("ts")["close"].resample("1D").last().ffill()
    return daily.pct_change().dropna()


@pytest.fixture(scope="module")
def random_returns() -> pd.Series:
    rng = np.random.default_rng(7)
    index = pd.date_range("2022-01-01", periods=1_000, freq="D", tz="UTC")
    return pd.Series(rng.normal(0.0008, 0.03, 1_000), index=index)


def reference_values(returns) -> dict[str, float]:
    return {
        "total_return": empyrical.cum_returns_final(returns),
        "cagr": empyrical.cagr(returns, annualization=ANN),
        "annual_volatility": empyrical.annual_volatility(returns, annualization=ANN),
        "sharpe_ratio": empyrical.sharpe_ratio(returns, annualization=ANN),
        "sortino_ratio": empyrical.sortino_ratio(returns, annualization=ANN),
        "downside_risk": empyrical.downside_risk(returns, annualization=ANN),
        "max_drawdown": empyrical.max_drawdown(returns),
        "calmar_ratio": empyrical.calmar_ratio(returns, annualization=ANN),
        "value_at_risk": empyrical.value_at_risk(returns, 0.05),
        "conditional_value_at_risk": empyrical.conditional_value_at_risk(returns, 0.05),
    }


def our_values(returns) -> dict[str, float]:
    return {
        "total_return": metrics.total_return(returns),
        "cagr": metrics.cagr(returns),
        "annual_volatility": metrics.annual_volatility(returns),
        "sharpe_ratio": metrics.sharpe_ratio(returns),
        "sortino_ratio": metrics.sortino_ratio(returns),
        "downside_risk": metrics.downside_risk(returns),
        "max_drawdown": metrics.max_drawdown(returns),
        "calmar_ratio": metrics.calmar_ratio(returns),
        "value_at_risk": metrics.value_at_risk(returns, 0.05),
        "conditional_value_at_risk": metrics.conditional_value_at_risk(returns, 0.05),
    }


def assert_close(ours: dict, reference: dict) -> None:
    for name, value in reference.items():
        assert ours[name] == pytest.approx(float(value), rel=1e-9, abs=1e-12), name


@pytest.mark.parametrize("source", ["random_returns", "btc_daily_returns"])
@pytest.mark.parametrize("as_array", [False, True])
def test_metrics_match_empyrical(request, source, as_array):
    returns = request.getfixturevalue(source)
    data = returns.to_numpy() if as_array else returns
    assert_close(our_values(data), reference_values(data))


@pytest.mark.parametrize("cutoff", [0.05, 0.01])
def test_var_and_cvar_at_95_and_99_match_empyrical(btc_daily_returns, cutoff):
    assert metrics.value_at_risk(btc_daily_returns, cutoff) == pytest.approx(
        empyrical.value_at_risk(btc_daily_returns, cutoff), rel=1e-12
    )
    assert metrics.conditional_value_at_risk(btc_daily_returns, cutoff) == pytest.approx(
        empyrical.conditional_value_at_risk(btc_daily_returns, cutoff), rel=1e-12
    )


def test_nan_returns_are_skipped_like_empyrical(random_returns):
    holed = random_returns.copy()
    holed.iloc[[3, 50, 400]] = np.nan
    reference = reference_values(holed)
    # empyrical's VaR is np.percentile, which returns NaN on NaN input; ours skips NaN.
    reference["value_at_risk"] = empyrical.value_at_risk(holed.dropna(), 0.05)
    assert_close(our_values(holed), reference)


def test_annualization_override_matches_empyrical(random_returns):
    assert metrics.sharpe_ratio(random_returns, annualization=252) == pytest.approx(
        empyrical.sharpe_ratio(random_returns, annualization=252), rel=1e-12
    )
    assert metrics.cagr(random_returns, annualization=8760) == pytest.approx(
        empyrical.cagr(random_returns, annualization=8760), rel=1e-12
    )


def test_risk_free_and_required_return_match_empyrical(random_returns):
    assert metrics.sharpe_ratio(random_returns, risk_free=0.0002) == pytest.approx(
        empyrical.sharpe_ratio(random_returns, risk_free=0.0002, annualization=ANN), rel=1e-9
    )
    assert metrics.sortino_ratio(random_returns, required_return=0.001) == pytest.approx(
        empyrical.sortino_ratio(random_returns, required_return=0.001, annualization=ANN),
        rel=1e-9,
    )


def test_hand_worked_values():
    """r = [0.10, -0.20, 0.05]: wealth 1.1, 0.88, 0.924; peak 1.1, so the worst
    drawdown is 0.88 / 1.1 - 1 = -0.2; total return 0.924 - 1 = -0.076;
    mean -0.05 / 3 = -1/60; deviations 7/60, -11/60, 4/60, so the sample std is
    sqrt((49 + 121 + 16) / 3600 / 2) = sqrt(93) / 60 and Sharpe (annualization 1)
    is -1 / sqrt(93) = -0.10370; with 3 periods a year CAGR is the total return."""
    returns = [0.10, -0.20, 0.05]
    assert metrics.total_return(returns) == pytest.approx(-0.076, abs=1e-15)
    assert metrics.max_drawdown(returns) == pytest.approx(-0.2, abs=1e-15)
    assert metrics.sharpe_ratio(returns, annualization=1) == pytest.approx(-1 / np.sqrt(93))
    assert metrics.cagr(returns, annualization=3) == pytest.approx(-0.076)


def test_degenerate_inputs():
    assert np.isnan(metrics.sharpe_ratio([0.01]))
    assert np.isnan(metrics.total_return([]))
    assert np.isnan(metrics.max_drawdown(np.array([])))
    assert metrics.sharpe_ratio([0.01, 0.01, 0.01]) == np.inf
    assert np.isnan(metrics.calmar_ratio([0.01, 0.02]))  # no drawdown
    assert metrics.sortino_ratio([0.01, 0.02]) == np.inf  # no downside


# Returns on a 0.01 bp grid in [-50 %, +50 %]: realistic values, no 1e-300 underflow.
returns_arrays = arrays(
    np.float64, st.integers(3, 200), elements=st.integers(-500_000, 500_000).map(lambda i: i / 1e6)
)


@settings(max_examples=60, deadline=None)
@given(returns_arrays, st.floats(0.01, 100.0))
def test_ratios_unchanged_by_positive_scaling(returns, k):
    """With risk-free 0, mean and deviation scale by k together."""
    if np.std(returns) < 1e-6:
        return
    assert metrics.sharpe_ratio(returns * k) == pytest.approx(
        metrics.sharpe_ratio(returns), rel=1e-8
    )
    if (returns < 0).any():
        assert metrics.sortino_ratio(returns * k) == pytest.approx(
            metrics.sortino_ratio(returns), rel=1e-8
        )


@settings(max_examples=60, deadline=None)
@given(returns_arrays)
def test_drawdown_and_tail_orderings(returns):
    assert metrics.max_drawdown(returns) <= 0.0
    assert (metrics.drawdown_series(returns) <= 0.0).all()
    # The tail mean can exceed the percentile by float noise when the tail is constant.
    tail_mean = metrics.conditional_value_at_risk(returns, 0.05)
    assert tail_mean <= metrics.value_at_risk(returns, 0.05) + 1e-15
    assert metrics.value_at_risk(returns, 0.01) <= metrics.value_at_risk(returns, 0.05)
    half = len(returns) // 2
    compounded = (1 + metrics.total_return(returns[:half])) * (
        1 + metrics.total_return(returns[half:])
    )
    assert 1 + metrics.total_return(returns) == pytest.approx(compounded, rel=1e-9)


def test_daily_returns_from_equity_carries_empty_days():
    """Day 1 ends at 110 (from 100 initial: +10 %), day 2 has no bar (carry: 0 %),
    day 3 ends at 99 (99 / 110 - 1 = -10 %)."""
    index = pd.DatetimeIndex(
        ["2024-01-01 00:00", "2024-01-01 23:00", "2024-01-03 05:00", "2024-01-03 17:00"], tz="UTC"
    )
    equity = pd.Series([105.0, 110.0, 120.0, 99.0], index=index)
    daily = metrics.daily_returns_from_equity(equity, initial=100.0)
    assert daily.index.tolist() == list(pd.date_range("2024-01-01", periods=3, freq="D", tz="UTC"))
    np.testing.assert_allclose(daily.to_numpy(), [0.10, 0.0, 99 / 110 - 1], rtol=1e-15)
    without_initial = metrics.daily_returns_from_equity(equity)
    np.testing.assert_allclose(without_initial.to_numpy(), [0.0, 99 / 110 - 1], rtol=1e-15)


def test_daily_returns_use_utc_days_for_other_timezones():
    """23:30 in New York on Jan 1 is 04:30 UTC on Jan 2."""
    index = pd.DatetimeIndex(["2024-01-01 10:00", "2024-01-01 23:30"], tz="America/New_York")
    daily = metrics.daily_returns_from_equity(pd.Series([110.0, 121.0], index=index), initial=100.0)
    np.testing.assert_allclose(daily.to_numpy(), [0.10, 0.10], rtol=1e-15)


def test_daily_returns_need_aware_timestamps():
    with pytest.raises(ValueError, match="timezone-aware"):
        metrics.daily_returns_from_equity(pd.Series([1.0], index=pd.DatetimeIndex(["2024-01-01"])))


def test_drawdown_episode_hand_worked():
    """Peak 120 on day 1, trough 90 on day 3 (-25 %), back to 120 on day 5:
    duration 4 days, recovery time 2 days."""
    index = pd.date_range("2024-01-01", periods=7, freq="D", tz="UTC")
    equity = pd.Series([100.0, 120.0, 100.0, 90.0, 110.0, 120.0, 130.0], index=index)
    episode = metrics.drawdown_episode(equity)
    assert episode.max_drawdown == pytest.approx(-0.25)
    assert (episode.peak, episode.trough, episode.recovery) == (index[1], index[3], index[5])
    assert episode.duration == pd.Timedelta(days=4)
    assert episode.recovery_time == pd.Timedelta(days=2)


def test_drawdown_episode_not_recovered_and_never_down():
    index = pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC")
    open_episode = metrics.drawdown_episode(pd.Series([100.0, 90.0, 80.0, 95.0], index=index))
    assert open_episode.max_drawdown == pytest.approx(-0.2)
    assert open_episode.recovery is None and open_episode.recovery_time is None
    assert open_episode.duration == pd.Timedelta(days=3)
    rising = metrics.drawdown_episode(pd.Series([1.0, 2.0, 3.0, 4.0], index=index))
    assert rising.max_drawdown == 0.0 and rising.duration == pd.Timedelta(0)


def test_trade_statistics_hand_worked():
    """P&L [100, -50, 30, -10, nan]: 4 closed trades, 2 wins; average win 65,
    average loss -30; profit factor 130 / 60."""
    stats = metrics.trade_statistics([100.0, -50.0, 30.0, -10.0, np.nan])
    assert (stats.trades, stats.wins, stats.losses) == (4, 2, 2)
    assert stats.win_rate == 0.5
    assert stats.average_win == 65.0 and stats.average_loss == -30.0
    assert stats.profit_factor == pytest.approx(130 / 60)
    assert metrics.trade_statistics([5.0]).profit_factor == np.inf
    assert np.isnan(metrics.trade_statistics([]).win_rate)


def test_exposure_and_turnover_hand_worked():
    """Position held on 2 of 5 bars; a 1,000 buy and a 1,100 sell over a mean equity
    of 1,050 turn the book over 2 times."""
    assert metrics.exposure([0.0, 1.5, 1.5, 0.0, np.nan]) == pytest.approx(0.4)
    assert metrics.turnover([1000.0, -1100.0], [1000.0, 1100.0]) == pytest.approx(2.0)


@pytest.mark.parametrize("as_array", [False, True])
def test_drawdown_counts_a_first_period_loss(as_array):
    """r = [-0.10, 0.05, -0.20]: wealth starts at 1 before the first period, then
    0.9, 0.945, 0.756; the peak stays 1, so the drawdowns are -0.1, -0.055 and -0.244.
    Starting the peak at the first period's wealth (0.9) would give only
    0.756 / 0.945 - 1 = -0.2. empyrical-reloaded (which also starts wealth at 1) agrees."""
    returns = [-0.10, 0.05, -0.20]
    data = np.array(returns) if as_array else pd.Series(returns)
    np.testing.assert_allclose(metrics.drawdown_series(data), [-0.1, -0.055, -0.244], rtol=1e-12)
    assert metrics.max_drawdown(data) == pytest.approx(-0.244, rel=1e-12)
    assert metrics.max_drawdown(data) == pytest.approx(empyrical.max_drawdown(data), rel=1e-12)
    # a lone first-period loss is the whole drawdown
    assert metrics.max_drawdown([-0.3]) == pytest.approx(-0.3, rel=1e-12)
    assert metrics.max_drawdown([-0.3]) == pytest.approx(empyrical.max_drawdown(np.array([-0.3])))
    # Calmar over three periods a year: CAGR = 0.756 - 1 = -0.244, so Calmar = -0.244 / 0.244
    assert metrics.calmar_ratio(data, annualization=3) == pytest.approx(-1.0, rel=1e-12)
