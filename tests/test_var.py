"""VaR and ES: hand-worked historical cases, empyrical-reloaded, scipy's normal closed form,
Monte Carlo convergence within its standard error, correlation and concentration helpers."""

from __future__ import annotations

import math
from decimal import Decimal

import empyrical
import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from zvt_pipelines.errors import RiskInputError
from zvt_pipelines.portfolio.concentration import concentration, rolling_correlation
from zvt_pipelines.portfolio.valuation import positions_to_arrays, revalue
from zvt_pipelines.portfolio.var import (
    HorizonMethod,
    MonteCarloMethod,
    historical_var,
    monte_carlo_var,
    parametric_var,
    parametric_var_from_moments,
    var_es_from_pnl,
    var_table,
)

# Ten days of two assets; with values [1000, 500] the P&L per day is 1000·r1 + 500·r2:
#   20, −20, 25, −70, 5, 30, −40, 40, −20, 0
HAND_RETURNS = np.array(
    [
        [0.01, 0.02],
        [-0.02, 0.00],
        [0.03, -0.01],
        [-0.05, -0.04],
        [0.00, 0.01],
        [0.02, 0.02],
        [-0.01, -0.06],
        [0.04, 0.00],
        [-0.03, 0.02],
        [0.01, -0.02],
    ]
)
HAND_VALUES = np.array([1000.0, 500.0])


@pytest.mark.parametrize(
    ("confidence", "var", "es"),
    [
        # sorted P&L: −70, −40, −20, −20, 0, 5, 20, 25, 30, 40 (n = 10)
        # α = 0.1: position (n−1)·α = 0.9 -> −70 + 0.9·(−40 + 70) = −43; k = ⌊0.9⌋ + 1 = 1 -> 70
        (0.90, 43.0, 70.0),
        # α = 0.2: position 1.8 -> −40 + 0.8·(−20 + 40) = −24; k = ⌊1.8⌋ + 1 = 2 -> (70 + 40)/2
        (0.80, 24.0, 55.0),
    ],
)
def test_historical_one_day_by_hand(confidence: float, var: float, es: float) -> None:
    estimate = historical_var(HAND_RETURNS, HAND_VALUES, confidence=confidence)
    assert estimate.var == pytest.approx(var, abs=1e-9)
    assert estimate.es == pytest.approx(es, abs=1e-9)
    assert estimate.scenarios == 10


def test_historical_two_day_overlapping_and_sqrt_time_by_hand() -> None:
    """One asset worth 1000 with daily returns 0.1, −0.1, −0.2, 0.05.

    Overlapping 2-day windows: 1.1·0.9 − 1 = −0.01, 0.9·0.8 − 1 = −0.28, 0.8·1.05 − 1 = −0.16,
    P&L −10, −280, −160; sorted −280, −160, −10. At α = 0.5: position 2·0.5 = 1 -> VaR 160;
    k = ⌊1⌋ + 1 = 2 -> ES (280 + 160)/2 = 220.
    √time: 1-day P&L sorted −200, −100, 50, 100; position 3·0.5 = 1.5 -> −100 + 0.5·150 = −25,
    so VaR 25·√2; k = ⌊1.5⌋ + 1 = 2 -> ES (200 + 100)/2 = 150, times √2.
    """
    returns = np.array([[0.1], [-0.1], [-0.2], [0.05]])
    values = np.array([1000.0])
    overlapping = historical_var(returns, values, confidence=0.5, horizon=2)
    assert (overlapping.var, overlapping.es) == pytest.approx((160.0, 220.0), abs=1e-9)
    assert overlapping.scenarios == 3
    scaled = historical_var(
        returns, values, confidence=0.5, horizon=2, horizon_method=HorizonMethod.SQRT_TIME
    )
    assert (scaled.var, scaled.es) == pytest.approx((25 * math.sqrt(2), 150 * math.sqrt(2)))


@pytest.fixture(scope="module")
def fat_tailed_returns() -> np.ndarray:
    rng = np.random.default_rng(20240805)
    return 0.02 * rng.standard_t(df=3, size=(730, 3)) + 0.0005


