"""The exact rolling mean's edges: which decimal path a series takes, NaN and infinity
inside windows on both paths, and the guard that keeps the integer sum from overflowing.

References are independent: `math.fsum` (the window sum rounded once) and hand-picked
values at the float64 limits (2**52, 12 decimal places).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from zvt_pipelines.analytics.indicator_kernels import decimal_places_nb, rolling_mean_nb

NAN, INF = np.nan, np.inf


@pytest.mark.parametrize(
    ("values", "places"),
    [
        ([], 0),
        ([3.0, 7.0], 0),
        ([0.1], 1),
        ([1.5, 2.25, NAN], 2),
        ([NAN, 0.5], 1),  # a leading NaN is skipped, not the end of the scan
        ([1.0, 0.001, 2.5], 3),
        ([1e-12], 12),
        ([1e-13], -1),  # needs 13 places: more than 12
        ([1.0 / 3.0], -1),  # no short decimal at all
        ([1.0, INF], -1),
        ([-INF], -1),
        ([2.0**51], 0),  # below 2**52: an exact whole number
        ([3.5e15], 0),
        ([2.0**52], -1),  # at 2**52 no longer
        ([4e14 + 0.5], 1),  # 4e15 + 5 tenths < 2**52
        ([1e15 + 0.5], -1),  # 1e16 + 5 tenths >= 2**52
    ],
)
def test_decimal_places(values, places):
    assert decimal_places_nb(np.array(values, dtype="float64")) == places


def fsum_means(values: list[float], window: int) -> list[float]:
    """math.fsum over each full window without a NaN or infinity, divided by the window."""
    out = []
    for t in range(len(values)):
        part = values[max(0, t - window + 1) : t + 1]
        ok = t >= window - 1 and all(math.isfinite(v) for v in part)
        out.append(math.fsum(part) / window if ok else NAN)
    return out


def test_double_double_path_skips_windows_with_nan_or_infinity():
    """Thirds are no short decimals (places -1): windows of 3 that touch the NaNs at 2-3 or
    the infinity at 7 are NaN; the others are fsum / 3."""
    third = 1.0 / 3.0
    values = [third, 2 * third, NAN, NAN, third, third, 2 * third, INF, third, third, third]
    got = rolling_mean_nb(np.array(values), 3, -1)
    np.testing.assert_array_equal(got, fsum_means(values, 3))
    assert np.isnan(got[:6]).all() and got[6] == math.fsum(values[4:7]) / 3
    assert np.isnan(got[7:10]).all() and got[10] == math.fsum([third] * 3) / 3


def test_decimal_path_with_two_nans_in_one_window():
    """1, NaN, NaN, 2, 3, 4, 5 (places 0), window 3: NaN until the NaNs have left, then
    (2 + 3 + 4) / 3 = 3 and (3 + 4 + 5) / 3 = 4."""
    values = np.array([1.0, NAN, NAN, 2.0, 3.0, 4.0, 5.0])
    got = rolling_mean_nb(values, 3, 0)
    np.testing.assert_array_equal(got, [NAN] * 5 + [3.0, 4.0])


def test_large_prices_over_long_windows_leave_the_integer_path():
    """Prices near 4e13 with 2 decimals are 4e15 hundredths each; 2,500 of them sum to 1e19,
    beyond int64 (9.2e18). The kernel must not sum them as integers: it falls back to the
    double-double sum, fsum / window bit for bit."""
    values = [4e13 + 0.25 * (t % 4) for t in range(2_600)]
    array = np.array(values)
    places = decimal_places_nb(array)
    assert places == 2
    window = 2_500
    got = rolling_mean_nb(array, window, places)
    expected = fsum_means(values, window)
    np.testing.assert_array_equal(got[window - 1 :], expected[window - 1 :])
    assert got[window - 1] == pytest.approx(4e13 + 0.375, rel=1e-15)


def test_whole_numbers_are_exact_on_either_path():
    """Integers: places 0; the mean of 1, 2, 4 over 3 is 7/3 rounded once."""
    values = np.array([1.0, 2.0, 4.0])
    assert rolling_mean_nb(values, 3, 0)[2] == 7 / 3
    assert rolling_mean_nb(values, 3, -1)[2] == 7 / 3
