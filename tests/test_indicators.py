"""Indicators against textbook formulas written out as plain loops, plus causality.

References here are independent re-statements of the definitions (Wilder 1978 for RSI,
ATR and ADX; Appel for MACD; Bollinger with the population std), not calls into the
module under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from zvt_pipelines.analytics import indicators as ind


@pytest.fixture(scope="module")
def ohlc() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 300)))
    high = close * (1 + rng.uniform(0, 0.01, 300))
    low = close * (1 - rng.uniform(0, 0.01, 300))
    return high, low, close


def ref_sma(x, n):
    return [sum(x[t - n + 1 : t + 1]) / n if t >= n - 1 else math.nan for t in range(len(x))]


def ref_ema(x, n, alpha=None):
    """SMA-seeded recursive average from the first non-NaN value."""
    alpha = 2 / (n + 1) if alpha is None else alpha
    out = [math.nan] * len(x)
    start = next(i for i, v in enumerate(x) if not math.isnan(v))
    if start + n > len(x):
        return out
    prev = sum(x[start : start + n]) / n
    out[start + n - 1] = prev
    for t in range(start + n, len(x)):
        prev = alpha * x[t] + (1 - alpha) * prev
        out[t] = prev
    return out


def ref_rsi(close, n):
    out = [math.nan] * len(close)
    gains = [max(close[i] - close[i - 1], 0) for i in range(1, len(close))]
    losses = [max(close[i - 1] - close[i], 0) for i in range(1, len(close))]
    avg_gain = sum(gains[:n]) / n
    avg_loss = sum(losses[:n]) / n
    for t in range(n, len(close)):
        if t > n:
            avg_gain = (avg_gain * (n - 1) + gains[t - 1]) / n
            avg_loss = (avg_loss * (n - 1) + losses[t - 1]) / n
        out[t] = 100.0 if avg_loss == 0 else 100 - 100 / (1 + avg_gain / avg_loss)
    return out


def ref_adx(high, low, close, n):
    """Wilder's ADX with running sums (TR14 = TR14 - TR14/14 + TR): ratios equal RMA's."""
    out = [math.nan] * len(close)
    trs, pdm, mdm = [], [], []
    for t in range(1, len(close)):
        trs.append(max(high[t] - low[t], abs(high[t] - close[t - 1]), abs(low[t] - close[t - 1])))
        up, down = high[t] - high[t - 1], low[t - 1] - low[t]
        pdm.append(up if up > down and up > 0 else 0.0)
        mdm.append(down if down > up and down > 0 else 0.0)
    str_, sp, sm = sum(trs[:n]), sum(pdm[:n]), sum(mdm[:n])
    dxs = []
    for k in range(n - 1, len(trs)):
        if k > n - 1:
            str_ = str_ - str_ / n + trs[k]
            sp = sp - sp / n + pdm[k]
            sm = sm - sm / n + mdm[k]
        pdi, mdi = 100 * sp / str_, 100 * sm / str_
        dxs.append(100 * abs(pdi - mdi) / (pdi + mdi))
    adx = sum(dxs[:n]) / n
    out[2 * n - 1] = adx
    for k in range(n, len(dxs)):
        adx = (adx * (n - 1) + dxs[k]) / n
        out[k + n] = adx
    return out


def assert_close(actual, expected, rel=1e-8):
    actual = np.asarray(actual, dtype=float)
    expected = np.asarray(expected, dtype=float)
    assert np.array_equal(np.isnan(actual), np.isnan(expected))
    mask = ~np.isnan(expected)
    np.testing.assert_allclose(actual[mask], expected[mask], rtol=rel, atol=1e-8)


def test_sma_ema_rma_match_loops(ohlc):
    close = list(ohlc[2])
    assert_close(ind.sma(ohlc[2], 10), ref_sma(close, 10))
    assert_close(ind.ema(ohlc[2], 10), ref_ema(close, 10))
    assert_close(ind.rma(ohlc[2], 14), ref_ema(close, 14, alpha=1 / 14))


def test_ema_hand_values():
    """EMA(3) of 1..6: seed mean(1,2,3)=2 at index 2; alpha 0.5: 3, 4, 5."""
    assert_close(ind.ema([1, 2, 3, 4, 5, 6], 3), [math.nan, math.nan, 2, 3, 4, 5])


def test_rsi_matches_wilder(ohlc):
    assert_close(ind.rsi(ohlc[2], 14), ref_rsi(list(ohlc[2]), 14))


def test_rsi_extremes_by_construction():
    assert np.nanmin(ind.rsi(np.arange(1.0, 40.0), 14)) == 100.0
    assert np.nanmax(ind.rsi(np.arange(40.0, 1.0, -1), 14)) == 0.0
    assert np.all(ind.rsi(np.full(30, 5.0), 14)[14:] == 50.0)


def test_macd_is_ema_difference_with_ema_signal(ohlc):
    close = list(ohlc[2])
    line, signal, hist = ind.macd(ohlc[2], 12, 26, 9)
    expected_line = [a - b for a, b in zip(ref_ema(close, 12), ref_ema(close, 26), strict=True)]
    assert_close(line, expected_line)
    assert_close(signal, ref_ema(expected_line, 9))
    assert_close(hist, np.asarray(expected_line) - np.asarray(ref_ema(expected_line, 9)))
    assert np.isnan(signal[25 + 7]) and not np.isnan(signal[25 + 8])


def test_bollinger_uses_population_std(ohlc):
    close = list(ohlc[2])
    lower, middle, upper = ind.bollinger(ohlc[2], 20, 2.0)
    for t in range(19, len(close)):
        window = close[t - 19 : t + 1]
        mean = sum(window) / 20
        std = math.sqrt(sum((v - mean) ** 2 for v in window) / 20)  # population: divide by n
        assert middle[t] == pytest.approx(mean, rel=1e-10)
        assert upper[t] == pytest.approx(mean + 2 * std, rel=1e-10)
        assert lower[t] == pytest.approx(mean - 2 * std, rel=1e-10)
    sample = ind.rolling_std(ohlc[2], 20, ddof=1)
    window = close[:20]
    mean = sum(window) / 20
    assert sample[19] == pytest.approx(math.sqrt(sum((v - mean) ** 2 for v in window) / 19))


def test_zscore_hand_value():
    """Window [1, 2, 3, 4, 10]: mean 4, population var (9+4+1+0+36)/5 = 10 -> z = 6/sqrt(10)."""
    z = ind.zscore([1.0, 2.0, 3.0, 4.0, 10.0], 5)
    assert z[4] == pytest.approx(6 / math.sqrt(10), rel=1e-12)
    assert np.isnan(ind.zscore(np.full(6, 3.0), 5)[-1])


def test_atr_and_adx_match_wilder(ohlc):
    high, low, close = (list(a) for a in ohlc)
    tr = [high[0] - low[0]] + [
        max(high[t] - low[t], abs(high[t] - close[t - 1]), abs(low[t] - close[t - 1]))
        for t in range(1, len(close))
    ]
    assert_close(ind.atr(*ohlc, 14), ref_ema(tr, 14, alpha=1 / 14))
    assert_close(ind.adx(*ohlc, 14), ref_adx(high, low, close, 14), rel=1e-7)


def test_efficiency_ratio_by_construction():
    line = np.arange(50.0)
    assert np.allclose(ind.efficiency_ratio(line, 10)[10:], 1.0)
    zigzag = np.tile([1.0, 2.0], 25)
    assert np.allclose(ind.efficiency_ratio(zigzag, 10)[10:], 0.0)  # even window: no net move


def test_rolling_extremes():
    x = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0])
    assert_close(ind.rolling_max(x, 3), [math.nan, math.nan, 4, 4, 5, 9, 9])
    assert_close(ind.rolling_min(x, 3), [math.nan, math.nan, 1, 1, 1, 1, 2])


@pytest.mark.parametrize(
    "compute",
    [
        lambda h, lo, c: ind.sma(c, 10),
        lambda h, lo, c: ind.ema(c, 10),
        lambda h, lo, c: ind.rsi(c, 14),
        lambda h, lo, c: ind.macd(c)[2],
        lambda h, lo, c: ind.bollinger(c)[2],
        lambda h, lo, c: ind.zscore(c),
        lambda h, lo, c: ind.atr(h, lo, c),
        lambda h, lo, c: ind.adx(h, lo, c),
        lambda h, lo, c: ind.efficiency_ratio(c),
    ],
)
def test_no_look_ahead(ohlc, compute):
    """Changing every bar after t leaves every value at <= t unchanged."""
    high, low, close = (a.copy() for a in ohlc)
    before = compute(high, low, close)
    t = 150
    rng = np.random.default_rng(5)
    for array in (high, low, close):
        array[t + 1 :] *= rng.uniform(0.5, 1.5, len(array) - t - 1)
    after = compute(high, low, close)
    np.testing.assert_array_equal(before[: t + 1], after[: t + 1])


def test_bad_window_is_config_error():
    from zvt_pipelines.errors import ConfigError

    with pytest.raises(ConfigError, match="window 0"):
        ind.ema([1.0, 2.0], 0)
    with pytest.raises(ConfigError, match="fast 26 / slow 12"):
        ind.macd([1.0] * 40, 26, 12)


def test_equal_averages_are_equal_floats_and_the_cross_waits_for_a_real_move():
    """Closes 0.05, 0.08, 0.1, 0.1, 0.1, 0.1, 0.09; fast SMA(2) against slow SMA(3).

    Exact arithmetic:  t=3 fast 0.1 > slow 0.28/3;  t=4, t=5 fast 0.1 = slow 0.3/3 = 0.1
    (a tie: no cross);  t=6 fast 0.19/2 = 0.095 < slow 0.29/3 = 0.0966..., after a tie:
    the cross below fires at t=6. Summed left to right in floats, 0.1 + 0.1 + 0.1 =
    0.30000000000000004, so the slow mean at t=4 is 0.10000000000000002 > 0.1 and a
    strict cross below would fire at t=4, two bars early.
    """
    from zvt_pipelines.analytics.indicators import sma_cross_targets

    close = np.array([0.05, 0.08, 0.1, 0.1, 0.1, 0.1, 0.09])
    assert (0.1 + 0.1 + 0.1) / 3 > 0.1  # the noise this guards against
    fast, slow = ind.sma(close, 2), ind.sma(close, 3)
    assert fast[4] == slow[4] == 0.1 and fast[5] == slow[5] == 0.1
    targets = sma_cross_targets(close, 2, 3)
    assert np.flatnonzero(~np.isnan(targets)).tolist() == [6]
    assert targets[6] == 0.0


def test_sma_is_the_exact_decimal_mean_rounded_once(shared_data):
    """On 3,000 real BNB closes (prices with up to 4 decimals): every SMA value equals the
    exact mean of the printed decimals (fractions.Fraction), rounded once to a float."""
    from fractions import Fraction

    from zvt_pipelines.data.candles import read_candle_file

    close = read_candle_file(shared_data / "binance_BNB-USDT_1h.csv.gz")["close"].to_numpy()
    close = close[:3_000]
    exact = [Fraction(repr(value)) for value in close.tolist()]
    for window in (2, 3, 7, 50):
        got = ind.sma(close, window)
        expected = [
            float(sum(exact[t - window + 1 : t + 1]) / window) for t in range(window - 1, 3_000)
        ]
        assert got[window - 1 :].tolist() == expected, window


def test_sma_of_values_that_are_no_short_decimals_is_fsum_over_the_window(ohlc):
    """Simulated prices (17 significant digits): the window sum rounded once, as math.fsum,
    divided by the window -- backtrader's SMA, bit for bit."""
    close = ohlc[2]
    for window in (3, 20):
        values = close.tolist()
        expected = [
            math.fsum(values[t - window + 1 : t + 1]) / window for t in range(window - 1, 300)
        ]
        assert ind.sma(close, window)[window - 1 :].tolist() == expected


def test_sma_is_nan_for_windows_holding_a_nan():
    """Windows of 2 over 1, NaN, 2, 3: NaN, NaN, NaN, 2.5."""
    got = ind.sma(np.array([1.0, np.nan, 2.0, 3.0]), 2)
    assert np.isnan(got[:3]).all() and got[3] == 2.5