@pytest.mark.parametrize("cutoff", [0.01, 0.05, 0.1])
def test_historical_matches_empyrical(fat_tailed_returns: np.ndarray, cutoff: float) -> None:
    """A long-only portfolio worth V = 10000 has VaR = −V·value_at_risk(r) of its return series."""
    values = np.array([5000.0, 3000.0, 2000.0])
    portfolio_returns = pd.Series(fat_tailed_returns @ (values / values.sum()))
    estimate = historical_var(fat_tailed_returns, values, confidence=1 - cutoff)
    expected_var = -10000 * empyrical.value_at_risk(portfolio_returns, cutoff=cutoff)
    expected_es = -10000 * empyrical.conditional_value_at_risk(portfolio_returns, cutoff=cutoff)
    assert estimate.var == pytest.approx(expected_var, rel=1e-10)
    assert estimate.es == pytest.approx(expected_es, rel=1e-10)


def test_rows_with_nan_are_dropped(fat_tailed_returns: np.ndarray) -> None:
    values = np.array([1.0, 2.0, 3.0])
    with_gap = fat_tailed_returns.copy()
    with_gap[10, 1] = np.nan
    dropped = np.delete(fat_tailed_returns, 10, axis=0)
    assert historical_var(with_gap, values) == historical_var(dropped, values)
    assert parametric_var(with_gap, values) == parametric_var(dropped, values)


def test_parametric_from_moments_by_hand() -> None:
    """One asset worth 1000, daily mean 0.001, variance 0.0004: μ = 1, σ = 20.
    99 %: z = Φ⁻¹(0.99); VaR_1 = −1 + 20z; VaR_7 = −7 + 20z·√7; ES_1 = −1 + 20·φ(z)/0.01."""
    z = norm.ppf(0.99)
    one = parametric_var_from_moments(
        np.array([0.001]), np.array([[0.0004]]), np.array([1000.0]), 0.99
    )
    seven = parametric_var_from_moments(
        np.array([0.001]), np.array([[0.0004]]), np.array([1000.0]), 0.99, horizon=7
    )
    assert one.var == pytest.approx(-1 + 20 * z, rel=1e-12)
    assert one.es == pytest.approx(-1 + 20 * norm.pdf(z) / 0.01, rel=1e-12)
    assert seven.var == pytest.approx(-7 + 20 * z * math.sqrt(7), rel=1e-12)


@pytest.mark.parametrize("horizon", [1, 7])
def test_parametric_matches_scipy_closed_form(fat_tailed_returns: np.ndarray, horizon: int) -> None:
    values = np.array([4000.0, -1500.0, 2500.0])
    mu = fat_tailed_returns.mean(axis=0) @ values
    sigma = math.sqrt(values @ np.cov(fat_tailed_returns.T) @ values)
    expected_var = -(mu * horizon) + norm.ppf(0.95) * sigma * math.sqrt(horizon)
    expected_es = -(mu * horizon) + sigma * math.sqrt(horizon) * norm.pdf(norm.ppf(0.95)) / 0.05
    # scipy's own normal quantile of the horizon P&L distribution, as a second reference
    scipy_var = -norm.ppf(0.05, loc=mu * horizon, scale=sigma * math.sqrt(horizon))
    estimate = parametric_var(fat_tailed_returns, values, 0.95, horizon)
    assert estimate.var == pytest.approx(expected_var, rel=1e-12)
    assert estimate.var == pytest.approx(scipy_var, rel=1e-10)
    assert estimate.es == pytest.approx(expected_es, rel=1e-12)


@pytest.fixture(scope="module")
def normal_returns() -> np.ndarray:
    rng = np.random.default_rng(7)
    mixing = rng.normal(size=(4, 4))
    covariance = 1e-4 * (mixing @ mixing.T + np.eye(4))
    return rng.multivariate_normal(np.full(4, 0.001), covariance, size=1500)


@pytest.mark.parametrize("horizon", [1, 7])
def test_monte_carlo_converges_to_parametric(normal_returns: np.ndarray, horizon: int) -> None:
    """The MC VaR estimates the α-quantile of N(μ, σ²) from n paths; its standard error is
    σ·√(α(1−α)/n) / φ(z) (asymptotic quantile variance α(1−α) / (n·f(q)²), f(q) = φ(z)/σ).
    Each of 5 seeds must land within 4 SE of the closed form; ES within 4 × the spread of
    the 5 seeds' ES estimates around their mean plus 4 SE of that mean."""
    values = np.array([3000.0, 2000.0, -1000.0, 4000.0])
    confidence, paths, alpha = 0.99, 100_000, 0.01
    closed = parametric_var(normal_returns, values, confidence, horizon)
    sigma = math.sqrt(values @ np.cov(normal_returns.T) @ values) * math.sqrt(horizon)
    z = norm.ppf(confidence)
    quantile_se = sigma * math.sqrt(alpha * (1 - alpha) / paths) / norm.pdf(z)
    estimates = [
        monte_carlo_var(normal_returns, values, confidence, horizon, paths=paths, seed=seed)
        for seed in range(5)
    ]
    for estimate in estimates:
        assert abs(estimate.var - closed.var) < 4 * quantile_se
    es_values = np.array([estimate.es for estimate in estimates])
    es_se = es_values.std(ddof=1) / math.sqrt(len(es_values))
    assert abs(es_values.mean() - closed.es) < 4 * es_se + 4 * quantile_se


