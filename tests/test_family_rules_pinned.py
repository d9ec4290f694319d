"""Momentum and mean-reversion rules pinned bar by bar on small hand-built closes.

Windows are tiny (2 and 3 bars, EMA alpha 1/2, Wilder alpha 1/2) so every indicator value
is a short fraction worked out in the docstrings, and most are exact in binary floating
point. Each test reads the targets twice: from `target_series` on the whole series, and
through the live path (`generate_signals` on the closed candles at each bar's close), so a
rule that peeks ahead or a signal path that drifts from the series fails too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.strategies import MarketData
from zvt_pipelines.strategies.mean_reversion import MeanReversionStrategy
from zvt_pipelines.strategies.momentum import MomentumStrategy

BTC = InstrumentId.parse("binance:BTC/USDT")
START = pd.Timestamp("2024-01-01", tz="UTC")
NAN = np.nan


def frame_from_closes(closes: list[float]) -> pd.DataFrame:
    """Hourly candles whose open is the previous close (high/low just around them)."""
    close = np.asarray(closes, dtype="float64")
    opens = np.concatenate(([close[0]], close[:-1]))
    ts = pd.date_range(START, periods=len(close), freq="1h").astype("datetime64[ms, UTC]")
    return pd.DataFrame(
        {
            "ts": ts,
            "open": opens,
            "high": np.maximum(opens, close) + 0.01,
            "low": np.minimum(opens, close) - 0.01,
            "close": close,
            "volume": 1.0,
        }
    )


def live_targets(strategy, frame: pd.DataFrame) -> list[float]:
    """The target the live path emits at the close of each bar (NaN: no signal)."""
    out = []
    for t in range(len(frame)):
        view = MarketData(START + pd.Timedelta(hours=t + 1), "1h", {BTC: frame})
        signals = strategy.generate_signals(view)
        out.append(float(signals[0].target_weight) if signals else NAN)
    return out


def assert_pinned(strategy, closes: list[float], expected: list[float]) -> None:
    """`target_series` equals `expected`; so does the live path from bar 1 on (it needs
    two closed bars before it decides anything)."""
    frame = frame_from_closes(closes)
    np.testing.assert_array_equal(strategy.target_series(frame), expected)
    np.testing.assert_array_equal(live_targets(strategy, frame), [NAN, *expected[1:]])


# -- momentum ---------------------------------------------------------------------------

MOMENTUM = {
    "trend_window": 2,
    "rsi_window": 2,
    "rsi_entry": 50.0,
    "rsi_max": 100.0,
    "macd_fast": 1,
    "macd_slow": 3,
    "macd_signal": 3,
    "bb_window": 2,
    "trailing_stop": 0.5,
    "exit_on_divergence": False,
}
MOMENTUM_CLOSES = [10, 12, 11, 14, 11, 12, 8, 10, 11, 9, 12]


def momentum(**overrides) -> MomentumStrategy:
    return MomentumStrategy(MOMENTUM | overrides, instruments=[BTC])


def test_momentum_entry_needs_macd_above_its_signal():
    """Closes 10 12 11 14 11 12 8 10 11 9 12. With 2-bar windows, close > SMA(2) and
    close > Bollinger middle(2) both mean "the close rose"; RSI(2) >= 50 is the strength
    test; MACD(1, 3, 3): line = close - EMA3(close), signal = EMA3(line), alpha 1/2.

    EMA3(close) from bar 2: 11 (seed: mean of 10, 12, 11), 12.5, 11.75, 11.875, 9.9375,
    9.96875, 10.484375, 9.7421875, 10.87109375.
    line (bar 2..10): 0, 1.5, -0.75, 0.125, -1.9375, 0.03125, 0.515625, -0.7421875, 1.12890625.
    signal from bar 4: 0.25 (seed: mean of 0, 1.5, -0.75), 0.1875, -0.875, -0.421875,
    0.046875, -0.34765625, 0.390625.
    RSI(2) (Wilder, changes +2 -1 +3 -3 +1 -4 +2 +1 -2 +3) from bar 2: 200/3, 800/9,
    800/21, 1600/29 (55.2), 1600/93, 8000/157 (51.0), 14400/221, 1600/53 (30.2), 6080/83.

    bar 5: the close rose (11 -> 12) and RSI 55.2 >= 50, but line 0.125 < signal 0.1875:
        no entry. A rule that ignored MACD would buy here.
    bar 7: rose (8 -> 10), RSI 51.0, line 0.03125 > signal -0.421875: entry, target 1.
    bar 8: long, rose: hold (NaN).
    bar 9: fell (11 -> 9, below SMA(2) = 10) and line -0.742 < signal -0.348: the trend
        broke, target 0 (the 50 % trailing stop, 5.5, is far away).
    bar 10: rose, RSI 73.3, line 1.129 > signal 0.391: entry again, target 1.
    """
    expected = [NAN] * 7 + [1.0, NAN, 0.0, 1.0]
    assert_pinned(momentum(), MOMENTUM_CLOSES, expected)


def test_momentum_rsi_bounds_gate_the_entry():
    """Same closes. Raising rsi_entry to 52 drops bar 7 (RSI 51.0); bar 8 then enters
    (rose 10 -> 11, RSI 65.2, line 0.516 > signal 0.047), bar 9 breaks, bar 10 (73.3)
    enters. Capping rsi_max at 70 keeps bar 7 but drops bar 10 (73.3)."""
    assert_pinned(momentum(rsi_entry=52.0), MOMENTUM_CLOSES, [NAN] * 8 + [1.0, 0.0, 1.0])
    assert_pinned(momentum(rsi_max=70.0), MOMENTUM_CLOSES, [NAN] * 7 + [1.0, NAN, 0.0, NAN])


def test_momentum_trailing_stop_exits_at_the_peak_fraction():
    """Closes as above up to bar 8, then 10.6. Long from bar 7 (10), peak 11 on bar 8.
    Bar 9: EMA3 = (10.6 + 10.484375) / 2 = 10.5421875, line = 0.0578125 > signal
    (0.0578125 + 0.046875) / 2 = 0.05234375, so the trend is not broken; only the stop can
    exit. A 3 % stop sits at 11 x 0.97 = 10.67 >= 10.6: exit, target 0. A 5 % stop sits at
    10.45 < 10.6: hold."""
    closes = MOMENTUM_CLOSES[:9] + [10.6]
    assert_pinned(momentum(trailing_stop=0.03), closes, [NAN] * 7 + [1.0, NAN, 0.0])
    assert_pinned(momentum(trailing_stop=0.05), closes, [NAN] * 7 + [1.0, NAN, NAN])


# -- mean reversion ---------------------------------------------------------------------

REVERSION = {
    "triggers": ("rsi",),
    "rsi_window": 2,
    "rsi_low": 30.0,
    "rsi_high": 70.0,
    "z_window": 2,
    "z_exit": 0.5,
    "regime": {"method": "efficiency", "window": 3, "er_threshold": 0.99},
}
REVERSION_CLOSES = [10, 11, 10, 10, 7, 9, 8, 7, 9]
REVERSION_TARGETS = [0.0, 0.0, 0.0, NAN, 0.0, NAN, NAN, 1.0, 0.0]


def reversion(**overrides) -> MeanReversionStrategy:
    return MeanReversionStrategy(REVERSION | overrides, instruments=[BTC])


def test_mean_reversion_rules_bar_by_bar():
    """Closes 10 11 10 10 7 9 8 7 9; changes +1 -1 0 -3 +2 -1 -1 +2.

    RSI(2), Wilder alpha 1/2, seeded on bar 2 with gain (1 + 0) / 2 = 1/2, loss 1/2:
      bar 2: 50; bar 3: gain 1/4, loss 1/4: 50; bar 4: 1/8, 13/8: 100 - 100 / (1 + 1/13)
      = 7.14; bar 5: 17/16, 13/16: 56.67; bar 6: 17/32, 29/32: 100 - 100 / (1 + 17/29)
      = 36.96; bar 7: 17/64, 61/64: 21.79; bar 8: 145/128, 61/128: 70.39.
    Efficiency ratio over 3 bars (trending only at >= 0.99, i.e. three moves one way):
      bar 3: |10 - 10| / 2 = 0; bar 4: |7 - 11| / 4 = 1; bar 5: |9 - 10| / 5 = 0.2;
      bar 6: 2 / 6; bar 7: 0 / 4; bar 8: 0 / 4. Bars 0-2: not enough bars (unknown).
    z(2) of two closes is +-1 (NaN when equal), never within z_exit 0.5.

    bars 0-2: regime unknown -> 0.   bar 3: ranging, RSI 50 -> hold (NaN).
    bar 4: RSI 7.1 is oversold but the regime is trending -> 0 (stand aside).
    bar 5: RSI 56.7 -> hold.   bar 6: RSI 36.96 >= 30 -> hold (a threshold of 40 would buy).
    bar 7: RSI 21.8 < 30, ranging -> 1.   bar 8: RSI 70.39 > 70, long-only -> 0.
    """
    assert_pinned(reversion(), REVERSION_CLOSES, REVERSION_TARGETS)


@pytest.mark.parametrize(
    ("overrides", "changed"),
    [
        ({"rsi_low": 40.0}, {6: 1.0}),  # 36.96 < 40: buys a bar early
        ({"rsi_low": 20.0}, {7: NAN}),  # 21.8 >= 20: no buy
        ({"rsi_high": 80.0}, {8: NAN}),  # 70.39 <= 80: no sell
        ({"rsi_high": 60.0}, {}),  # bar 5 (56.67) stays below 60 as well
        ({"allow_short": True}, {8: -1.0}),  # overbought goes short
    ],
)
def test_mean_reversion_thresholds_move_exactly_the_bars_they_should(overrides, changed):
    """Shifting a threshold changes exactly the bars whose RSI lies between the old and the
    new value (values in `test_mean_reversion_rules_bar_by_bar`)."""
    expected = list(REVERSION_TARGETS)
    for bar, value in changed.items():
        expected[bar] = value
    frame = frame_from_closes(REVERSION_CLOSES)
    np.testing.assert_array_equal(reversion(**overrides).target_series(frame), expected)


def test_mean_reversion_exits_at_the_mean_by_zscore():
    """With z_exit 1, |z(2)| = 1 on every bar whose close moved: target 0 there unless a
    trigger or the regime says otherwise: bars 5 and 6 (RSI 56.7, 36.96) now go flat;
    bar 3 (close unchanged, z NaN) still holds."""
    expected = list(REVERSION_TARGETS)
    expected[5] = expected[6] = 0.0
    frame = frame_from_closes(REVERSION_CLOSES)
    np.testing.assert_array_equal(reversion(z_exit=1.0).target_series(frame), expected)
