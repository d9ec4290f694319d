"""Bar-level families on hand-built price paths, the base-class guarantees, and targets."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from zvt_pipelines.errors import StrategyError
from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.portfolio.limits import RiskLimits
from zvt_pipelines.strategies import (
    BarStrategy,
    MarketData,
    PortfolioView,
    PositionView,
    SignalKind,
    checked_targets,
    rebalance,
)
from zvt_pipelines.strategies.dca import DcaStrategy
from zvt_pipelines.strategies.grid import GridStrategy, crossed_levels, grid_levels
from zvt_pipelines.strategies.mean_reversion import MeanReversionStrategy
from zvt_pipelines.strategies.momentum import MomentumStrategy, detect_divergence
from zvt_pipelines.strategies.regime import Regime, detect_regime
from zvt_pipelines.strategies.sma_cross import SmaCrossStrategy

BTC = InstrumentId.parse("binance:BTC/USDT")
START = pd.Timestamp("2024-01-01", tz="UTC")


def frame_from_closes(closes, freq="1h") -> pd.DataFrame:
    close = np.asarray(closes, dtype="float64")
    opens = np.concatenate(([close[0]], close[:-1]))
    ts = pd.date_range(START, periods=len(close), freq=freq).astype("datetime64[ms, UTC]")
    return pd.DataFrame(
        {
            "ts": ts,
            "open": opens,
            "high": np.maximum(opens, close) * 1.001,
            "low": np.minimum(opens, close) * 0.999,
            "close": close,
            "volume": 1.0,
        }
    )


def limits(max_allocation="1", stop_loss="0.5") -> RiskLimits:
    return RiskLimits(
        max_allocation=Decimal(max_allocation),
        stop_loss=Decimal(stop_loss),
        take_profit=Decimal(10),
        daily_loss_limit=Decimal(10**6),
        max_leverage=Decimal(1),
    )


# --- base class ---------------------------------------------------------------------------


def test_market_data_hides_unclosed_and_future_bars():
    frame = frame_from_closes(np.arange(1.0, 11.0))
    view = MarketData(START + pd.Timedelta(hours=5, minutes=30), "1h", {BTC: frame})
    seen = view.candles(BTC)
    assert len(seen) == 5 and seen["close"].iloc[-1] == 5.0  # bar opened 05:00 still open
    seen.loc[0, "close"] = -1.0  # a copy: the view is unchanged
    assert view.candles(BTC)["close"].iloc[0] == 1.0
    assert view.last_price(BTC) == Decimal("5.0")


def test_hook_exceptions_become_strategy_error_naming_strategy_and_hook():
    class Broken(BarStrategy):
        strategy_type = "broken"

        def target_series(self, frame):
            raise ZeroDivisionError("boom")

    strategy = Broken(label="my_broken")
    with pytest.raises(StrategyError, match=r"'my_broken' \(broken\) hook target_series.*boom"):
        checked_targets(strategy, frame_from_closes([1.0, 2.0, 3.0]))

    class OutOfRange(BarStrategy):
        def target_series(self, frame):
            return np.full(len(frame), 2.0)

    with pytest.raises(StrategyError, match=r"outside \[-1, 1\]"):
        checked_targets(OutOfRange(), frame_from_closes([1.0, 2.0]))


def test_hooks_get_copies_not_live_state():
    class Vandal(BarStrategy):
        def target_series(self, frame):
            frame["close"] = 0.0
            return np.zeros(len(frame))

    frame = frame_from_closes([1.0, 2.0, 3.0])
    checked_targets(Vandal(), frame)
    assert frame["close"].tolist() == [1.0, 2.0, 3.0]


def test_sma_cross_live_signal_equals_backtest_target():
    """Closes fall then rise: fast(2) crosses slow(4) upward at the bar index computed here."""
    closes = [10, 9, 8, 7, 6, 7, 8, 9, 10]
    frame = frame_from_closes(closes)
    strategy = SmaCrossStrategy({"fast": 2, "slow": 4}, instruments=[BTC])
    targets = checked_targets(strategy, frame)
    fast = pd.Series(closes, dtype=float).rolling(2).mean()
    slow = pd.Series(closes, dtype=float).rolling(4).mean()
    cross = next(
        t for t in range(4, len(closes)) if fast[t] > slow[t] and fast[t - 1] <= slow[t - 1]
    )
    assert targets[cross] == 1.0 and np.isnan(np.delete(targets, cross)).all()
    view = MarketData.at_bar_close({BTC: frame}, frame["ts"].iloc[cross], "1h")
    (signal,) = strategy.generate_signals(view)
    assert signal.kind is SignalKind.TARGET and signal.target_weight == Decimal(1)
    assert (
        strategy.generate_signals(
            MarketData.at_bar_close({BTC: frame}, frame["ts"].iloc[cross + 1], "1h")
        )
        == []
    )


# --- DCA ------------------------------------------------------------------------------------


def replay_dca(strategy, frame, cash):
    """Live loop in Decimal: decide at each bar's close, fill at the next bar's open."""
    units, cash, buys, exits = Decimal(0), Decimal(cash), [], []
    cost = Decimal(0)
    for t in range(len(frame) - 1):
        view = MarketData.at_bar_close({BTC: frame}, frame["ts"].iloc[t], "1h")
        price = Decimal(str(frame["close"].iloc[t]))
        positions = {}
        if units:
            positions = {BTC: PositionView(BTC, units, cost / units)}
        portfolio = PortfolioView(equity=cash + units * price, positions=positions)
        plan = rebalance(strategy, view, portfolio)
        if BTC in plan.targets:
            delta = plan.targets[BTC].delta
            fill = Decimal(str(frame["open"].iloc[t + 1]))
            if plan.targets[BTC].quantity == 0:
                exits.append(t)
                cost = Decimal(0)
            else:
                cost += delta * fill
                buys.append((t, delta, fill))
            units += delta
            cash -= delta * fill
    return units, buys, exits


def test_dca_buys_the_amount_each_period_and_stops_at_max_allocation():
    """Flat price 100, 1h bars, daily buys of 100 USDT; equity 1000, cap 35% = 350 USDT:
    buys 100, 100, 100, then 50 (the rest below the cap), then nothing."""
    frame = frame_from_closes([100.0] * 24 * 7)
    strategy = DcaStrategy(
        {"max_allocation": "0.35", "rebalance_threshold": "0.1"},
        instruments=[BTC],
        amount_per_trade=Decimal(100),
        frequency="1d",
    )
    units, buys, exits = replay_dca(strategy, frame, 1000)
    assert [t for t, _, _ in buys] == [0, 24, 48, 72]
    assert [delta * price for _, delta, price in buys] == [100, 100, 100, 50]
    assert units == Decimal("3.5") and exits == []


def test_dca_units_are_sum_of_amount_over_price_and_stop_loss_exits():
    """Daily closes 100, 90, 80, 50 (constant within a day), 100 USDT a day, stop 30%.
    Day 3: average cost 200 / (1 + 100/90) = 94.74, stop at 66.32 < 80: no exit, buy.
    Day 4: average 300 / (1 + 100/90 + 100/80) = 89.26, stop at 62.48 >= 50: exit on
    the day's first bar (72), before any buy."""
    closes = [100.0] * 24 + [90.0] * 24 + [80.0] * 24 + [50.0] * 24
    frame = frame_from_closes(closes)
    strategy = DcaStrategy(
        {"max_allocation": "1", "stop_loss": "0.3"},
        instruments=[BTC],
        amount_per_trade=Decimal(100),
        frequency="1d",
    )
    units, buys, exits = replay_dca(strategy, frame, 10_000)
    fills = [price for _, _, price in buys]
    assert [t for t, _, _ in buys] == [0, 24, 48]
    assert fills == [Decimal("100.0"), Decimal("90.0"), Decimal("80.0")]
    bought = sum(delta for _, delta, _ in buys)
    assert abs(bought - sum(Decimal(100) / p for p in fills)) < Decimal("1e-20")
    assert exits == [72] and units == 0