def test_monte_carlo_is_reproducible_by_seed(normal_returns: np.ndarray) -> None:
    values = np.array([1.0, 1.0, 1.0, 1.0])
    first = monte_carlo_var(normal_returns, values, paths=1000, seed=3)
    assert first == monte_carlo_var(normal_returns, values, paths=1000, seed=3)
    assert first != monte_carlo_var(normal_returns, values, paths=1000, seed=4)


def test_bootstrap_on_a_two_point_distribution() -> None:
    """100 days: 10 of −10 %, 90 of +1 %; one asset worth 1000.

    1 day: P(−100) = 0.1 > 0.05, so the 5 % quantile and the tail mean are both −100.
    2 days: P(two bad) = 0.01 -> 1000·(0.9² − 1) = −190; P(one bad) = 0.18 -> 1000·(0.9·1.01 − 1)
    = −91; cumulative 0.01 then 0.19, so VaR = 91 and ES ≈ (0.01·190 + 0.04·91)/0.05 = 110.8.
    The count of −190 paths is Binomial(10⁵, 0.01), sd ≈ 31.5, moving ES by ≈ 31.5·99/5000 ≈ 0.62;
    allow 4 sd.
    """
    returns = np.array([[-0.1]] * 10 + [[0.01]] * 90)
    values = np.array([1000.0])
    one = monte_carlo_var(returns, values, 0.95, 1, seed=11, method=MonteCarloMethod.BOOTSTRAP)
    assert (one.var, one.es) == pytest.approx((100.0, 100.0), abs=1e-9)
    two = monte_carlo_var(returns, values, 0.95, 2, seed=11, method=MonteCarloMethod.BOOTSTRAP)
    assert two.var == pytest.approx(91.0, abs=1e-9)
    assert two.es == pytest.approx(110.8, abs=4 * 0.62)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"returns": np.zeros((5, 2)), "values": np.ones(3)}, "shape"),
        ({"returns": np.zeros((5, 2)), "values": np.ones(2), "confidence": 1.5}, "confidence=1.5"),
        ({"returns": np.zeros((5, 2)), "values": np.ones(2), "horizon": 0}, "horizon=0"),
        ({"returns": np.zeros((1, 2)), "values": np.ones(2)}, "1 complete row"),
    ],
)
def test_bad_inputs_are_named(kwargs: dict, message: str) -> None:
    with pytest.raises(RiskInputError, match=message):
        historical_var(**kwargs)


def test_rolling_correlation_matches_numpy_per_window() -> None:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.normal(size=(40, 3)), columns=["BTC", "ETH", "SOL"])
    frame.loc[20:29, "SOL"] = 0.01  # a flat stretch: zero variance inside some windows
    matrices = rolling_correlation(frame, window=10)
    assert matrices.shape == (31, 3, 3)
    for start in (0, 7, 30):
        expected = np.corrcoef(frame.iloc[start : start + 10].to_numpy().T)
        np.testing.assert_allclose(matrices[start], expected, rtol=1e-10)
    assert np.isnan(matrices[20, 2, 0]) and np.isnan(matrices[20, 0, 2])
    np.testing.assert_allclose(
        matrices[20, :2, :2], np.corrcoef(frame.iloc[20:30, :2].to_numpy().T)
    )


def test_concentration_by_hand() -> None:
    """|values| 6000, 3000, 1000 of 10000: weights 0.6, 0.3, 0.1; HHI = 0.36 + 0.09 + 0.01 = 0.46;
    effective holdings 1/0.46; largest BTC at 0.6 (a short counts by its size)."""
    result = concentration(pd.Series({"BTC": 6000.0, "ETH": -3000.0, "SOL": 1000.0}))
    assert result.herfindahl == pytest.approx(0.46, abs=1e-15)
    assert result.effective_holdings == pytest.approx(1 / 0.46)
    assert (result.largest_asset, result.largest_weight) == ("BTC", pytest.approx(0.6))
    with pytest.raises(RiskInputError, match="non-zero"):
        concentration(pd.Series({"BTC": 0.0}))


