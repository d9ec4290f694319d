"""Bar-level families through the fast engine on real Binance BTC/USDT 1h candles.

Each result is checked against an independent computation: a plain loop for all-in /
all-out strategies, buy-and-hold for a grid that is always fully invested, the DCA
schedule for DCA. Every family is also checked for look-ahead: its targets on bars <= t
do not change when the later bars are cut off.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from zvt_pipelines.backtest import BacktestSettings, run_targets
from zvt_pipelines.backtest.contract import run_sma_cross
from zvt_pipelines.data.candles import read_candle_file, slice_candles
from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.strategies import checked_targets
from zvt_pipelines.strategies.dca import DcaStrategy
from zvt_pipelines.strategies.grid import GridStrategy
from zvt_pipelines.strategies.mean_reversion import MeanReversionStrategy
from zvt_pipelines.strategies.momentum import MomentumStrategy
from zvt_pipelines.strategies.sma_cross import SmaCrossStrategy

BTC = InstrumentId.parse("binance:BTC/USDT")
FEE_BPS = 10.0
CASH = 10_000.0


@pytest.fixture(scope="module")
def btc(shared_data) -> pd.DataFrame:
    frame = read_candle_file(shared_data / "binance_BTC-USDT_1h.csv.gz")
    return slice_candles(
        frame, pd.Timestamp("2023-01-01", tz="UTC"), pd.Timestamp("2023-07-01", tz="UTC")
    )


def all_in_all_out(frame: pd.DataFrame, targets: np.ndarray, fee: float) -> tuple[float, int]:
    """Plain loop: target 1 on bar t buys all-in at open t+1 (units = cash / (open (1 + fee))),
    target 0 sells all at open t+1 (cash = units x open x (1 - fee)); marked at the last close."""
    opens, close = frame["open"].tolist(), frame["close"].tolist()
    cash, units, standing, entries = CASH, 0.0, 0.0, 0
    for t in range(1, len(opens)):
        wanted = targets[t - 1]
        if np.isnan(wanted) or wanted == standing:
            continue
        standing = wanted
        if wanted == 1.0:
            units, cash, entries = cash / (opens[t] * (1 + fee)), 0.0, entries + 1
        else:
            cash, units = units * opens[t] * (1 - fee), 0.0
    return cash + units * close[-1], entries


BINARY_FAMILIES = [
    SmaCrossStrategy({"fast": 12, "slow": 48}),
    MomentumStrategy({"trend_window": 50, "rsi_entry": 55, "rsi_max": 85}),
    MeanReversionStrategy({"regime": {"method": "efficiency", "window": 24, "er_threshold": 0.3}}),
]


@pytest.mark.parametrize("strategy", BINARY_FAMILIES, ids=lambda s: s.strategy_type)
def test_all_in_families_match_a_plain_loop(btc, strategy):
    targets = checked_targets(strategy, btc)
    result = run_targets(btc, targets, BacktestSettings(cash=CASH, fee_bps=FEE_BPS))
    expected, entries = all_in_all_out(btc, targets, FEE_BPS / 10_000)
    assert entries > 0
    assert result.final_equity == pytest.approx(expected, rel=1e-9)
    assert result.n_trades == entries
    assert (result.equity > 0).all()


def test_sma_cross_strategy_is_the_backtest_contract(btc):
    targets = checked_targets(SmaCrossStrategy({"fast": 12, "slow": 48}), btc)
    ours = run_targets(btc, targets, BacktestSettings(cash=CASH, fee_bps=FEE_BPS))
    contract = run_sma_cross(btc, 12, 48, FEE_BPS, CASH)
    assert ours.final_equity == contract.final_equity
    assert ours.n_trades == contract.n_trades


def test_grid_above_the_whole_range_is_buy_and_hold(btc):
    """Every level above every close: target 1 on every bar = buy at open[1], hold."""
    top = btc["high"].max()
    grid = GridStrategy({"lower": top * 2, "upper": top * 3, "levels": 5})
    targets = checked_targets(grid, btc)
    assert (targets == 1.0).all()
    result = run_targets(btc, targets, BacktestSettings(cash=CASH))
    buy_and_hold = CASH / btc["open"].iloc[1] * btc["close"].iloc[-1]
    assert result.final_equity == pytest.approx(buy_and_hold, rel=1e-12)


def test_grid_inside_the_range_trades_between_levels(btc):
    low, high = btc["close"].quantile(0.1), btc["close"].quantile(0.9)
    grid = GridStrategy({"lower": low, "upper": high, "levels": 8, "spacing": "geometric"})
    targets = checked_targets(grid, btc)
    result = run_targets(btc, targets, BacktestSettings(cash=CASH, fee_bps=FEE_BPS))
    levels = np.asarray([float(v) for v in grid.levels()])
    expected = (levels[None, :] > btc["close"].to_numpy()[:, None]).sum(axis=1) / 8
    np.testing.assert_array_equal(targets, expected)
    assert len(result.fills) > 20 and set(np.sign(result.fills["units"])) == {-1.0, 1.0}


def test_dca_through_the_engine_follows_its_schedule(btc):
    """100 USDT a day against a 10,000 budget, cap 0.3: 30 daily fills, then none.
    With no fee, right after each fill the position is exactly its target share of equity
    (k x 1% after day k): the engine trades fractions, so after a rally that lifted the
    share above the next target the fill is a sale (see the dca module docstring)."""
    dca = DcaStrategy(
        {"max_allocation": "0.3", "budget": 10_000}, amount_per_trade=Decimal(100), frequency="1d"
    )
    targets = checked_targets(dca, btc)
    result = run_targets(btc, targets, BacktestSettings(cash=CASH))
    fills = result.fills
    assert len(fills) == 30
    day_starts = btc.index[btc["ts"].dt.hour == 0][:30]
    assert list(fills["time"]) == list(btc["ts"].iloc[day_starts + 1])
    for k, (time, price) in enumerate(zip(fills["time"], fills["price"], strict=True), start=1):
        units = result.position.loc[time]
        equity_at_fill = result.equity.loc[time] - units * (
            btc.set_index("ts").loc[time, "close"] - price
        )
        assert units * price / equity_at_fill == pytest.approx(min(k * 0.01, 0.3), rel=1e-9)


@pytest.mark.parametrize(
    "strategy",
    [
        *BINARY_FAMILIES,
        DcaStrategy({"stop_loss": "0.05", "budget": 5000}, frequency="1d"),
        GridStrategy(
            {
                "lower": 15000,
                "upper": 35000,
                "levels": 9,
                "adaptive": True,
                "recenter_bars": 24,
                "vol_window": 48,
            }
        ),
    ],
    ids=lambda s: s.strategy_type,
)
def test_targets_do_not_look_ahead(btc, strategy):
    frame = btc.iloc[:1500]
    full = checked_targets(strategy, frame)
    for cut in (300, 777, 1200):
        np.testing.assert_array_equal(
            checked_targets(strategy, frame.iloc[: cut + 1]), full[: cut + 1]
        )
