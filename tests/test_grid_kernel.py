"""The SMA grid kernel against single backtests, and the entry-count and equity it reports.

Every grid row must be the single `run_targets` backtest of that pair (same fills, same
final equity to the bit, same number of entries), with fees, slippage and each fill price;
a hand-built series pins one pair's entries and equity independently.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zvt_pipelines.analytics.indicator_kernels import cross_targets_nb
from zvt_pipelines.analytics.indicators import sma_cross_targets
from zvt_pipelines.backtest.engine import run_targets
from zvt_pipelines.backtest.grid import sma_cross_grid
from zvt_pipelines.backtest.settings import BacktestSettings, FillPrice
from zvt_pipelines.data.candles import read_candle_file

NAN = np.nan
PAIRS = [(2, 5), (3, 10), (5, 20), (10, 30), (5, 10)]


@pytest.fixture(scope="module")
def eth_hourly(shared_data) -> pd.DataFrame:
    return read_candle_file(shared_data / "binance_ETH-USDT_1h.csv.gz").iloc[:1500]


@pytest.mark.parametrize(
    "settings",
    [
        BacktestSettings(cash=10_000, fee_bps=10.0),
        BacktestSettings(cash=5_000, fee_bps=25.0, slippage_bps=5.0, fill_price=FillPrice.TYPICAL),
        BacktestSettings(cash=1_000, fill_price=FillPrice.CLOSE),
    ],
    ids=["open-fee", "typical-fee-slippage", "close-free"],
)
def test_every_grid_row_is_the_single_backtest(eth_hourly, settings):
    table = sma_cross_grid(eth_hourly, PAIRS, settings)
    assert list(zip(table["fast"], table["slow"], strict=True)) == PAIRS
    close = eth_hourly["close"].to_numpy(dtype="float64")
    for row, (fast, slow) in zip(table.itertuples(), PAIRS, strict=True):
        single = run_targets(eth_hourly, sma_cross_targets(close, fast, slow), settings)
        assert row.final_equity == single.final_equity, (fast, slow)
        assert row.trades == single.n_trades > 0, (fast, slow)


def test_a_hand_built_crossing_pins_entries_and_equity():
    """Closes 10 9 8 9 10 11 10 9 8 9 10 11 (each open is the previous close), SMA(2)
    against SMA(3), no fees, cash 100, fills at the next open.

    SMA2, bars 2-11: 8.5 8.5 9.5 10.5 10.5 9.5 8.5 8.5 9.5 10.5
    SMA3, bars 2-11: 9 8.667 9 10 10.333 10 9 8.667 9 10
    bar 4: 9.5 > 9 after 8.5 <= 8.667: up, buy at bar 5's open 10: 10 units.
    bar 7: 9.5 < 10 after 10.5 >= 10.333: down, sell at bar 8's open 9: cash 90.
    bar 10: 9.5 > 9 after 8.5 <= 8.667: up, buy at bar 11's open 10: 9 units,
    marked at the last close 11: equity 99. Two entries.
    """
    closes = np.array([10, 9, 8, 9, 10, 11, 10, 9, 8, 9, 10, 11], dtype="float64")
    opens = np.concatenate(([10.0], closes[:-1]))
    frame = pd.DataFrame(
        {
            "ts": pd.date_range("2024-01-01", periods=12, freq="1h", tz="UTC"),
            "open": opens,
            "high": np.maximum(opens, closes) + 0.5,
            "low": np.minimum(opens, closes) - 0.5,
            "close": closes,
            "volume": 1.0,
        }
    )
    table = sma_cross_grid(frame, [(2, 3)], BacktestSettings(cash=100))
    assert table.loc[0, "trades"] == 2
    assert table.loc[0, "final_equity"] == pytest.approx(99.0, rel=1e-12)


def test_trade_counts_are_integers(eth_hourly):
    table = sma_cross_grid(eth_hourly, PAIRS[:2], BacktestSettings())
    assert table["trades"].dtype == np.int64


@pytest.mark.parametrize(
    ("fast", "slow", "expected"),
    [
        # a cross on the very first comparable bar (t = 1) counts
        ([1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [NAN, 1.0, NAN]),
        ([3.0, 1.0, 1.0], [2.0, 2.0, 2.0], [NAN, 0.0, NAN]),
        # leaving an exact tie is a cross: was equal, now above (below)
        ([1.0, 1.0, 2.0], [1.0, 1.0, 1.0], [NAN, NAN, 1.0]),
        ([1.0, 1.0, 0.5], [1.0, 1.0, 1.0], [NAN, NAN, 0.0]),
        # arriving at a tie is not a cross, nor is staying on one side
        ([0.0, 1.0, 1.0], [1.0, 1.0, 1.0], [NAN, NAN, NAN]),
        ([2.0, 3.0, 4.0], [1.0, 1.0, 1.0], [NAN, NAN, NAN]),
        # bar 0 has no previous bar: the last value must not wrap around as "previous"
        ([5.0, 5.0, 0.0], [1.0, 1.0, 1.0], [NAN, NAN, 0.0]),
        # undefined averages (warm-up) never cross
        ([NAN, 3.0, 3.0], [2.0, 2.0, 2.0], [NAN, NAN, NAN]),
        ([1.0, 3.0, 3.0], [NAN, 2.0, 2.0], [NAN, NAN, NAN]),
    ],
)
def test_cross_targets_by_hand(fast, slow, expected):
    np.testing.assert_array_equal(
        cross_targets_nb(np.array(fast), np.array(slow)), np.array(expected)
    )