# --- revaluation of positions (the inputs of the VaR functions) ---------------------------


def test_revalue_three_positions_by_hand() -> None:
    """BTC  +0.5 @ 60000 now 62000: value  31000, PnL  0.5·2000 = +1000.
    ETH  −4   @ 3000  now 3100:  value −12400, PnL −4·100   = −400.
    SOL  +100 @ 150   now 140:   value  14000, PnL 100·−10  = −1000.
    Gross 31000 + 12400 + 14000 = 57400; net 32600; cash 10000 -> equity 42600;
    leverage 57400/42600; margin 5000 used of 5000 + 15000 -> 25 %."""
    book = positions_to_arrays(
        {
            "BTC/USDT": (Decimal("0.5"), Decimal("60000")),
            "ETH/USDT": (Decimal("-4"), Decimal("3000")),
            "SOL/USDT": (Decimal("100"), Decimal("150")),
        }
    )
    assert book.instruments == ("BTC/USDT", "ETH/USDT", "SOL/USDT")
    result = revalue(
        book.quantities,
        book.entry_prices,
        np.array([62000.0, 3100.0, 140.0]),
        cash=10000.0,
        margin_used=5000.0,
        margin_available=15000.0,
    )
    np.testing.assert_allclose(result.market_value, [31000.0, -12400.0, 14000.0], rtol=1e-15)
    np.testing.assert_allclose(result.unrealised_pnl, [1000.0, -400.0, -1000.0], rtol=1e-15)
    assert (result.gross_exposure, result.net_exposure) == (57400.0, 32600.0)
    assert result.equity == 42600.0
    assert result.leverage == pytest.approx(57400 / 42600, rel=1e-15)
    assert result.margin_utilisation == 0.25
    empty = revalue(np.zeros(1), np.ones(1), np.ones(1))
    assert math.isnan(empty.leverage) and math.isnan(empty.margin_utilisation)
    with pytest.raises(RiskInputError, match="same length"):
        revalue(np.zeros(2), np.zeros(3), np.zeros(2))


def test_var_table_collects_each_method(normal_returns: np.ndarray) -> None:
    values = np.array([1000.0, 2000.0, 500.0, 0.0])
    table = var_table(normal_returns, values, 0.99, horizons=(1, 7), paths=20_000, seed=5)
    assert list(table["method"]) == ["historical", "parametric", "monte_carlo_normal"] * 2
    assert list(table["horizon"]) == [1, 1, 1, 7, 7, 7]
    seven_day = historical_var(normal_returns, values, 0.99, 7)
    assert table.loc[3, "var"] == seven_day.var and table.loc[3, "es"] == seven_day.es
    assert table.loc[4, "var"] == parametric_var(normal_returns, values, 0.99, 7).var


def test_monte_carlo_with_a_duplicated_asset(normal_returns: np.ndarray) -> None:
    """Two identical columns make the covariance singular; holding 1000 of each is holding 2000
    of one, so the MC VaR must sit within 4 quantile SEs (as above) of that asset's closed form."""
    twin = np.column_stack([normal_returns[:, 0], normal_returns[:, 0]])
    estimate = monte_carlo_var(twin, np.array([1000.0, 1000.0]), 0.99, seed=2)
    single = parametric_var(normal_returns[:, :1], np.array([2000.0]), 0.99)
    sigma = 2000 * normal_returns[:, 0].std(ddof=1)
    quantile_se = sigma * math.sqrt(0.01 * 0.99 / 100_000) / norm.pdf(norm.ppf(0.99))
    assert abs(estimate.var - single.var) < 4 * quantile_se


# --- guards and edges, message by message ------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"returns": np.zeros((5, 2)), "values": np.ones(3)},
            "returns shape (5, 2) and values shape (3,): need T × N and N",
        ),
        (
            {"returns": np.zeros(5), "values": np.ones(1)},
            "returns shape (5,) and values shape (1,): need T × N and N",
        ),
        (
            {"returns": np.zeros((5, 1)), "values": np.ones((1, 1))},
            "returns shape (5, 1) and values shape (1, 1): need T × N and N",
        ),
        (
            {"returns": np.zeros((5, 2)), "values": np.ones(2), "confidence": 0.0},
            "confidence=0.0: must lie strictly between 0 and 1",
        ),
        (
            {"returns": np.zeros((5, 2)), "values": np.ones(2), "confidence": 1.0},
            "confidence=1.0: must lie strictly between 0 and 1",
        ),
        (
            {"returns": np.zeros((5, 2)), "values": np.ones(2), "horizon": 0},
            "horizon=0: must be a whole number of periods >= 1",
        ),
        (
            {"returns": np.zeros((5, 2)), "values": np.array([1.0, np.inf])},
            "values: every position value must be finite",
        ),
        (
            {"returns": np.array([[0.1, np.nan], [0.1, 0.2], [np.nan, 0.0]]), "values": np.ones(2)},
            "returns: 1 complete row(s); need at least 2",
        ),
        (
            {"returns": np.zeros((3, 1)), "values": np.ones(1), "horizon": 3},
            "returns: 3 rows cannot make 3-period windows",
        ),
    ],
)
def test_bad_inputs_messages_exactly(kwargs: dict, message: str) -> None:
    with pytest.raises(RiskInputError) as info:
        historical_var(**kwargs)
    assert str(info.value) == message