def test_dca_target_series_budget_fractions():
    """Budget 1000, 100 per day, cap 0.25: targets 0.1, 0.2, 0.25 on day starts."""
    frame = frame_from_closes([100.0] * 24 * 5)
    strategy = DcaStrategy(
        {"max_allocation": "0.25", "budget": 1000}, amount_per_trade=Decimal(100), frequency="1d"
    )
    targets = checked_targets(strategy, frame)
    assert np.flatnonzero(~np.isnan(targets)).tolist() == [0, 24, 48]
    assert targets[[0, 24, 48]] == pytest.approx([0.1, 0.2, 0.25])


# --- grid -------------------------------------------------------------------------------


def test_grid_levels_by_hand():
    assert grid_levels(Decimal(100), Decimal(200), 5, "arithmetic") == [
        Decimal(100),
        Decimal(125),
        Decimal(150),
        Decimal(175),
        Decimal(200),
    ]
    geometric = grid_levels(Decimal(100), Decimal(1600), 5, "geometric")  # ratio 2 per step
    assert [round(v, 10) for v in geometric] == [100, 200, 400, 800, 1600]


def test_grid_emits_one_signal_per_level_crossed():
    """Levels 100,110,...,150. Closes 125 -> 104 crosses 120, 110 (two buys, in path order);
    104 -> 131 crosses 110, 120, 130 (three sells); 131 -> 131 nothing."""
    strategy = GridStrategy(
        {"lower": 100, "upper": 150, "levels": 6}, instruments=[BTC], amount_per_trade=Decimal(110)
    )
    frame = frame_from_closes([125.0, 104.0, 131.0, 131.0])
    seen = []
    for t in range(1, 4):
        view = MarketData.at_bar_close({BTC: frame}, frame["ts"].iloc[t], "1h")
        seen.append([(s.kind, s.price) for s in strategy.generate_signals(view)])
    assert seen[0] == [(SignalKind.BUY, Decimal(120)), (SignalKind.BUY, Decimal(110))]
    assert seen[1] == [(SignalKind.SELL, Decimal(v)) for v in (110, 120, 130)]
    assert seen[2] == []
    assert crossed_levels(Decimal(125), Decimal(110), [Decimal(110)]) == [
        (Decimal(110), SignalKind.BUY)
    ]
    targets = checked_targets(strategy, frame)
    assert targets.tolist() == [3 / 6, 5 / 6, 2 / 6, 2 / 6]  # levels strictly above the close


