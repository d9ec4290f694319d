"""Monte Carlo bootstrap: Sharpe intervals against Lo (2002), trade paths by construction."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from zvt_pipelines.backtest.bootstrap import (
    bootstrap_returns,
    bootstrap_trades,
    stationary_indices,
)
from zvt_pipelines.errors import ConfigError, DataError

T, MU, SIGMA = 1_500, 0.001, 0.02  # true per-period Sharpe 0.05


@pytest.fixture(scope="module")
def normal_returns() -> np.ndarray:
    return np.random.default_rng(2002).normal(MU, SIGMA, T)


def lo_standard_error(returns: np.ndarray) -> float:
    """Lo (2002): SE of the per-period Sharpe of iid normal returns is sqrt((1 + SR^2/2) / T);
    annualised by sqrt(365) like the ratio itself."""
    per_period = returns.mean() / returns.std(ddof=1)
    return np.sqrt((1.0 + per_period**2 / 2.0) / returns.size) * np.sqrt(365)


def test_iid_bootstrap_sharpe_interval_matches_lo_2002(normal_returns):
    """The bootstrap SE of the Sharpe ratio is Lo's SE up to Monte Carlo noise.

    With 2,000 paths the sample std of the resampled Sharpe has a relative error of about
    1/sqrt(2 * 2000) = 1.6 %; the data's excess kurtosis (about 0 for normal returns,
    estimated with sd sqrt(24 / T) = 0.13) moves the true bootstrap SE by well under 1 %
    at SR = 0.05. 6 % is about four standard errors. The 95 % interval's width is
    compared with 2 * 1.96 SE within 8 % (tail quantiles are noisier than the std).
    """
    boot = bootstrap_returns(normal_returns, n_paths=2_000, seed=1)
    se = lo_standard_error(normal_returns)
    assert np.std(boot.sharpe, ddof=1) == pytest.approx(se, rel=0.06)
    width = boot.sharpe_ci.high - boot.sharpe_ci.low
    assert width == pytest.approx(2 * stats.norm.ppf(0.975) * se, rel=0.08)
    sample = normal_returns.mean() / normal_returns.std(ddof=1) * np.sqrt(365)
    assert boot.sharpe_ci.observed == pytest.approx(sample, rel=1e-12)
    assert boot.sharpe_ci.covers(sample)
    assert boot.sharpe_ci.covers(MU / SIGMA * np.sqrt(365))  # the analytical Sharpe, 0.955
    assert np.all(boot.max_drawdown <= 0)
    assert boot.max_drawdown_ci.low < boot.max_drawdown_ci.observed < boot.max_drawdown_ci.high


def test_bootstrap_is_seeded(normal_returns):
    first = bootstrap_returns(normal_returns, n_paths=50, seed=9)
    np.testing.assert_array_equal(
        first.sharpe, bootstrap_returns(normal_returns, n_paths=50, seed=9).sharpe
    )
    assert not np.array_equal(
        first.sharpe, bootstrap_returns(normal_returns, n_paths=50, seed=10).sharpe
    )


def test_stationary_blocks_have_the_asked_mean_length():
    """Blocks are runs of consecutive positions (wrapping at the end); their lengths are
    geometric with mean 10, estimated from ~20,000 blocks (sd of the mean ~0.7 %)."""
    positions = stationary_indices(1_000, 200, 10.0, np.random.default_rng(4))
    continues = positions[:, 1:] == (positions[:, :-1] + 1) % 1_000
    blocks = positions.size - continues.sum()
    assert positions.size / blocks == pytest.approx(10.0, rel=0.03)
    assert positions.min() >= 0 and positions.max() < 1_000


def test_stationary_bootstrap_sharpe_se_on_iid_data(normal_returns):
    """On iid data blocks change nothing in expectation: the SE stays Lo's, within 12 %
    (blocks of mean 5 make the SE estimate noisier than the iid one's 6 %)."""
    boot = bootstrap_returns(
        normal_returns, n_paths=2_000, method="stationary", mean_block=5.0, seed=2
    )
    assert np.std(boot.sharpe, ddof=1) == pytest.approx(lo_standard_error(normal_returns), rel=0.12)


def test_permuted_trades_keep_total_pnl_and_only_reorder_drawdowns():
    """pnl = [+10, -20] from 100: order (+10, -20) gives equity 110, 90 -> drawdown
    90/110 - 1 = -0.1818...; order (-20, +10) gives 80, 90 -> 80/100 - 1 = -0.2."""
    boot = bootstrap_trades([10.0, -20.0], 100.0, n_paths=200, replace=False, seed=0)
    np.testing.assert_array_equal(boot.final_pnl, -10.0)
    orders = {round(d, 12) for d in boot.max_drawdown}
    assert orders == {round(90 / 110 - 1, 12), -0.2}
    assert boot.ruin_probability == 0.0


def test_permutation_paths_sum_to_the_total_on_many_trades():
    pnl = np.random.default_rng(6).normal(5.0, 50.0, 300)
    boot = bootstrap_trades(pnl, 10_000.0, n_paths=500, replace=False, seed=3)
    np.testing.assert_allclose(boot.final_pnl, pnl.sum(), rtol=1e-12, atol=1e-9)
    assert boot.max_drawdown.std() > 0


def test_with_replacement_mean_final_pnl_is_n_times_the_mean():
    """E[final] = n * mean(pnl); its Monte Carlo sd is sqrt(n) * std(pnl) / sqrt(paths)."""
    pnl = np.random.default_rng(8).normal(5.0, 50.0, 300)
    boot = bootstrap_trades(pnl, 10_000.0, n_paths=4_000, seed=5)
    tolerance = 4 * np.sqrt(pnl.size) * pnl.std() / np.sqrt(4_000)
    assert abs(boot.final_pnl.mean() - pnl.size * pnl.mean()) < tolerance
    assert boot.final_pnl_ci.covers(pnl.sum())


def test_ruin_is_counted():
    boot = bootstrap_trades([60.0, -70.0, -50.0], 100.0, n_paths=300, replace=False, seed=1)
    # every order ends at 40 > 0, but -70, -50 first (100 -> 30 -> -20) is ruin: 2 of 6 orders
    assert boot.ruin_probability == pytest.approx(2 / 6, abs=0.08)
    assert set(np.round(boot.max_drawdown, 12)) >= {-1.0}


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: bootstrap_returns([0.01], n_paths=10), DataError, "at least 2"),
        (lambda: bootstrap_returns([0.0, 0.1], method="stationary"), ConfigError, "mean_block"),
        (lambda: bootstrap_returns([0.0, 0.1], method="block"), ConfigError, "'block'"),
        (lambda: bootstrap_returns([0.0, 0.1], confidence=1.5), ConfigError, "confidence 1.5"),
        (lambda: bootstrap_trades([], 100.0), DataError, "no closed trades"),
        (lambda: bootstrap_trades([1.0], 0.0), ConfigError, "initial_equity 0.0"),
    ],
)
def test_bad_inputs_are_named(call, error, message):
    with pytest.raises(error, match=message):
        call()