def test_the_smallest_valid_inputs_work() -> None:
    """Two complete rows, P&L 10 and -20 (values [1000]): at 50 % the median -5 gives VaR 5
    and the tail k = int(1 x 0.5) + 1 = 1 gives ES 20; a 2-period window needs 3 rows:
    (1.01 x 0.98 - 1) x 1000 = -10.2 and (0.98 x 1.03 - 1) x 1000 = 9.4."""
    two = np.array([[0.01], [-0.02]])
    estimate = historical_var(two, np.array([1000.0]), confidence=0.5)
    assert (estimate.var, estimate.es, estimate.scenarios) == pytest.approx((5.0, 20.0, 2))
    three = np.array([[0.01], [-0.02], [0.03]])
    windows = historical_var(three, np.array([1000.0]), confidence=0.5, horizon=2)
    assert windows.scenarios == 2 and windows.method == "historical"
    assert windows.var == pytest.approx(-(-10.2 + 9.4) / 2)  # the median of the two
    assert windows.es == pytest.approx(10.2)


def test_scenario_counts_and_method_names() -> None:
    values = HAND_VALUES
    assert historical_var(HAND_RETURNS, values).scenarios == 10
    assert historical_var(HAND_RETURNS, values, horizon=3).scenarios == 8  # 10 - 3 + 1
    root = historical_var(HAND_RETURNS, values, horizon=4, horizon_method=HorizonMethod.SQRT_TIME)
    assert (root.scenarios, root.horizon) == (10, 4)
    assert root.var == pytest.approx(2 * historical_var(HAND_RETURNS, values).var)
    assert parametric_var(HAND_RETURNS, values).scenarios == 10
    boot = monte_carlo_var(HAND_RETURNS, values, paths=50, method=MonteCarloMethod.BOOTSTRAP)
    assert (boot.method, boot.scenarios) == ("monte_carlo_bootstrap", 50)
    with pytest.raises(RiskInputError) as info:
        monte_carlo_var(HAND_RETURNS, values, paths=1)
    assert str(info.value) == "paths=1: need at least 2"
    assert monte_carlo_var(HAND_RETURNS, values, paths=2).scenarios == 2


def test_parametric_from_moments_guards_and_clamps() -> None:
    """A (numerically) negative variance counts as 0: VaR = ES = -mean x h."""
    flat = parametric_var_from_moments(
        np.array([0.001]), np.array([[-1e-20]]), np.array([1000.0]), 0.95, 3
    )
    assert (flat.var, flat.es) == pytest.approx((-3.0, -3.0))
    for confidence in (0.0, 1.0):
        with pytest.raises(RiskInputError, match=f"confidence={confidence}: must lie strictly"):
            parametric_var_from_moments(np.zeros(1), np.eye(1), np.ones(1), confidence)


def test_var_table_uses_sqrt_time_when_history_is_short() -> None:
    """10 rows: a 7-period horizon needs 14 for overlapping windows, so the table scales the
    1-period figure by sqrt(7); 5 periods fit (10 >= 2 x 5) and use windows."""
    table = var_table(HAND_RETURNS, HAND_VALUES, 0.9, horizons=(5, 7), paths=200, seed=1)
    root = historical_var(HAND_RETURNS, HAND_VALUES, 0.9, 7, HorizonMethod.SQRT_TIME)
    windows = historical_var(HAND_RETURNS, HAND_VALUES, 0.9, 5)
    assert (table.loc[3, "var"], table.loc[3, "scenarios"]) == (root.var, 10)
    assert (table.loc[0, "var"], table.loc[0, "scenarios"]) == (windows.var, 6)
    assert list(table.columns) == ["method", "horizon", "confidence", "var", "es", "scenarios"]
    assert (table["confidence"] == 0.9).all()


