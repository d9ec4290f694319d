"""Execution quality: per-order slippage, fill rate, latency and cost, and per-group summaries."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pandas as pd
import pytest

from zvt_pipelines.errors import InvalidOrder
from zvt_pipelines.model.orders import Fill, Liquidity, Side
from zvt_pipelines.oms.fill_quality import (
    OrderExecution,
    interval_vwap,
    order_quality,
    quality_frame,
    slippage_bps,
    summarise,
)

T0 = datetime(2024, 8, 5, tzinfo=UTC)
SEC = timedelta(seconds=1)


def fill(order: str, n: int, side: Side, amount: str, price: str, fee: str, ccy: str, at) -> Fill:
    return Fill(f"{order}-{n}", order, "x", "BTC/USDT", side, D(amount), D(price), D(fee), ccy,
                Liquidity.TAKER, at)  # fmt: skip


def orders() -> list[OrderExecution]:
    """o1: buy 4, arrival 102.4, fills 1 @100.2 (+1 s, fee 0.1002) and 1 @100.6 (+3 s, fee 0.1006),
    interval VWAP 100. o2: sell 1, arrival 100, fill 1 @99.9 (+0.5 s) with fee 0.001 BTC.
    o3: buy 1 (strategy mm), nothing filled."""
    return [
        OrderExecution("o1", "trend", "a", "BTC/USDT", Side.BUY, D(4), D("102.4"), T0,
                       (fill("o1", 1, Side.BUY, "1", "100.2", "0.1002", "USDT", T0 + SEC),
                        fill("o1", 2, Side.BUY, "1", "100.6", "0.1006", "USDT", T0 + 3 * SEC)),
                       interval_vwap=D(100)),
        OrderExecution("o2", "trend", "b", "BTC/USDT", Side.SELL, D(1), D(100), T0,
                       (fill("o2", 1, Side.SELL, "1", "99.9", "0.001", "BTC", T0 + SEC / 2),)),
        OrderExecution("o3", "mm", "a", "BTC/USDT", Side.BUY, D(1), D(100), T0, ()),
    ]  # fmt: skip


def test_buy_that_beat_arrival_but_not_vwap():
    """o1: filled 2 of 4 (fill rate 0.5), average (100.2 + 100.6) / 2 = 100.4.
    vs arrival: +1 * (100.4 - 102.4) / 102.4 * 1e4 = -2 / 102.4 * 1e4 = -195.3125 bps (better).
    vs VWAP 100: 0.4 / 100 * 1e4 = +40 bps (worse). Fees 0.2008.
    Total cost = (100.4 - 102.4) * 2 + 0.2008 = -3.7992. Latency 1 s to the first fill, 3 s to the last.
    """
    q = order_quality(orders()[0])
    assert q.fill_rate == D("0.5")
    assert q.average_price == D("100.4")
    assert q.slippage_arrival_bps == D("-195.3125")
    assert q.slippage_vwap_bps == D(40)
    assert q.fees == D("0.2008")
    assert q.total_cost == D("-3.7992")
    assert (q.first_fill_latency, q.last_fill_latency) == (SEC, 3 * SEC)


def test_sell_below_arrival_is_positive_slippage_and_base_fee_is_valued():
    """o2: sold at 99.9 vs 100: -1 * (99.9 - 100) / 100 * 1e4 = +10 bps (worse). The 0.001 BTC fee
    is worth 0.001 * 99.9 = 0.0999 USDT; total cost = -1 * (99.9 - 100) * 1 + 0.0999 = 0.1999."""
    q = order_quality(orders()[1])
    assert q.slippage_arrival_bps == D(10)
    assert q.slippage_vwap_bps is None
    assert q.fees == D("0.0999")
    assert q.total_cost == D("0.1999")
    assert q.first_fill_latency == SEC / 2


def test_unfilled_order_has_no_price_figures():
    q = order_quality(orders()[2])
    assert (q.filled, q.fill_rate, q.total_cost) == (0, 0, 0)
    assert (
        q.average_price is None and q.slippage_arrival_bps is None and q.first_fill_latency is None
    )


def test_summary_per_strategy_and_venue():
    """trend: notional 200.8 (o1) + 99.9 (o2) = 300.7; arrival slippage weighted by notional
    (-195.3125 * 200.8 + 10 * 99.9) / 300.7 = (-39218.75 + 999) / 300.7 = -38219.75 / 300.7;
    VWAP slippage only o1 has one: 40. Fill rate (0.5 + 1) / 2 = 0.75; fees 0.2008 + 0.0999 =
    0.3007; total cost -3.7992 + 0.1999 = -3.5993; median first-fill latency of 1 s and 0.5 s = 0.75.
    mm: one unfilled order -> no slippage (NaN), fill rate 0.
    Per venue: a has o1 and o3, b has o2.
    """
    frame = quality_frame(order_quality(o) for o in orders())
    assert list(frame["client_order_id"]) == ["o1", "o2", "o3"]
    by_strategy = summarise(frame, "strategy")
    trend = by_strategy.loc["trend"]
    assert trend["orders"] == 2
    assert trend["filled_notional"] == pytest.approx(300.7)
    assert trend["slippage_arrival_bps"] == pytest.approx(-38219.75 / 300.7)
    assert trend["slippage_vwap_bps"] == pytest.approx(40)
    assert trend["fill_rate"] == pytest.approx(0.75)
    assert trend["fees"] == pytest.approx(0.3007)
    assert trend["total_cost"] == pytest.approx(-3.5993)
    assert trend["median_latency_s"] == pytest.approx(0.75)
    mm = by_strategy.loc["mm"]
    assert mm["fill_rate"] == 0 and math.isnan(mm["slippage_arrival_bps"])
    by_venue = summarise(frame, "venue")
    assert by_venue["orders"].to_dict() == {"a": 2, "b": 1}
    with pytest.raises(InvalidOrder, match="symbol"):
        summarise(frame, "symbol")


def test_interval_vwap_from_candles():
    """Candles in the window: typical (101 + 99 + 100)/3 = 100 with volume 1 and (103 + 101 + 102)/3
    = 102 with volume 3: VWAP (100 + 306) / 4 = 101.5. The third candle opens at `end`, so it is out."""
    candles = pd.DataFrame({
        "ts": pd.to_datetime([T0, T0 + 60 * SEC, T0 + 120 * SEC], utc=True),
        "high": [101.0, 103.0, 500.0], "low": [99.0, 101.0, 400.0],
        "close": [100.0, 102.0, 450.0], "volume": [1.0, 3.0, 9.0],
    })  # fmt: skip
    assert interval_vwap(candles, T0, T0 + 120 * SEC) == D("101.5")
    assert interval_vwap(candles, T0 + 600 * SEC, T0 + 700 * SEC) is None


def test_slippage_sign_and_guards():
    assert slippage_bps(Side.BUY, D(101), D(100)) == D(100)
    assert slippage_bps(Side.SELL, D(101), D(100)) == D(-100)
    with pytest.raises(InvalidOrder, match="benchmark"):
        slippage_bps(Side.BUY, D(1), D(0))
    bad = OrderExecution("o9", "s", "a", "BTC/USDT", Side.BUY, D(1), D(1), T0,
                         (fill("zz", 1, Side.BUY, "1", "1", "0", "USDT", T0),))  # fmt: skip
    with pytest.raises(InvalidOrder, match="belongs to zz"):
        order_quality(bad)