def test_adaptive_grid_recentres_and_widens_with_volatility():
    rng = np.random.default_rng(3)
    calm = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, 60)))
    wild = calm[-1] * np.exp(np.cumsum(rng.normal(0, 0.01, 60)))
    frame = frame_from_closes(np.concatenate((calm, wild)))
    params = {
        "lower": 50,
        "upper": 150,
        "levels": 5,
        "spacing": "geometric",
        "adaptive": True,
        "recenter_bars": 30,
        "vol_window": 20,
        "width_sigmas": 2,
    }
    strategy = GridStrategy(params)
    early = strategy.levels_at(frame.iloc[:31])  # re-centred at bar 30
    late = strategy.levels_at(frame.iloc[:91])  # re-centred at bar 90
    close = frame["close"].to_numpy()
    for levels, bar in ((early, 30), (late, 90)):
        assert float(levels[2]) == pytest.approx(close[bar], rel=1e-9)  # centred on the close
        sigma = np.std(np.diff(np.log(close[bar - 20 : bar + 1])), ddof=1)
        width = np.log(float(levels[-1] / levels[0]))  # = 2 x 2 sigma sqrt(20)
        assert width == pytest.approx(4 * sigma * np.sqrt(20), rel=1e-9)
    assert np.log(float(late[-1] / late[0])) > 3 * np.log(float(early[-1] / early[0]))
    assert strategy.levels_at(frame.iloc[:10]) == strategy.levels()  # warm-up: static grid


# --- momentum ---------------------------------------------------------------------------


