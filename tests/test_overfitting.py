"""Deflated Sharpe ratio and PBO (CSCV) against the papers' numbers and plain re-computations."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from zvt_pipelines.backtest.overfitting import (
    BlockMoments,
    ReturnStats,
    deflated_sharpe_of,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    pbo_from_blocks,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
    sharpe_per_period,
)
from zvt_pipelines.errors import DataError


def test_dsr_reproduces_the_papers_numerical_example():
    """Bailey & López de Prado (2014), numerical example: an annualised SR of 2.5 picked
    from N = 100 trials whose annualised Sharpe variance is 0.5, on 5 years of daily
    returns (T = 1250, 250 days a year), skewness -3, kurtosis 10.

    Per period: SR = 2.5 / sqrt(250) = 0.158114, V = 0.5 / 250 = 0.002.
    E[max SR] = sqrt(0.002) * ((1 - 0.5772) * Φ⁻¹(0.99) + 0.5772 * Φ⁻¹(1 - 1/(100e)))
              = 0.044721 * (0.422784 * 2.326348 + 0.577216 * 2.6788) = 0.1132   (paper: 0.1132)
    z = (0.158114 - 0.1132) * sqrt(1249) / sqrt(1 + 3 * 0.158114 + 9/4 * 0.158114²)
      = 0.044942 * 35.341 / 1.2477 = 1.2826... -> Φ(z) = 0.9004        (paper: 0.9004)
    """
    sharpe, variance = 2.5 / math.sqrt(250), 0.5 / 250
    assert expected_max_sharpe(variance, 100) == pytest.approx(0.1132, abs=5e-5)
    dsr = deflated_sharpe_ratio(sharpe, variance, 100, 1250, skew=-3.0, kurtosis=10.0)
    assert round(dsr, 4) == 0.9004


def test_expected_maximum_matches_simulated_maxima_of_independent_trials():
    """E[max of N standard normals] by simulation; the paper's approximation is within ~1 %
    for N >= 100. Scaling by sqrt(V) scales the maximum by the standard deviation."""
    rng = np.random.default_rng(7)
    for n_trials in (100, 1000):
        simulated = rng.standard_normal((4000, n_trials)).max(axis=1).mean()
        assert expected_max_sharpe(1.0, n_trials) == pytest.approx(simulated, rel=0.015)
        assert expected_max_sharpe(0.04, n_trials) == pytest.approx(0.2 * simulated, rel=0.015)
    assert expected_max_sharpe(0.3, 1) == 0.0  # one trial: nothing was selected


def test_psr_with_normal_returns_is_the_textbook_z_score():
    """Normal returns (skew 0, kurtosis 3): z = (SR - SR*) sqrt(T-1) / sqrt(1 + SR²/2).
    SR = 0.1, SR* = 0.05, T = 401: z = 0.05 * 20 / sqrt(1.005) = 0.997509; Φ(z) = 0.840741."""
    assert probabilistic_sharpe_ratio(0.1, 0.05, 401) == pytest.approx(0.840741, abs=1e-6)
    # a benchmark equal to the estimate leaves a coin flip
    assert probabilistic_sharpe_ratio(0.1, 0.1, 401, -2.0, 9.0) == pytest.approx(0.5)


def test_dsr_falls_as_more_trials_are_tried():
    values = [deflated_sharpe_ratio(0.1, 0.001, n, 1000, -0.5, 5.0) for n in (1, 2, 10, 100, 1000)]
    assert all(later < earlier for earlier, later in itertools.pairwise(values))
    assert values[0] > 0.99 and values[-1] < 0.5


def test_return_stats_match_moments_written_out():
    """Sharpe = mean / std(ddof=1); skew = m3 / m2^1.5 and kurtosis = m4 / m2² with the
    central moments m_k = mean((x - mean)^k)."""
    rng = np.random.default_rng(3)
    returns = rng.standard_t(4, 500) * 0.01 + 0.0005
    centred = returns - returns.mean()
    m2, m3, m4 = (np.mean(centred**k) for k in (2, 3, 4))
    got = ReturnStats.of(returns)
    assert got.n_obs == 500
    assert got.sharpe == pytest.approx(returns.mean() / returns.std(ddof=1), rel=1e-12)
    assert got.skew == pytest.approx(m3 / m2**1.5, rel=1e-10)
    assert got.kurtosis == pytest.approx(m4 / m2**2, rel=1e-10)
    assert ReturnStats.of(np.zeros(10)) == ReturnStats(10, 0.0, 0.0, 3.0)


def test_dsr_of_trials_uses_their_count_and_sample_variance():
    """Sharpes 0.1, 0.2, 0.3 -> N = 3, V = 0.01 (ddof=1)."""
    selected = ReturnStats(n_obs=250, sharpe=0.3, skew=0.0, kurtosis=3.0)
    expected = deflated_sharpe_ratio(0.3, 0.01, 3, 250)
    assert deflated_sharpe_of(selected, np.array([0.1, 0.2, 0.3])) == pytest.approx(expected)


def brute_force_cscv(matrix: np.ndarray, n_splits: int) -> list[float]:
    """CSCV written out plainly: every half of the blocks in-sample, Sharpe per column,
    the in-sample winner's out-of-sample average rank (1 = worst) over N + 1, its logit."""
    periods, trials = matrix.shape
    size = periods // n_splits
    rows = matrix[periods - size * n_splits :]
    blocks = [rows[i * size : (i + 1) * size] for i in range(n_splits)]
    logits = []
    for inside in itertools.combinations(range(n_splits), n_splits // 2):
        in_rows = np.vstack([blocks[i] for i in inside])
        out_rows = np.vstack([blocks[i] for i in range(n_splits) if i not in inside])
        in_sharpe = in_rows.mean(axis=0) / in_rows.std(axis=0, ddof=1)
        out_sharpe = out_rows.mean(axis=0) / out_rows.std(axis=0, ddof=1)
        winner = int(np.argmax(in_sharpe))
        omega = stats.rankdata(out_sharpe)[winner] / (trials + 1)
        logits.append(math.log(omega / (1 - omega)))
    return logits


@pytest.mark.parametrize(("n_splits", "periods", "trials"), [(4, 40, 3), (6, 61, 5), (8, 96, 7)])
def test_cscv_equals_the_brute_force(n_splits, periods, trials):
    rng = np.random.default_rng(n_splits)
    matrix = rng.normal(0.0, 0.01, (periods, trials)) + rng.normal(0, 0.002, trials)
    expected = brute_force_cscv(matrix, n_splits)
    got = probability_of_backtest_overfitting(matrix, n_splits)
    assert got.n_combinations == math.comb(n_splits, n_splits // 2) == len(expected)
    np.testing.assert_allclose(np.sort(got.logits), np.sort(expected), rtol=1e-9, atol=1e-12)
    assert got.pbo == pytest.approx(np.mean(np.array(expected) <= 0))


def test_cscv_hand_worked_two_trials():
    """S = 4 blocks of 2 periods, two trials (returns exact in binary).

    Case 1: A earns 0.25, 0.75 in every block, B -0.25, 0.25. On any 4 rows A's Sharpe
    is 0.5 / sqrt(4 * 0.25² / 3) = 1.732 and B's 0, so A wins in-sample in all
    C(4, 2) = 6 splits and ranks 2 of 2 out of sample: ω = 2/3, λ = ln 2, PBO = 0.

    Case 2: A has the edge in blocks 0, 1 (0.25, 0.75) and loses in blocks 2, 3
    (-0.75, -0.25); B is the mirror image. Split {0,1}: A wins in-sample (1.732 vs
    -1.732) and ranks last out of sample: ω = 1/3, λ = -ln 2; split {2,3} the same for B.
    The 4 mixed splits hold one good and one bad block for both: Sharpe 0 each, a tie in
    and out of sample, average rank 1.5, ω = 1/2, λ = 0, which counts as overfit
    (λ ≤ 0). PBO = 6/6 = 1.
    """
    a = np.tile([0.25, 0.75], 4)
    b = np.tile([-0.25, 0.25], 4)
    result = probability_of_backtest_overfitting(np.column_stack([a, b]), 4)
    np.testing.assert_allclose(result.logits, [math.log(2)] * 6)
    assert result.pbo == 0.0

    good, bad = [0.25, 0.75], [-0.75, -0.25]
    mirrored = np.column_stack([good * 2 + bad * 2, bad * 2 + good * 2])
    result = probability_of_backtest_overfitting(mirrored, 4)
    np.testing.assert_allclose(np.sort(result.logits), [-math.log(2)] * 2 + [0.0] * 4, atol=1e-12)
    assert result.pbo == 1.0


def test_pure_noise_trials_overfit_about_half_the_time():
    """With no edge anywhere the in-sample winner is a random trial out of sample, so PBO
    is 0.5 on average. One data set's PBO varies widely (its splits share the data), so
    average 40 seeded data sets (spread ~0.22 each, ~0.035 for the mean)."""
    rng = np.random.default_rng(5)
    values = [
        probability_of_backtest_overfitting(rng.normal(0, 0.01, (400, 20)), 8).pbo
        for _ in range(40)
    ]
    assert 0.4 < np.mean(values) < 0.65
    assert (
        probability_of_backtest_overfitting(rng.normal(0, 0.01, (2000, 40))).n_combinations == 12870
    )


def test_one_trial_with_a_real_edge_is_not_overfit():
    rng = np.random.default_rng(12)
    matrix = rng.normal(0, 0.01, (2000, 40))
    matrix[:, 17] += 0.004  # Sharpe 0.4 per period against 0 for the rest
    assert probability_of_backtest_overfitting(matrix, 16).pbo < 0.02


def test_block_moments_sum_the_kept_returns():
    """T = 11, S = 4: blocks of 2, the 3 oldest returns left out."""
    returns = np.arange(11.0)
    moments = BlockMoments.of(returns, 4)
    np.testing.assert_array_equal(moments.count, [2, 2, 2, 2])
    np.testing.assert_array_equal(moments.total, [3 + 4, 5 + 6, 7 + 8, 9 + 10])
    np.testing.assert_array_equal(moments.squares, [9 + 16, 25 + 36, 49 + 64, 81 + 100])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: probability_of_backtest_overfitting(np.zeros((100, 3)), 5), "must be even"),
        (lambda: probability_of_backtest_overfitting(np.zeros((7, 3)), 4), "fewer than 2"),
        (lambda: probability_of_backtest_overfitting(np.zeros(100), 4), "periods × trials"),
        (lambda: pbo_from_blocks([BlockMoments.of(np.ones(8), 2)]), "at least 2 trials"),
        (lambda: sharpe_per_period(np.ones(1)), "at least 2 returns"),
        (lambda: expected_max_sharpe(-1.0, 5), "cannot be negative"),
    ],
)
def test_bad_input_is_named(call, message):
    with pytest.raises(DataError, match=message):
        call()


