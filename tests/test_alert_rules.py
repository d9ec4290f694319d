"""Alert rules on hand-built price paths whose answers are known by construction."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from zvt_pipelines.alerts.alert import Alert, AlertType, Severity
from zvt_pipelines.alerts.event_alerts import order_rejected, slippage_alert, system_error
from zvt_pipelines.alerts.patterns import ChartPattern, find_patterns
from zvt_pipelines.alerts.portfolio_rules import (
    concentration_alert,
    drawdown_alert,
    leverage_alert,
    margin_alert,
    underperformance_alert,
)
from zvt_pipelines.alerts.rules import PercentMove, PriceCross, VolumeSpike, evaluate_rules
from zvt_pipelines.alerts.technical import (
    BollingerBreak,
    Breakout,
    MacdCross,
    RsiExtreme,
    TrendChange,
)
from zvt_pipelines.analytics.indicators import rsi
from zvt_pipelines.errors import AlertConfigError, DataError

T0 = pd.Timestamp("2024-01-01", tz="UTC")
AT = datetime(2024, 1, 1, tzinfo=UTC)


def frame(close, volume=None) -> pd.DataFrame:
    close = np.asarray(close, dtype="float64")
    ts = pd.date_range(T0, periods=close.size, freq="h")
    vol = np.ones(close.size) if volume is None else np.asarray(volume, dtype="float64")
    return pd.DataFrame({"ts": ts, "close": close, "volume": vol})


def path(*knots: tuple[int, float]) -> np.ndarray:
    """A piecewise-linear price path through (index, price) knots."""
    xs, ys = zip(*knots, strict=True)
    return np.interp(np.arange(xs[-1] + 1), xs, ys)


def index_of(alert: Alert) -> int:
    return int((pd.Timestamp(alert.at) - T0) / pd.Timedelta(hours=1))


def test_price_cross_up_and_down_on_known_path():
    """90 -> 95 -> 101 -> 99 -> 102 crosses 100 up at bars 2 and 4, down at bar 3."""
    candles = frame([90, 95, 101, 99, 102])
    up = PriceCross(100, "up").evaluate(candles, "BTC/USDT")
    down = PriceCross(100, "down").evaluate(candles, "BTC/USDT")
    assert [index_of(a) for a in up] == [2, 4]
    assert [index_of(a) for a in down] == [3]
    first = up[0]
    assert first.type is AlertType.PRICE_THRESHOLD
    assert (first.value, first.threshold) == (101.0, 100.0)
    assert first.recent_prices == (90.0, 95.0, 101.0)
    assert first.fields["previous"] == 95.0
    # the same condition firing again keeps its dedup key, but is a different occurrence
    assert up[0].dedup_key == up[1].dedup_key == "price_threshold:BTC/USDT:cross_up@100"
    assert up[0].fingerprint != up[1].fingerprint


def test_percent_move_alerts_once_when_the_move_starts():
    """Flat 100 then 106: a 6 % move over 5 bars appears at bar 10 and stays true; one alert."""
    alerts = PercentMove(0.05, 5).evaluate(frame([100] * 10 + [106] * 5), "ETH/USDT")
    assert [index_of(a) for a in alerts] == [10]
    assert alerts[0].value == pytest.approx(0.06)
    assert "up" in alerts[0].title


def test_volume_spike_z_score_against_previous_window():
    """Volumes alternate 10, 12 (mean 11, sd 1); 100 at bar 30 has z = 89; nothing else fires."""
    volume = [10, 12] * 15 + [100]
    alerts = VolumeSpike(z=4, window=20).evaluate(frame([50] * 31, volume), "SOL/USDT")
    assert [index_of(a) for a in alerts] == [30]
    assert alerts[0].value == pytest.approx(89.0)
    assert alerts[0].type is AlertType.VOLUME_SPIKE


def test_rsi_of_monotone_paths_and_extreme_alerts():
    """Strictly rising closes have no losses: RSI is 100 once defined (bar 14), so one alert."""
    rising = np.arange(100, 130, dtype=float)
    assert np.isnan(rsi(rising)[:14]).all()
    assert rsi(rising)[14:] == pytest.approx(100.0)
    up = RsiExtreme().evaluate(frame(rising), "X")
    assert [(index_of(a), a.condition) for a in up] == [(14, "rsi14_overbought")]
    down = RsiExtreme().evaluate(frame(rising[::-1]), "X")
    assert [(index_of(a), a.condition) for a in down] == [(14, "rsi14_oversold")]


def test_macd_crosses_on_a_v_shaped_path():
    """Flat to bar 39, down 1/bar to bar 59, then up: bearish at bar 40, one bullish after the turn."""
    close = path((0, 100), (39, 100), (59, 80), (90, 111))
    alerts = MacdCross().evaluate(frame(close), "X")
    kinds = [(a.condition, index_of(a)) for a in alerts]
    assert kinds[0] == ("macd_bearish", 40)
    bullish = [i for c, i in kinds if c == "macd_bullish"]
    assert len(bullish) == 1 and 60 <= bullish[0] <= 70
    assert len(kinds) == 2


def test_bollinger_break_and_breakout_and_trend_change():
    """A range (100/101, or 95..105) then a jump breaks the upper band and the resistance once."""
    bands = BollingerBreak(window=20).evaluate(frame([100, 101] * 20 + [110]), "X")
    assert [(a.condition, index_of(a)) for a in bands] == [("bollinger_upper", 40)]
    ranging = [95, 100, 105, 100] * 10 + [106]
    breaks = Breakout(lookback=20).evaluate(frame(ranging), "X")
    assert [(a.condition, index_of(a), a.threshold) for a in breaks] == [
        ("breakout_resistance/20", 40, 105.0)
    ]
    v_shape = path((0, 140), (39, 101), (79, 141))
    trend = TrendChange(fast=5, slow=20).evaluate(frame(v_shape), "X")
    assert [a.condition for a in trend] == ["trend_golden/5/20"]
    assert 40 < index_of(trend[0]) < 55


def test_double_top_confirmed_on_neckline_break():
    """Peaks 120 (bar 10) and 120.5 (bar 30), trough 108 (bar 20). The fall from 120.5 at
    1.3667/bar first closes below 108 at bar 40 (120.5 - 10 * 1.3667 = 106.83)."""
    close = path((0, 100), (10, 120), (20, 108), (30, 120.5), (45, 100))
    matches = find_patterns(close, order=3)
    assert [(m.kind, m.pivots, m.confirmed_at) for m in matches] == [("double_top", (10, 30), 40)]
    assert matches[0].neckline == pytest.approx(108.0)
    # mirrored in log space (10000 / p) the same path is a double bottom, confirmed on the same bar
    mirrored = find_patterns(10_000 / close, order=3)
    assert [(m.kind, m.pivots, m.confirmed_at) for m in mirrored] == [
        ("double_bottom", (10, 30), 40)
    ]


def test_head_and_shoulders_confirmed_below_sloped_neckline():
    """Shoulders 110 (bar 8) and 110.5 (bar 38), head 120 (bar 22); neckline through the lows
    104 (bar 14) and 104.5 (bar 30). Falling 0.969/bar from bar 38, the close is 105.66 at
    bar 43 (above the neckline 104.84) and 104.69 at bar 44 (below 104.87): confirmed at 44."""
    close = path((0, 100), (8, 110), (14, 104), (22, 120), (30, 104.5), (38, 110.5), (54, 95))
    matches = find_patterns(close, order=3)
    assert [(m.kind, m.pivots, m.confirmed_at) for m in matches] == [
        ("head_and_shoulders", (8, 22, 38), 44)
    ]
    inverse = find_patterns(10_000 / close, order=3)
    assert [(m.kind, m.confirmed_at) for m in inverse] == [("inverse_head_and_shoulders", 44)]
    alerts = ChartPattern(order=3).evaluate(frame(close), "BTC/USDT")
    assert [(a.condition, index_of(a)) for a in alerts] == [("head_and_shoulders", 44)]
    assert alerts[0].type is AlertType.TECHNICAL_SIGNAL


def test_pattern_needs_no_future_data():
    """Cutting the path at the confirming bar still finds the pattern; one bar earlier does not."""
    close = path((0, 100), (10, 120), (20, 108), (30, 120.5), (45, 100))
    assert [m.confirmed_at for m in find_patterns(close[:41], order=3)] == [40]
    assert find_patterns(close[:40], order=3) == []


def test_evaluate_rules_sorts_by_time_and_bad_input_is_named():
    candles = frame([90, 95, 101, 99, 102])
    alerts = evaluate_rules([PriceCross(100, "down"), PriceCross(100, "up")], candles, "X")
    assert [index_of(a) for a in alerts] == [2, 3, 4]
    with pytest.raises(DataError, match="'close'"):
        PriceCross(100, "up").evaluate(pd.DataFrame({"ts": [T0]}), "X")
    with pytest.raises(AlertConfigError, match="sideways"):
        PriceCross(100, "sideways")


def test_portfolio_health_from_plain_numbers():
    """Drawdown 15 % warns, 25 % is critical; BTC 50 % of gross is critical, ETH 30 % warns."""
    assert drawdown_alert(95, 100, AT) is None
    assert drawdown_alert(85, 100, AT).severity is Severity.WARNING
    critical = drawdown_alert(75, 100, AT)
    assert critical.severity is Severity.CRITICAL and critical.value == pytest.approx(0.25)
    shares = concentration_alert({"BTC": 50.0, "ETH": -30.0, "SOL": 20.0}, AT)
    assert [(a.instrument, a.severity) for a in shares] == [
        ("BTC", Severity.CRITICAL),
        ("ETH", Severity.WARNING),
    ]
    assert leverage_alert(250, 100, AT).severity is Severity.WARNING
    assert leverage_alert(100, 0, AT).severity is Severity.CRITICAL
    assert margin_alert(95, 5, AT).value == pytest.approx(0.95)
    assert margin_alert(10, 90, AT) is None
    # each alert names the limit it broke, and its condition carries the severity
    assert (critical.condition, critical.threshold) == ("drawdown/critical", 0.20)
    assert "limit 20%" in critical.body
    assert (shares[0].threshold, shares[0].positions) == (0.40, ("BTC",)) and "limit 40%" in shares[
        0
    ].body
    assert (shares[1].condition, shares[1].threshold) == ("concentration/warning", 0.25)
    broke = leverage_alert(100, 0, AT)
    assert (broke.condition, broke.threshold) == (
        "leverage/critical",
        3.0,
    ) and "limit 3x" in broke.body
    assert "limit 90%" in margin_alert(95, 5, AT).body
    lagging = underperformance_alert("sma", -0.04, 0.03, AT)
    assert lagging.value == pytest.approx(-0.07) and lagging.type is AlertType.PORTFOLIO_RISK
    assert underperformance_alert("sma", 0.01, 0.03, AT) is None


def test_execution_and_system_events():
    """Buying at 100.8 against 100 is 80 bps adverse (> 50: warning); 101.5 is 150 bps (high)."""
    assert slippage_alert("c1", "BTC/USDT", "buy", 100, 100.8, AT).severity is Severity.WARNING
    assert slippage_alert("c1", "BTC/USDT", "buy", 100, 101.5, AT).severity is Severity.HIGH
    assert slippage_alert("c1", "BTC/USDT", "sell", 100, 99.9, AT) is None
    assert slippage_alert("c1", "BTC/USDT", "sell", 100, 100.5, AT) is None  # favourable
    rejected = order_rejected("c2", "ETH/USDT", "insufficient funds", AT)
    assert rejected.type is AlertType.ORDER_EXECUTION and "insufficient funds" in rejected.body
    failure = system_error("job ingest", "boom", AT, run_id="r1", link="http://x/runs/r1")
    assert failure.severity is Severity.CRITICAL and failure.fields["link"] == "http://x/runs/r1"


def test_alert_round_trips_through_its_stored_form():
    alert = PriceCross(100, "up").evaluate(frame([90, 95, 101]), "BTC/USDT")[0]
    again = Alert.from_stored(
        type=alert.type.value,
        severity=int(alert.severity),
        title=alert.title,
        body=alert.body,
        context=alert.context(),
    )
    assert again == alert and again.fingerprint == alert.fingerprint
    with pytest.raises(ValueError, match="timezone-aware"):
        Alert(AlertType.SYSTEM_ERROR, Severity.INFO, "t", "b", datetime(2024, 1, 1), "c")
