"""Returns metrics against empyrical-reloaded, plus properties and hand-worked cases."""

from __future__ import annotations

import warnings

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


def test_two_returns_are_enough_and_one_is_not():
    """r = [0.01, 0.03]: mean 0.02, sample std sqrt(2 x 0.0001 / 1) = 0.0141421;
    annualization 4: volatility 0.0282843, Sharpe 0.02 / 0.0141421 x 2 = 2.8284271;
    no period below 0, so Sortino is +inf; downside risk 0."""
    r = [0.01, 0.03]
    assert metrics.annual_volatility(r, annualization=4) == pytest.approx(2 * np.sqrt(2) / 100)
    assert metrics.sharpe_ratio(r, annualization=4) == pytest.approx(2 * np.sqrt(2))
    assert metrics.sortino_ratio(r, annualization=4) == np.inf
    assert metrics.downside_risk(r, annualization=4) == 0.0
    for one in ([0.01], [0.01, np.nan]):
        assert np.isnan(metrics.annual_volatility(one))
        assert np.isnan(metrics.sharpe_ratio(one))
        assert np.isnan(metrics.sortino_ratio(one))


def test_downside_risk_and_sortino_by_hand():
    """r = [0.02, -0.01, -0.03, 0.04], required 0, annualization 1: shortfalls 0, -0.01,
    -0.03, 0; downside risk sqrt((0.0001 + 0.0009) / 4) = 0.0158114; mean 0.005, so
    Sortino 0.005 / 0.0158114 = 0.3162278. With required return 0.02 the shortfalls are 0,
    -0.03, -0.05, 0: sqrt(0.0034 / 4) = 0.0291548 and the mean excess is -0.015."""
    r = [0.02, -0.01, -0.03, 0.04]
    assert metrics.downside_risk(r, annualization=1) == pytest.approx(np.sqrt(0.001 / 4))
    assert metrics.sortino_ratio(r, annualization=1) == pytest.approx(0.005 / np.sqrt(0.00025))
    assert metrics.downside_risk(r, 0.02, annualization=1) == pytest.approx(np.sqrt(0.0034 / 4))
    assert metrics.sortino_ratio(r, 0.02, annualization=1) == pytest.approx(
        -0.015 / np.sqrt(0.0034 / 4)
    )
    assert np.isnan(metrics.downside_risk([]))


def test_empty_and_nan_inputs_follow_the_documented_rules():
    for function in (
        metrics.total_return,
        metrics.cagr,
        metrics.max_drawdown,
        metrics.value_at_risk,
        metrics.conditional_value_at_risk,
        metrics.exposure,
    ):
        assert np.isnan(function([])), function.__name__
    # NaN counts as no change in the total, but as elapsed time in CAGR (3 periods a year)
    assert metrics.total_return([0.1, np.nan, 0.1]) == pytest.approx(0.21)
    assert metrics.cagr([0.1, np.nan, 0.1], annualization=3) == pytest.approx(0.21)
    assert metrics.cagr([0.1, np.nan, 0.1], annualization=6) == pytest.approx(1.21**2 - 1)
    np.testing.assert_allclose(metrics.drawdown_series([0.1, np.nan, -0.1]), [0, 0, -0.1])
    assert np.isnan(metrics.calmar_ratio([]))
    assert np.isnan(metrics.turnover([100.0], []))
    with pytest.raises(ValueError, match=r"returns: expected one dimension, got shape \(2, 2\)"):
        metrics.total_return(np.zeros((2, 2)))


def test_a_flat_path_has_zero_dispersion():
    """Identical returns: the sample deviation is exactly 0, so Sharpe is +inf for a gain,
    -inf for a loss and NaN for nothing at all."""
    assert metrics.sharpe_ratio([0.001] * 5) == np.inf
    assert metrics.sharpe_ratio([-0.001] * 5) == -np.inf
    assert np.isnan(metrics.sharpe_ratio([0.0] * 5))
    assert np.isnan(metrics.sortino_ratio([0.0, 0.0, 0.0]))


