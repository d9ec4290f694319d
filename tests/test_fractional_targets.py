"""Fractional targets: the bar engine with fees against a reference loop, and the live
rebalance step from target weights to signed quantities (partial buys and sells, flips).

The contract (`backtest.kernels.simulate_nb`): a target f decided on bar t is filled at
bar t+1's fill price p so that afterwards the position is exactly f of the account's
equity, the fee (``fee_rate x |traded| x p``) already paid: ``u' p = f (cash' + u' p)``.
The reference below does not use the engine's closed form: it finds u' with a root
finder (scipy's brentq) on that defining equation, in plain Python, bar by bar.
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq

from zvt_pipelines.backtest.engine import run_targets
from zvt_pipelines.backtest.settings import BacktestSettings
from zvt_pipelines.data.candles import read_candle_file
from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.portfolio.limits import RiskLimits
from zvt_pipelines.strategies import (
    BarStrategy,
    MarketData,
    PortfolioView,
    PositionView,
    rebalance,
)

BTC = InstrumentId.parse("binance:BTC/USDT")


def reference_fills(targets, base, close, fee_rate, slippage_rate, cash):
    """(fills as (bar, units, price, fee), equity per bar) of the contract above.

    A buy (target value above the held value, both at the base price) pays
    ``base (1 + slippage)``, a sell receives ``base (1 - slippage)``; NaN holds and a
    target equal to the standing one is not re-applied.
    """
    units, standing = 0.0, 0.0
    fills, equity = [], []
    for t in range(len(close)):
        target = targets[t - 1] if t > 0 else math.nan
        if not math.isnan(target) and target != standing:
            standing = target
            buying = target * (cash + units * base[t]) > units * base[t]
            price = base[t] * (1 + slippage_rate if buying else 1 - slippage_rate)

            def gap(new_units, price=price, target=target, units=units, cash=cash):
                traded = new_units - units
                cash_after = cash - traded * price - abs(traded) * price * fee_rate
                return new_units * price - target * (cash_after + new_units * price)

            wealth = (cash + units * price) / price
            new_units = 0.0 if target == 0 else brentq(gap, 0.0, 2 * wealth, xtol=1e-14)
            traded = new_units - units
            fee = abs(traded) * price * fee_rate
            cash -= traded * price + fee
            units = new_units
            fills.append((t, traded, price, fee))
        equity.append(cash + units * close[t])
    return fills, np.array(equity)


def frame_of(opens, closes) -> pd.DataFrame:
    ts = pd.date_range("2024-01-01", periods=len(opens), freq="1h", tz="UTC")
    return pd.DataFrame(
        {
            "ts": ts.astype("datetime64[ms, UTC]"),
            "open": np.asarray(opens, dtype="float64"),
            "high": np.maximum(opens, closes) + 1.0,
            "low": np.minimum(opens, closes) - 1.0,
            "close": np.asarray(closes, dtype="float64"),
            "volume": 10.0,
        }
    )


def test_partial_buy_partial_sell_top_up_and_exit_hand_worked():
    """Cash 1000, fee 1 %, fills at the next open.

    bar 1 (open 100), target 0.5 from flat: u' = 0.5 x 1000 / (100 x (1 + 0.5 x 0.01))
        = 1000/201 = 4.975124; fee 4.975124; cash 1000 - 497.5124 - 4.9751 = 100000/201
        = 497.5124, so the position (497.5124) is half of the equity 995.0249.
    bar 2 (open 110), target 0.2, a partial sell: equity if all were sold after fees is
        497.5124 + 4.975124 x 110 x 0.99 = 1039.3035; u' = 0.2 x 1039.3035 /
        (110 x (1 - 0.2 x 0.01)) = 1.8934296; sold 3.0816948, fee 3.3898643,
        cash 833.1090041; position 208.2772510 = 20 % of 1041.3862551.
    bar 3 (open 90), target 1: all-in, u' = (833.1090 + 1.8934 x 90 x 1.01) / (90 x 1.01)
        = 11.0585451; bought 9.1651156, fee 8.2486040, cash 0.
    bar 4 (open 100), target 0: sold 11.0585451 for 1105.8545, fee 11.0585451,
        cash 1094.7959660.
    """
    frame = frame_of([100, 100, 110, 90, 100, 100], [100, 105, 95, 95, 100, 100])
    targets = [0.5, 0.2, 1.0, 0.0, np.nan, np.nan]
    result = run_targets(frame, targets, BacktestSettings(cash=1000, fee_bps=100))
    fills = result.fills
    np.testing.assert_allclose(
        fills["units"], [1000 / 201, -3.0816948233871635, 9.165115556411521, -11.058545111133812]
    )
    np.testing.assert_allclose(
        fills["fee"], [1000 / 201, 3.3898643057258795, 8.24860400077037, 11.058545111133812]
    )
    np.testing.assert_allclose(fills["price"], [100, 110, 90, 100])
    assert result.final_equity == pytest.approx(1094.7959660022473, rel=1e-12)
    # after the partial sell (bar 2, marked at its close 95) the position is 1.8934296 units
    assert result.position.iloc[2] == pytest.approx(2089000 / 1103289, rel=1e-12)


@pytest.fixture(scope="module")
def btc_hourly(shared_data) -> pd.DataFrame:
    return read_candle_file(shared_data / "binance_BTC-USDT_1h.csv.gz").iloc[:2000]


@pytest.mark.parametrize(
    ("fee_bps", "slippage_bps"), [(0.0, 0.0), (10.0, 0.0), (10.0, 5.0), (75.0, 20.0)]
)
def test_random_fractional_targets_match_the_reference_loop(btc_hourly, fee_bps, slippage_bps):
    """2,000 real BTC/USDT hours; a new target every few bars drawn from {0, 0.1, ..., 1}
    (partial buys, partial sells, all-in, flat, and repeats that must not trade)."""
    rng = np.random.default_rng(11)
    n = len(btc_hourly)
    targets = np.full(n, np.nan)
    decide = rng.random(n) < 0.3
    targets[decide] = rng.integers(0, 11, decide.sum()) / 10
    settings = BacktestSettings(cash=10_000, fee_bps=fee_bps, slippage_bps=slippage_bps)
    result = run_targets(btc_hourly, targets, settings)

    base = btc_hourly["open"].to_numpy(dtype="float64")
    close = btc_hourly["close"].to_numpy(dtype="float64")
    fills, equity = reference_fills(
        targets, base, close, fee_bps / 10_000, slippage_bps / 10_000, 10_000.0
    )
    assert len(result.fills) == len(fills) > 100
    bars = pd.Index(btc_hourly["ts"]).get_indexer(result.fills["time"]).tolist()
    assert bars == [f[0] for f in fills]
    np.testing.assert_allclose(result.fills["units"], [f[1] for f in fills], rtol=1e-9)
    np.testing.assert_allclose(result.fills["price"], [f[2] for f in fills], rtol=1e-12)
    np.testing.assert_allclose(result.fills["fee"], [f[3] for f in fills], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(result.equity.to_numpy(), equity, rtol=1e-9)
    assert result.fees_paid == pytest.approx(sum(f[3] for f in fills), rel=1e-9, abs=1e-12)


# -- the live rebalance step: target weights to signed quantities (strategies/targets.py) ---


class FixedWeight(BarStrategy):
    """Wants `weight` of equity on every bar (negative: short)."""

    strategy_type = "fixed_weight_test"
    weight = 0.0

    def target_series(self, frame: pd.DataFrame) -> np.ndarray:
        return np.full(len(frame), self.weight)


def plan_for(weight: float, held: str, risk_limits: RiskLimits | None = None):
    """One rebalance at the close of a 50-flat hourly series with equity 1000."""
    frame = frame_of([50.0] * 4, [50.0] * 4)
    strategy = FixedWeight(label="fixed", instruments=[BTC], risk_limits=risk_limits)
    strategy.weight = weight
    positions = {}
    if Decimal(held):
        positions = {BTC: PositionView(BTC, Decimal(held), Decimal(50))}
    view = MarketData.at_bar_close({BTC: frame}, frame["ts"].iloc[-1], "1h")
    return rebalance(strategy, view, PortfolioView(equity=Decimal(1000), positions=positions))


def caps(max_allocation: str = "1", size: dict | None = None) -> RiskLimits:
    return RiskLimits(
        max_allocation=Decimal(max_allocation),
        stop_loss=Decimal("0.5"),
        take_profit=Decimal(10),
        daily_loss_limit=Decimal(10**6),
        max_leverage=Decimal(1),
        max_position_size={k: Decimal(v) for k, v in (size or {}).items()},
    )


@pytest.mark.parametrize(
    ("weight", "held", "quantity", "delta"),
    [
        (0.5, "0", "10", "10"),  # 0.5 x 1000 / 50 = 10 units from flat
        (0.2, "8", "4", "-4"),  # partial sell: 0.2 x 1000 / 50 = 4, sell 4 of 8
        (0.8, "8", "16", "8"),  # top-up
        (-0.5, "8", "-10", "-18"),  # flip long 8 -> short 10: sell 18
        (0.3, "-10", "6", "16"),  # flip short 10 -> long 6: buy 16
        (0.0, "-10", "0", "10"),  # close a short
    ],
)
def test_target_weights_become_signed_quantities(weight, held, quantity, delta):
    target = plan_for(weight, held).targets[BTC]
    assert (target.quantity, target.delta) == (Decimal(quantity), Decimal(delta))


@pytest.mark.parametrize(
    ("weight", "held", "limits", "quantity"),
    [
        (-0.5, "8", caps("0.3"), "-6"),  # a flip is new risk: capped at 0.3 x 1000 / 50 = 6
        (0.5, "0", caps("0.3"), "6"),
        (0.5, "20", caps("0.3"), "10"),  # a reduction (20 -> 10) is never blocked
        (0.5, "0", caps("1", {"binance:BTC/USDT": "4"}), "4"),  # size cap below allocation
        (-0.9, "-2", caps("0.3"), "-6"),  # adding to a short is capped by size, sign kept
    ],
)
def test_target_caps_apply_to_new_risk_only(weight, held, limits, quantity):
    assert plan_for(weight, held, limits).targets[BTC].quantity == Decimal(quantity)


def test_a_one_unit_trade_is_booked_and_a_zero_trade_is_not():
    """Cash 100, no fees, fills at the next open. Target 1 at open 100 buys exactly 1 unit.
    At open 200 the unit is worth 200 of equity 200; target 0.5 sells 0.5 (100 cash, 0.5
    units). At open 100 the 0.5 unit is 50 of equity 150 = 1/3; target 1/3 asks for what
    is already held: no fill (a zero trade is not a trade)."""
    frame = frame_of([100, 100, 200, 100, 100], [100, 150, 200, 100, 100])
    targets = [1.0, 0.5, 1.0 / 3.0, np.nan, np.nan]
    result = run_targets(frame, targets, BacktestSettings(cash=100))
    assert result.fills["units"].tolist() == [1.0, -0.5]
    assert result.fills["price"].tolist() == [100.0, 200.0]
    assert result.position.tolist() == [0.0, 1.0, 0.5, 0.5, 0.5]
    assert result.final_equity == pytest.approx(150.0)