def test_optimize_reports_dsr_and_pbo_of_its_trials(shared_data):
    """A 4×3 SMA grid on 2,000 real hourly bars: the result's figures equal the DSR formula
    and the brute-force CSCV (S = 6) applied to every trial's equity returns from
    `run_targets` (pandas pct_change), the best trial picked by final equity."""
    from zvt_pipelines.analytics.indicators import sma_cross_targets
    from zvt_pipelines.backtest.engine import run_targets
    from zvt_pipelines.backtest.optimize import IntParam, SmaCrossObjective, optimize
    from zvt_pipelines.backtest.settings import BacktestSettings
    from zvt_pipelines.data.candles import read_candle_file

    frame = read_candle_file(shared_data / "binance_BTC-USDT_1h.csv.gz").iloc[-2000:]
    frame = frame.reset_index(drop=True)
    space = [IntParam("fast", 5, 20, 5), IntParam("slow", 30, 90, 30)]
    result = optimize(SmaCrossObjective(frame, BacktestSettings()), space, overfitting_splits=6)

    close = frame["close"].to_numpy(dtype="float64")
    columns = []
    for trial in result.trials:
        targets = sma_cross_targets(close, trial.params["fast"], trial.params["slow"])
        equity = run_targets(frame, targets).equity
        columns.append(equity.pct_change().iloc[1:].to_numpy())
    matrix = np.column_stack(columns)
    sharpes = matrix.mean(axis=0) / matrix.std(axis=0, ddof=1)
    best = matrix[:, result.best.number]
    n, variance, gamma = len(columns), sharpes.var(ddof=1), 0.5772156649015329
    benchmark = math.sqrt(variance) * (
        (1 - gamma) * stats.norm.ppf(1 - 1 / n) + gamma * stats.norm.ppf(1 - 1 / (n * math.e))
    )
    sr, skew, kurt = (
        sharpes[result.best.number],
        stats.skew(best),
        stats.kurtosis(best, fisher=False),
    )
    z = (
        (sr - benchmark)
        * math.sqrt(best.size - 1)
        / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
    )
    assert result.deflated_sharpe == pytest.approx(stats.norm.cdf(z), rel=1e-9)
    expected = brute_force_cscv(matrix, 6)
    assert result.pbo == pytest.approx(np.mean(np.array(expected) <= 0))
    assert result.overfitting.n_trials == 12


def test_optimize_without_trial_returns_has_no_figures():
    from zvt_pipelines.backtest.optimize import IntParam, optimize

    result = optimize(lambda p: -((p["x"] - 3) ** 2), [IntParam("x", 0, 6)])
    assert result.best.params == {"x": 3}
    assert result.deflated_sharpe is None and result.pbo is None