def test_var_and_cvar_by_hand():
    """Five returns -0.05, -0.02, 0, 0.01, 0.03; the 20th percentile interpolates between
    the 1st and 2nd order statistics at position 0.8: -0.05 + 0.8 x 0.03 = -0.026; cutoff
    0.5 gives the median 0. CVaR at 0.5 takes k = int(4 x 0.5) + 1 = 3 lowest: mean of
    -0.05, -0.02, 0 = -0.0233333; at 0.2 only the lowest: -0.05."""
    r = [0.01, -0.05, 0.03, 0.0, -0.02]
    assert metrics.value_at_risk(r, 0.2) == pytest.approx(-0.026)
    assert metrics.value_at_risk(r, 0.5) == pytest.approx(0.0)
    assert metrics.conditional_value_at_risk(r, 0.5) == pytest.approx(-0.07 / 3)
    assert metrics.conditional_value_at_risk(r, 0.2) == pytest.approx(-0.05)
    assert metrics.conditional_value_at_risk(r + [np.nan], 0.2) == pytest.approx(-0.05)


def test_calmar_is_nan_without_a_drawdown_or_when_infinite():
    """[0.5, -0.5] over 2 periods a year: CAGR 0.75 - 1 = -0.25, drawdown -0.5: -0.5."""
    assert metrics.calmar_ratio([0.5, -0.5], annualization=2) == pytest.approx(-0.5)
    assert np.isnan(metrics.calmar_ratio([0.0, 0.0]))
    # 5.5 ** (1e6 / 2) overflows: CAGR is inf (as in empyrical, where a plain float power
    # used to raise OverflowError), so the ratio is reported as NaN
    huge = np.array([10.0, -0.5])
    with np.errstate(over="ignore"):
        assert metrics.cagr(huge, annualization=1e6) == empyrical.cagr(huge, annualization=1e6)
    assert metrics.cagr(huge, annualization=1e6) == np.inf
    assert np.isnan(metrics.calmar_ratio(huge, annualization=1e6))


def test_drawdown_episode_recovers_on_an_exact_return_to_the_peak():
    """Peak 100 (day 0), trough 80 (day 2), back at exactly 100 on day 3."""
    index = pd.date_range("2024-01-01", periods=5, freq="D", tz="UTC")
    episode = metrics.drawdown_episode(pd.Series([100.0, 90.0, 80.0, 100.0, 95.0], index=index))
    assert (episode.peak, episode.trough, episode.recovery) == (index[0], index[2], index[3])
    assert episode.max_drawdown == pytest.approx(-0.2)
    assert (episode.duration, episode.recovery_time) == (pd.Timedelta(days=3), pd.Timedelta(days=1))
    with pytest.raises(ValueError, match="equity curve: no values"):
        metrics.drawdown_episode(pd.Series([np.nan], index=index[:1]))
    with_gap = pd.Series([100.0, np.nan, 50.0], index=index[:3])
    assert metrics.drawdown_episode(with_gap).max_drawdown == pytest.approx(-0.5)


def test_daily_returns_of_an_empty_or_all_nan_curve_are_empty():
    index = pd.date_range("2024-01-01", periods=2, freq="h", tz="UTC")
    empty = metrics.daily_returns_from_equity(pd.Series([np.nan, np.nan], index=index))
    assert empty.empty and str(empty.index.tz) == "UTC"
    with pytest.raises(ValueError, match="timezone-aware timestamps"):
        metrics.daily_returns_from_equity(pd.Series([1.0], index=[0]))


def test_trade_statistics_edge_cases():
    """Only losses: profit factor 0 / 30 = 0 and no average win; a zero P&L is neither a
    win nor a loss but is a trade."""
    losses = metrics.trade_statistics([-10.0, -20.0, 0.0])
    assert (losses.trades, losses.wins, losses.losses) == (3, 0, 2)
    assert losses.profit_factor == 0.0 and np.isnan(losses.average_win)
    assert losses.average_loss == -15.0 and losses.win_rate == 0.0
    nothing = metrics.trade_statistics([0.0])
    assert np.isnan(nothing.profit_factor) and (nothing.trades, nothing.wins) == (1, 0)
    assert np.isnan(metrics.trade_statistics([]).average_loss)