def test_infinite_returns_are_refused_by_name() -> None:
    """An inf return (e.g. a division by a zero price upstream) would make every figure
    inf or NaN; it is refused, counted, before any method runs."""
    broken = HAND_RETURNS.copy()
    broken[3, 1] = np.inf
    broken[5, 0] = -np.inf
    for method in (historical_var, parametric_var, monte_carlo_var):
        with pytest.raises(RiskInputError) as info:
            method(broken, HAND_VALUES)
        assert str(info.value) == (
            "returns: 2 infinite value(s); returns must be finite (NaN marks a gap)"
        )


def test_var_es_from_a_pnl_sample_directly() -> None:
    """Empty: (NaN, NaN). One P&L of -5: VaR = ES = 5. P&Ls 5 4 3 2 1 -10 -20 at 80 %:
    sorted -20 -10 1 2 3 4 5, alpha 0.2, position 6 x 0.2 = 1.2 -> -10 + 0.2 x 11 = -7.8,
    so VaR 7.8; the tail is the k = int(1.2) + 1 = 2 lowest, (-20 - 10) / 2, so ES 15.
    NaN P&Ls are dropped."""
    empty = var_es_from_pnl(np.array([]))
    assert math.isnan(empty[0]) and math.isnan(empty[1])
    assert var_es_from_pnl([-5.0]) == (5.0, 5.0)
    assert var_es_from_pnl([5.0, 4, 3, 2, 1, -10, -20], 0.8) == pytest.approx((7.8, 15.0))
    assert var_es_from_pnl([5.0, np.nan, 4, 3, 2, 1, -10, -20], 0.8) == pytest.approx((7.8, 15.0))


def test_estimates_carry_their_inputs() -> None:
    moments = parametric_var_from_moments(np.zeros(1), np.eye(1), np.ones(1), 0.9, 3)
    assert (moments.confidence, moments.horizon, moments.method, moments.scenarios) == (
        0.9,
        3,
        "parametric",
        0,
    )


def test_monte_carlo_draws_are_the_documented_ones(normal_returns: np.ndarray) -> None:
    """The docstring fixes the draw: z from numpy.random.default_rng(seed), returns
    mu h + sqrt(h) L z with L the Cholesky factor of the sample covariance (ddof 1); the
    default seed is 0. Rebuilt here with numpy, the figures agree to the last bits."""
    values = np.array([1000.0, -500.0, 250.0, 0.0])
    paths, horizon = 5_000, 3
    mean = normal_returns.mean(axis=0)
    lower = np.linalg.cholesky(np.cov(normal_returns, rowvar=False, ddof=1))
    z = np.random.default_rng(0).standard_normal((paths, normal_returns.shape[1]))
    pnl = (z @ (lower.T * math.sqrt(horizon)) + mean * horizon) @ values
    expected = var_es_from_pnl(pnl, 0.99)
    estimate = monte_carlo_var(normal_returns, values, 0.99, horizon, paths)
    assert (estimate.var, estimate.es) == pytest.approx(expected, rel=1e-12)
    table = var_table(normal_returns, values, 0.99, horizons=(horizon,), paths=paths, seed=0)
    assert (table.loc[2, "var"], table.loc[2, "es"]) == pytest.approx(expected, rel=1e-12)
    seeded = var_table(normal_returns, values, 0.99, horizons=(horizon,), paths=paths, seed=9)
    nine = monte_carlo_var(normal_returns, values, 0.99, horizon, paths, seed=9)
    assert seeded.loc[2, "var"] == nine.var and seeded.loc[2, "es"] == nine.es


def test_decimal_and_integer_inputs_are_read_as_floats() -> None:
    """Position values straight from the Decimal ledger, returns as plain lists."""
    as_decimal = [Decimal("1000"), Decimal("500")]
    reference = historical_var(HAND_RETURNS, HAND_VALUES, 0.9)
    assert historical_var(HAND_RETURNS.tolist(), as_decimal, 0.9) == reference
    assert parametric_var(HAND_RETURNS.tolist(), as_decimal).var == pytest.approx(
        parametric_var(HAND_RETURNS, HAND_VALUES).var, rel=1e-15
    )
    assert monte_carlo_var(HAND_RETURNS, as_decimal, paths=100).var == pytest.approx(
        monte_carlo_var(HAND_RETURNS, HAND_VALUES, paths=100).var, rel=1e-15
    )