def test_divergence_found_where_price_higher_high_rsi_lower_high():
    """Fast rally to 140 (RSI ~100), pull-back, slow grind to 143 (higher high, weaker RSI)."""
    path = [100 + 2 * i for i in range(21)]  # 100..140, swing high at index 20
    path += [140 - 3 * i for i in range(1, 6)]  # down to 125
    path += [125 + 1.5 * i for i in range(1, 13)]  # up to 143 at index 37
    path += [143 - 2 * i for i in range(1, 6)]  # confirm the second swing
    close = np.asarray(path, dtype=float)
    from zvt_pipelines.analytics.indicators import rsi

    strength = rsi(close, 14)
    assert close[37] > close[20] and strength[37] < strength[20]
    flags = detect_divergence(close, strength, order=3)
    assert np.flatnonzero(flags).tolist() == [40]  # swing at 37 confirmed 3 bars later
    changed = close.copy()
    changed[41:] = 500.0  # the future cannot create or remove the flag at 40
    assert (
        detect_divergence(changed, rsi(changed, 14), order=3)[:41].tolist() == flags[:41].tolist()
    )


def test_momentum_enters_rally_and_trailing_stop_exits():
    """Flat 100 for 60 bars, +1%/bar for 20 (all indicators agree), then -1.5%/bar:
    long from the rally; out once the close is 5% below the peak."""
    closes = [100.0 + 0.01 * (i % 2) for i in range(60)]
    closes += [closes[-1] * 1.01**i for i in range(1, 21)]
    closes += [closes[-1] * 0.985**i for i in range(1, 11)]
    frame = frame_from_closes(closes)
    strategy = MomentumStrategy(
        {"trend_window": 20, "rsi_max": 100, "exit_on_divergence": False, "trailing_stop": 0.05}
    )
    targets = checked_targets(strategy, frame)
    entry = int(np.flatnonzero(targets == 1.0)[0])
    exit_bar = int(np.flatnonzero(targets == 0.0)[0])
    assert 60 <= entry < 80
    peak = max(closes[entry : exit_bar + 1])
    assert closes[exit_bar] <= peak * 0.95 < closes[exit_bar - 1]


# --- mean reversion and regime -----------------------------------------------------------


def test_regime_and_mean_reversion_trending_path_stays_flat():
    rng = np.random.default_rng(1)
    trend = 100 * np.exp(np.arange(300) * 0.003 + rng.normal(0, 0.0005, 300))
    frame = frame_from_closes(trend)
    regime = detect_regime(frame)
    assert (regime[20:] == Regime.TRENDING).all()
    targets = checked_targets(MeanReversionStrategy(), frame)
    assert not (targets == 1.0).any()


def test_mean_reversion_trades_an_oscillating_path():
    t = np.arange(400)
    wave = 100 + 5 * np.sin(2 * np.pi * t / 20)
    frame = frame_from_closes(wave)
    regime = detect_regime(frame)
    assert (regime[20:] == Regime.RANGING).all()
    strategy = MeanReversionStrategy(
        {"triggers": ["bollinger", "zscore"], "z_entry": 1.3, "z_exit": 0.3}
    )
    targets = checked_targets(strategy, frame)
    entries = np.flatnonzero(targets == 1.0)
    assert len(entries) >= 10
    assert (wave[entries] < 100).all()  # buys only below the mean


# --- targets ------------------------------------------------------------------------------


def test_targets_respect_max_allocation_and_should_exit():
    """TARGET 1 at price 100 with equity 1000 wants 10 units; max_allocation 0.3 caps 3."""
    frame = frame_from_closes([10, 9, 8, 7, 6, 7, 8, 9, 10, 100])
    strategy = SmaCrossStrategy(
        {"fast": 2, "slow": 4}, instruments=[BTC], risk_limits=limits("0.3")
    )
    crossing = MarketData.at_bar_close({BTC: frame}, frame["ts"].iloc[6], "1h")
    plan = rebalance(strategy, crossing, PortfolioView(equity=Decimal(1000)))
    assert plan.targets[BTC].quantity == Decimal(1000) * Decimal("0.3") / Decimal("8.0")
    stop = SmaCrossStrategy(
        {"fast": 2, "slow": 4}, instruments=[BTC], risk_limits=limits("1", "0.1")
    )
    holding = PortfolioView(
        equity=Decimal(1000), positions={BTC: PositionView(BTC, Decimal(5), Decimal(12))}
    )
    plan = rebalance(
        stop, MarketData.at_bar_close({BTC: frame}, frame["ts"].iloc[2], "1h"), holding
    )
    assert plan.targets[BTC].quantity == 0 and plan.targets[BTC].delta == -5