def test_exposure_and_turnover_skip_nan_and_use_absolute_notional():
    """Turnover: |500| + |-300| = 800 over mean equity (1000 + 1000) / 2 = 1000: 0.8."""
    assert metrics.turnover([500.0, np.nan, -300.0], [1000.0, np.nan, 1000.0]) == pytest.approx(0.8)
    assert metrics.exposure([np.nan, -1.0]) == pytest.approx(0.5)


def test_small_pnls_and_single_values_count():
    """P&Ls below one quote unit are still wins and losses: [0.5, -0.25] has profit factor
    2; [0.5] alone has no loss, so +inf. One position value or one equity value is enough:
    exposure of [1] is 1, turnover of 100 traded on 1000 equity is 0.1."""
    small = metrics.trade_statistics([0.5, -0.25])
    assert (small.wins, small.losses, small.profit_factor) == (1, 1, 2.0)
    assert (small.average_win, small.average_loss) == (0.5, -0.25)
    assert metrics.trade_statistics([0.5]).profit_factor == np.inf
    assert metrics.exposure([1.0]) == 1.0
    assert metrics.turnover([100.0], [1000.0]) == pytest.approx(0.1)


def test_drawdown_episode_of_nothing_says_so():
    with pytest.raises(ValueError) as info:
        metrics.drawdown_episode(pd.Series([], dtype="float64"))
    assert str(info.value) == "equity curve: no values"


def test_default_cutoff_is_five_percent_like_empyrical(random_returns):
    assert metrics.value_at_risk(random_returns) == pytest.approx(
        empyrical.value_at_risk(random_returns), rel=1e-12
    )
    assert metrics.conditional_value_at_risk(random_returns) == pytest.approx(
        empyrical.conditional_value_at_risk(random_returns), rel=1e-12
    )


def test_one_return_has_a_downside_and_a_tail():
    """A single -10 % period: downside risk 0.1 x sqrt(4) = 0.2 (annualization 4); the
    tail is that period, so VaR and CVaR are both -0.1."""
    assert metrics.downside_risk([-0.1], annualization=4) == pytest.approx(0.2)
    assert metrics.value_at_risk([-0.1]) == pytest.approx(-0.1)
    assert metrics.conditional_value_at_risk([-0.1]) == pytest.approx(-0.1)


def test_decimal_returns_are_read_as_floats():
    """Returns derived from Decimal money (an object Series) are converted, not rejected."""
    from decimal import Decimal

    returns = pd.Series([Decimal("0.1"), Decimal("0.1")])
    assert metrics.total_return(returns) == pytest.approx(0.21)
    assert metrics.max_drawdown(returns) == 0.0


def test_documented_infinities_and_nans_come_without_warnings():
    """inf and NaN are the documented answers for flat or one-sided paths, not accidents:
    no RuntimeWarning (divide by zero, invalid value, overflow) escapes."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert metrics.sharpe_ratio([0.001] * 5) == np.inf
        assert np.isnan(metrics.sharpe_ratio([0.0] * 5))
        assert metrics.sortino_ratio([0.01, 0.02]) == np.inf
        assert np.isnan(metrics.sortino_ratio([0.0, 0.0]))
        assert metrics.cagr([10.0, -0.5], annualization=1e6) == np.inf


def test_daily_returns_guard_message_and_empty_dtype():
    with pytest.raises(ValueError) as info:
        metrics.daily_returns_from_equity(pd.Series([1.0]))
    assert str(info.value) == (
        "equity curve: expected a Series indexed by timezone-aware timestamps"
    )
    index = pd.date_range("2024-01-01", periods=1, freq="h", tz="UTC")
    empty = metrics.daily_returns_from_equity(pd.Series([np.nan], index=index))
    assert empty.dtype == np.float64


def test_drawdown_episode_peak_is_before_the_trough_even_if_the_next_bar_is_higher():
    """100, 80, 120: the peak is 100 on day 0 (not the 120 after the trough), the trough 80
    on day 1, recovered on day 2."""
    index = pd.date_range("2024-01-01", periods=3, freq="D", tz="UTC")
    episode = metrics.drawdown_episode(pd.Series([100.0, 80.0, 120.0], index=index))
    assert (episode.peak, episode.trough, episode.recovery) == (index[0], index[1], index[2])
    assert episode.max_drawdown == pytest.approx(-0.2)
