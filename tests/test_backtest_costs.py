"""Execution realism: maker limit fills, half-spread slippage, square-root impact and the
volume cap with carry-over, each against hand-worked arithmetic or a plain Python loop;
and with every new setting off, the engine is the parity-tested contract to the bit."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from zvt_pipelines.analytics.indicators import sma_cross_targets
from zvt_pipelines.backtest import BacktestSettings, run_sma_cross, run_targets
from zvt_pipelines.backtest.costs import (
    corwin_schultz_spread,
    half_spread_at_fill,
    impact_inputs_nb,
)
from zvt_pipelines.data.candles import read_candle_file
from zvt_pipelines.errors import ConfigError, DataError

NAN = float("nan")


def candles(open_, high, low, close, volume=1.0) -> pd.DataFrame:
    n = len(close)
    ts = pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC").astype("datetime64[ms, UTC]")
    return pd.DataFrame(
        {"ts": ts, "open": open_, "high": high, "low": low, "close": close, "volume": volume}
    )


def flat_bars(n: int, volume) -> pd.DataFrame:
    """n bars with every price 100."""
    return candles([100.0] * n, [100.0] * n, [100.0] * n, [100.0] * n, volume)


@pytest.fixture(scope="module")
def btc_1h(shared_data) -> pd.DataFrame:
    return read_candle_file(shared_data / "binance_BTC-USDT_1h.csv.gz")


# --- every new setting off: the contract, bit for bit -------------------------------


OFF = {
    "order_style": "market",
    "maker_fee_bps": 0.0,
    "slippage": "fixed",
    "impact_coefficient": 0.0,
    "max_participation": None,
}


def assert_identical(ours, contract) -> None:
    np.testing.assert_array_equal(ours.equity.to_numpy(), contract.equity.to_numpy())
    np.testing.assert_array_equal(ours.position.to_numpy(), contract.position.to_numpy())
    pd.testing.assert_frame_equal(ours.fills, contract.fills, check_exact=True)
    pd.testing.assert_frame_equal(ours.trades, contract.trades, check_exact=True)
    assert (ours.final_equity, ours.fees_paid, ours.n_trades) == (
        contract.final_equity,
        contract.fees_paid,
        contract.n_trades,
    )
    assert ours.metrics.keys() == contract.metrics.keys()
    for name, value in contract.metrics.items():
        assert ours.metrics[name] == value or (math.isnan(value) and math.isnan(ours.metrics[name]))


@pytest.mark.parametrize(("fast", "slow", "fee_bps"), [(10, 30, 10.0), (24, 96, 25.0)])
def test_new_settings_off_is_bit_identical_to_the_contract(btc_1h, fast, slow, fee_bps):
    """`run_sma_cross` is parity-tested against backtrader, vectorbt and a plain loop."""
    contract = run_sma_cross(btc_1h, fast, slow, fee_bps, 10_000.0)
    targets = sma_cross_targets(btc_1h["close"].to_numpy(), fast, slow)
    ours = run_targets(btc_1h, targets, BacktestSettings(cash=10_000.0, fee_bps=fee_bps, **OFF))
    assert contract.n_trades > 100
    assert_identical(ours, contract)
    assert ours.slippage_cost == 0.0 and ours.metrics["slippage_cost"] == 0.0


def test_cost_loop_with_a_slack_volume_cap_is_the_contract_to_the_bit(btc_1h):
    """A cap of 100 % of the bar's volume never binds on 10,000 USDT of BTC (checked
    below), so the cost loop must reproduce the plain loop exactly."""
    contract = run_sma_cross(btc_1h, 10, 30, 10.0, 10_000.0)
    targets = sma_cross_targets(btc_1h["close"].to_numpy(), 10, 30)
    ours = run_targets(btc_1h, targets, BacktestSettings(fee_bps=10.0, max_participation=1.0))
    volume_at_fill = btc_1h.set_index("ts")["volume"].loc[contract.fills["time"]].to_numpy()
    assert (contract.fills["units"].abs().to_numpy() < volume_at_fill).all()
    assert_identical(ours, contract)


def test_cost_loop_with_fixed_slippage_equals_the_plain_loop(btc_1h):
    targets = sma_cross_targets(btc_1h["close"].to_numpy(), 10, 30)
    plain = run_targets(btc_1h, targets, BacktestSettings(fee_bps=10, slippage_bps=5))
    capped = BacktestSettings(fee_bps=10, slippage_bps=5, max_participation=1.0)
    assert_identical(run_targets(btc_1h, targets, capped), plain)
    # the fixed slippage is reported: 5 bps of every fill's base notional
    base = btc_1h.set_index("ts")["open"].loc[plain.fills["time"]].to_numpy()
    expected = (plain.fills["units"].abs().to_numpy() * base * 5e-4).sum()
    assert plain.slippage_cost == pytest.approx(expected, rel=1e-9)


# --- volume cap with carry-over -------------------------------------------------------


def test_ten_units_at_half_of_volume_four_fill_two_per_bar():
    """Cash 1,000, every price 100, no fee: target 1 decided on bar 0 wants
    1,000 / 100 = 10 units. Volume 4 per bar and p = 0.5 cap each fill at 2 units, so
    bars 1..5 fill 2, 2, 2, 2, 2 (position 2, 4, 6, 8, 10; cash 800, 600, 400, 200, 0)
    and bar 6 fills nothing. One trade (opened by the first partial fill), still open."""
    frame = flat_bars(7, 4.0)
    targets = [1.0] + [NAN] * 6
    result = run_targets(frame, targets, BacktestSettings(cash=1_000, max_participation=0.5))
    assert result.fills["units"].tolist() == [2.0] * 5
    assert result.fills["time"].tolist() == frame["ts"].iloc[1:6].tolist()
    assert result.fills["position"].tolist() == [2.0, 4.0, 6.0, 8.0, 10.0]
    cash = (result.equity - result.position * 100.0).tolist()
    assert cash == [1_000.0, 800.0, 600.0, 400.0, 200.0, 0.0, 0.0]
    assert result.n_trades == 1 and len(result.trades) == 1
    trade = result.trades.iloc[0]
    assert trade["is_open"] and trade["size"] == 10.0 and trade["entry_price"] == 100.0


def test_partial_fills_pay_the_fee_on_each_fill():
    """As above with a 10 bps fee. Each bar re-sizes the rest of the order from the cash
    left: wanted = units + cash / (100 * 1.001). Bars 1-4 fill 2 units (cost 200.2
    each: cash 799.8, 599.6, 399.4, 199.2); bar 5 wants 199.2 / 100.1 = 1.99000999...,
    under the cap, and spends the rest. Total 8 + 1.99000999 = 9.99000999 units, the
    all-in 1,000 / 100.1; fees 4 * 0.2 + 0.199000999 = 0.999000999 (= 1,000 * 0.001 /
    1.001)."""
    frame = flat_bars(7, 4.0)
    settings = BacktestSettings(cash=1_000, fee_bps=10, max_participation=0.5)
    result = run_targets(frame, [1.0] + [NAN] * 6, settings)
    last = 199.2 / 100.1
    np.testing.assert_allclose(result.fills["units"], [2, 2, 2, 2, last], rtol=1e-12)
    np.testing.assert_allclose(result.fills["fee"], [0.2, 0.2, 0.2, 0.2, last * 0.1], rtol=1e-9)
    cash = (result.equity - result.position * 100.0).to_numpy()
    np.testing.assert_allclose(cash[:5], [1_000, 799.8, 599.6, 399.4, 199.2], rtol=1e-12)
    assert abs(cash[5]) < 1e-9
    assert result.fees_paid == pytest.approx(1_000 * 0.001 / 1.001, rel=1e-12)
    assert result.position.iloc[-1] == pytest.approx(1_000 / 100.1, rel=1e-12)


def test_a_new_target_replaces_the_rest_of_the_order():
    """Volume 4, p = 0.5, no fee, cash 1,000, opens 100, 100, 100, 110, 120, 120.
    Target 1 on bar 0: bars 1, 2 buy 2 @ 100 each (position 4, cash 600). Target 0 on
    bar 2 replaces the unfilled 6: bar 3 sells 2 @ 110 (cash 820), bar 4 sells the last
    2 @ 120 (cash 1,060). One closed trade: size 4, entry 100, exit (220 + 240) / 4 =
    115, pnl 1,060 - 1,000 = 60."""
    opens = [100.0, 100.0, 100.0, 110.0, 120.0, 120.0]
    frame = candles(opens, opens, opens, opens, 4.0)
    targets = [1.0, NAN, 0.0, NAN, NAN, NAN]
    result = run_targets(frame, targets, BacktestSettings(cash=1_000, max_participation=0.5))
    assert result.fills["units"].tolist() == [2.0, 2.0, -2.0, -2.0]
    assert result.fills["price"].tolist() == [100.0, 100.0, 110.0, 120.0]
    assert result.final_equity == 1_060.0
    trade = result.trades.iloc[0]
    assert (trade["size"], trade["entry_price"], trade["exit_price"], trade["pnl"]) == (
        4.0,
        100.0,
        115.0,
        60.0,
    )
    assert not trade["is_open"] and result.n_trades == 1


def test_a_bar_without_volume_fills_nothing_and_the_order_waits():
    """Volumes 4, 4, 0, 4, 4 with p = 0.5 and 6 units wanted (cash 600 at 100): bar 1
    fills 2, bar 2 nothing, bars 3 and 4 fill 2 each."""
    frame = flat_bars(5, [4.0, 4.0, 0.0, 4.0, 4.0])
    result = run_targets(
        frame, [1.0] + [NAN] * 4, BacktestSettings(cash=600, max_participation=0.5)
    )
    assert result.fills["time"].tolist() == frame["ts"].iloc[[1, 3, 4]].tolist()
    assert result.position.tolist() == [0.0, 2.0, 2.0, 4.0, 6.0]


# --- maker limit at the open ----------------------------------------------------------


@pytest.fixture
def six_bars() -> pd.DataFrame:
    return candles(
        [100.0, 100.0, 102.0, 104.0, 105.0, 105.0],
        [101.0, 102.0, 103.0, 104.0, 106.0, 106.0],
        [99.0, 100.0, 101.0, 103.0, 104.0, 104.0],
        [100.0, 101.0, 102.0, 103.0, 105.0, 105.0],
    )


def test_limit_at_open_fills_only_when_the_bar_trades_through(six_bars):
    """Target 1 on bar 0, 0 on bar 2; cash 1,000; maker fee -1 bps (a rebate).
    Bar 1: low 100 = open 100, not traded through: the buy rests. Bar 2: low 101 <
    open 102: buys u = 1,000 / (102 * 0.9999) = 9.80490... units, rebate
    u * 102 * 0.0001 = 0.1 / 0.9999. Bar 3: high 104 = open: the sell rests. Bar 4:
    high 106 > open 105: sells u @ 105, receiving u * 105 * 1.0001.
    Final cash = 1,000 * 105 * 1.0001 / (102 * 0.9999)."""
    settings = BacktestSettings(cash=1_000, order_style="limit_at_open", maker_fee_bps=-1)
    result = run_targets(six_bars, [1.0, NAN, 0.0, NAN, NAN, NAN], settings)
    units = 1_000 / (102 * 0.9999)
    assert result.fills["time"].tolist() == six_bars["ts"].iloc[[2, 4]].tolist()
    assert result.fills["price"].tolist() == [102.0, 105.0]
    np.testing.assert_allclose(result.fills["units"], [units, -units], rtol=1e-12)
    assert result.final_equity == pytest.approx(1_000 * 105 * 1.0001 / (102 * 0.9999), rel=1e-12)
    assert result.fees_paid == pytest.approx(-(units * 102 + units * 105) * 1e-4, rel=1e-9)
    assert result.slippage_cost == 0.0


def test_market_orders_on_the_same_bars_pay_the_taker_fee(six_bars):
    """Market: buy at bar 1's open 100, sell at bar 3's open 104, taker 10 bps:
    final = 1,000 * 104 * 0.999 / (100 * 1.001); the maker fee is not used."""
    settings = BacktestSettings(cash=1_000, fee_bps=10, maker_fee_bps=-1)
    result = run_targets(six_bars, [1.0, NAN, 0.0, NAN, NAN, NAN], settings)
    assert result.fills["price"].tolist() == [100.0, 104.0]
    assert result.final_equity == pytest.approx(1_000 * 104 * 0.999 / (100 * 1.001), rel=1e-12)


# --- half-spread slippage (Corwin-Schultz) ---------------------------------------------


def test_corwin_schultz_on_hand_built_pairs():
    """Two equal bars H = 101, L = 99: beta = 2 x^2, gamma = x^2 with x = ln(101/99),
    so alpha = x (sqrt 2 - 1) / (3 - 2 sqrt 2) - x / (sqrt 2 - 1) ... = x and
    S = 2 (101/99 - 1) / (1 + 101/99) = 2 * 2 / 200 = 0.02.
    Drifting bars (100-101 then 110-111): gamma = ln(111/100)^2 dwarfs beta, alpha < 0,
    S is set to 0."""
    assert corwin_schultz_spread(101.0, 99.0, 101.0, 99.0) == pytest.approx(0.02, rel=1e-12)
    assert corwin_schultz_spread(101.0, 100.0, 111.0, 110.0) == 0.0


def test_corwin_schultz_matches_the_paper_formula_in_plain_math():
    """Bars (H, L) = (105, 100) and (106, 101), formulas (4), (11), (14) of Corwin &
    Schultz (2012) written out with `math`."""
    beta = math.log(105 / 100) ** 2 + math.log(106 / 101) ** 2
    gamma = math.log(106 / 100) ** 2
    k = 3 - 2 * math.sqrt(2)
    alpha = (math.sqrt(2 * beta) - math.sqrt(beta)) / k - math.sqrt(gamma / k)
    expected = 2 * (math.exp(alpha) - 1) / (1 + math.exp(alpha))
    assert expected > 0
    assert corwin_schultz_spread(105.0, 100.0, 106.0, 101.0) == pytest.approx(expected, rel=1e-12)


def test_half_spread_uses_the_two_bars_before_the_fill_bar():
    """Bar 0 (102, 98) paired with itself: S = 2 * 4 / 200 = 0.04 for fills on bar 1;
    bars 0 and 1 for bar 2; bars 1 and 2 (both 101, 99: S = 0.02) for bar 3."""
    high = np.array([102.0, 101.0, 101.0, 101.0])
    low = np.array([98.0, 99.0, 99.0, 99.0])
    half = half_spread_at_fill(high, low)
    assert half[1] == pytest.approx(0.02, rel=1e-12)
    assert half[2] == pytest.approx(corwin_schultz_spread(102.0, 98.0, 101.0, 99.0) / 2)
    assert half[3] == pytest.approx(0.01, rel=1e-12)
    # the fill bar's own range never enters its estimate
    wider = half_spread_at_fill(high, np.array([98.0, 99.0, 99.0, 50.0]))
    np.testing.assert_array_equal(wider, half)


def test_half_spread_round_trip():
    """Opens and closes 100; bar 0 spans 98-102, the rest 99-101. Target 1 on bar 0
    buys on bar 1 at 100 * (1 + 0.02) = 102 (bar 0 paired with itself):
    1,000 / 102 units. Target 0 on bar 3 sells on bar 4 at 100 * (1 - 0.01) = 99
    (bars 2, 3: S = 0.02). Final = 1,000 * 99 / 102; slippage cost
    (1,000 / 102) * (2 + 1) = 29.41..."""
    frame = candles([100.0] * 6, [102.0] + [101.0] * 5, [98.0] + [99.0] * 5, [100.0] * 6)
    settings = BacktestSettings(cash=1_000, slippage="half_spread")
    result = run_targets(frame, [1.0, NAN, NAN, 0.0, NAN, NAN], settings)
    np.testing.assert_allclose(result.fills["price"], [102.0, 99.0], rtol=1e-12)
    assert result.final_equity == pytest.approx(1_000 * 99 / 102, rel=1e-12)
    assert result.slippage_cost == pytest.approx(3_000 / 102, rel=1e-12)
    assert result.metrics["slippage_cost"] == result.slippage_cost


# --- square-root impact -----------------------------------------------------------------


def test_impact_inputs_see_only_bars_before_the_fill_bar():
    """Window 2. Closes 100, 100 e^0.01, 100, 100 e^0.02, 100: log returns
    0.01, -0.01, 0.02, -0.02. sigma[4] = sqrt((0.01^2 + 0.02^2) / 2) = sqrt(0.00025),
    sigma[3] = sqrt((0.01^2 + 0.01^2) / 2) = 0.01, sigma[2] = |0.01| (one return),
    sigma[1] = 0 (none yet); volumes 50, 150, 100,
    300, 7: mean_volume[1] = 50, [2] = 100, [3] = 125, [4] = 200."""
    close = np.array([100.0, 100 * math.exp(0.01), 100.0, 100 * math.exp(0.02), 100.0])
    volume = np.array([50.0, 150.0, 100.0, 300.0, 7.0])
    sigma, mean_volume = impact_inputs_nb(close, volume, 2)
    np.testing.assert_allclose(
        sigma[1:], [0.0, 0.01, 0.01, math.sqrt(0.00025)], rtol=1e-12, atol=1e-15
    )
    np.testing.assert_allclose(mean_volume[1:], [50.0, 100.0, 125.0, 200.0], rtol=1e-12)


def test_square_root_impact_round_trip():
    """k = 1, window 2, no fee, cash 1,000; fills at the opens (100 each).
    Buy on bar 3 (target 1 decided on bar 2): sigma = 0.01, mean volume (150 + 100) / 2
    = 125; sized before impact at 100: Q0 = 10, i = 0.01 sqrt(10 / 125) = 0.0028284271;
    price 100 (1 + i); units u = 1,000 / (100 (1 + i)) = 9.9717975...
    Sell on bar 5 (target 0 decided on bar 4): returns of bars 3 and 4 are 0.02, -0.02,
    sigma = 0.02, mean volume (300 + 100) / 2 = 200, i = 0.02 sqrt(u / 200); price
    100 (1 - i). Slippage cost = u * 100 * (i_buy + i_sell)."""
    close = [100.0, 100 * math.exp(0.01), 100.0, 100 * math.exp(0.02), 100.0, 100.0]
    high = [c * 1.01 for c in close]
    low = [99.0] * 6
    frame = candles([100.0] * 6, high, low, close, [50.0, 150.0, 100.0, 300.0, 100.0, 1.0])
    settings = BacktestSettings(cash=1_000, impact_coefficient=1.0, impact_window=2)
    result = run_targets(frame, [NAN, NAN, 1.0, NAN, 0.0, NAN], settings)
    i_buy = 0.01 * math.sqrt(10 / 125)
    units = 1_000 / (100 * (1 + i_buy))
    i_sell = 0.02 * math.sqrt(units / 200)
    np.testing.assert_allclose(
        result.fills["price"], [100 * (1 + i_buy), 100 * (1 - i_sell)], rtol=1e-12
    )
    np.testing.assert_allclose(result.fills["units"], [units, -units], rtol=1e-12)
    assert result.final_equity == pytest.approx(units * 100 * (1 - i_sell), rel=1e-12)
    assert result.slippage_cost == pytest.approx(units * 100 * (i_buy + i_sell), rel=1e-9)


# --- every setting together against a plain Python loop --------------------------------


def corwin_schultz(ha: float, la: float, hb: float, lb: float) -> float:
    beta = math.log(ha / la) ** 2 + math.log(hb / lb) ** 2
    gamma = math.log(max(ha, hb) / min(la, lb)) ** 2
    k = 3 - 2 * math.sqrt(2)
    alpha = (math.sqrt(2 * beta) - math.sqrt(beta)) / k - math.sqrt(gamma / k)
    return max(2 * (math.exp(alpha) - 1) / (1 + math.exp(alpha)), 0.0)


def reference_loop(frame: pd.DataFrame, targets, settings: BacktestSettings):
    """The rules of `zvt_pipelines.backtest.costs` as a plain loop (fills at the open).

    Quantities come from the fill's balance rather than the engine's sizing formula:
    after buying Q at p with fee r, (u + Q) p = f (cash - Q p (1 + r) + (u + Q) p), so
    Q = (f cash - (1 - f) u p) / (p (1 + f r)); a sale of Q solves
    Q = ((1 - f) u p - f cash) / (p (1 - f r)). A remainder worth at most 1e-9 of the
    equity counts as done (float dust). Returns equity per bar and the fills as
    (bar, signed units, price, fee)."""
    o, h, lo, c, v = (frame[k].tolist() for k in ("open", "high", "low", "close", "volume"))
    limit = settings.order_style == "limit_at_open"
    rate = (settings.maker_fee_bps if limit else settings.fee_bps) / 10_000
    k, window, p = settings.impact_coefficient, settings.impact_window, settings.max_participation
    cash, units, standing, side = settings.cash, 0.0, 0.0, 0
    equity, fills = [], []

    def quantity(f: float, price: float) -> float:
        if side == 1:
            return (f * cash - (1 - f) * units * price) / (price * (1 + f * rate))
        return ((1 - f) * units * price - f * cash) / (price * (1 - f * rate))

    for t in range(len(c)):
        if t > 0:
            if not math.isnan(targets[t - 1]) and targets[t - 1] != standing:
                standing = targets[t - 1]
                side = 1 if standing * (cash + units * o[t]) > units * o[t] else -1
            cap = p * v[t] if p is not None else math.inf
            first = max(0, t - window)
            returns = [math.log(c[j] / c[j - 1]) for j in range(max(1, first), t)]
            sigma = math.sqrt(sum(r * r for r in returns) / len(returns)) if returns else 0.0
            mean_volume = sum(v[first:t]) / (t - first)
            through = lo[t] < o[t] if side == 1 else h[t] > o[t]
            if side != 0 and (through or not limit) and (k == 0 or mean_volume > 0):
                if settings.slippage == "half_spread":
                    a, b = (0, 0) if t == 1 else (t - 2, t - 1)
                    adverse = corwin_schultz(h[a], lo[a], h[b], lo[b]) / 2
                else:
                    adverse = settings.slippage_bps / 10_000
                q = quantity(standing, o[t] * (1 + side * adverse))
                if k > 0 and q > 0:
                    adverse = min(adverse + k * sigma * math.sqrt(min(q, cap) / mean_volume), 1.0)
                    q = quantity(standing, o[t] * (1 + side * adverse))
                if q * o[t] <= 1e-9 * (cash + units * o[t]):  # done (or float dust)
                    side = 0
                else:
                    price = o[t] * (1 + side * adverse)
                    done, q = q <= cap, min(q, cap)
                    if q > 0:
                        fee = q * price * rate
                        units += side * q
                        cash -= side * q * price + fee
                        fills.append((t, side * q, price, fee))
                    if done:
                        side = 0
        equity.append(cash + units * c[t])
    return equity, fills


def random_frame(seed: int, n: int = 300) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.concatenate(([100.0], close[:-1])) * np.exp(rng.normal(0, 0.002, n))
    high = np.maximum(open_, close) * (1 + rng.choice([0.0, 0.004], n))
    low = np.minimum(open_, close) * (1 - rng.choice([0.0, 0.004], n))
    volume = rng.choice([0.0, 20.0, 80.0, 300.0], n)
    targets = rng.choice([NAN, NAN, NAN, 0.0, 0.4, 1.0], n)
    return candles(open_, high, low, close, volume), targets


CASES = {
    "cap_fee": {"fee_bps": 10, "max_participation": 0.3},
    "cap_fixed_slippage": {"fee_bps": 5, "slippage_bps": 20, "max_participation": 0.1},
    "half_spread": {"fee_bps": 10, "slippage": "half_spread"},
    "impact": {"fee_bps": 10, "impact_coefficient": 0.8, "impact_window": 24},
    "impact_cap_half_spread": {
        "fee_bps": 7,
        "slippage": "half_spread",
        "impact_coefficient": 2.0,
        "impact_window": 10,
        "max_participation": 0.2,
    },
    "limit": {"order_style": "limit_at_open", "maker_fee_bps": 2},
    "limit_rebate_cap": {
        "order_style": "limit_at_open",
        "maker_fee_bps": -1,
        "max_participation": 0.5,
    },
}


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("case", sorted(CASES))
def test_engine_matches_the_plain_loop(case, seed):
    frame, targets = random_frame(seed)
    settings = BacktestSettings(cash=10_000, **CASES[case])
    result = run_targets(frame, targets, settings)
    equity, fills = reference_loop(frame, targets, settings)
    assert len(fills) > 10
    plain = run_targets(frame, targets, BacktestSettings(cash=10_000, fee_bps=settings.fee_bps))
    assert result.final_equity != plain.final_equity  # the setting bites
    np.testing.assert_allclose(result.equity.to_numpy(), equity, rtol=1e-9)
    assert result.fills["time"].tolist() == frame["ts"].iloc[[f[0] for f in fills]].tolist()
    for column, values in zip(
        ("units", "price", "fee"), list(zip(*fills, strict=True))[1:], strict=True
    ):
        np.testing.assert_allclose(result.fills[column], values, rtol=1e-9, atol=1e-12)
    assert result.fees_paid == pytest.approx(sum(f[3] for f in fills), rel=1e-9, abs=1e-12)
    base = frame["open"].to_numpy()[[f[0] for f in fills]]
    cost = sum(units * (price - b) for (_, units, price, _), b in zip(fills, base, strict=True))
    assert result.slippage_cost == pytest.approx(cost, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_nothing_after_the_fill_bar_changes_the_account_with_costs_on(seed):
    """Spread, impact and cap read bars before the fill bar (the cap: the fill bar's own
    volume); so rewriting bars t+2.. and targets t+1.. leaves bars 0..t+1 untouched."""
    frame, targets = random_frame(seed, 200)
    t = int(np.random.default_rng(seed).integers(0, 190))
    settings = BacktestSettings(
        fee_bps=10,
        slippage="half_spread",
        impact_coefficient=1.0,
        impact_window=12,
        max_participation=0.2,
    )
    base = run_targets(frame, targets, settings)
    future, changed = frame.copy(), targets.copy()
    for column in ("open", "high", "low", "close", "volume"):
        future.loc[t + 2 :, column] = future.loc[t + 2 :, column] * 1.7
    changed[t + 1 :] = 1.0 - np.nan_to_num(changed[t + 1 :], nan=0.5)
    other = run_targets(future, changed, settings)
    np.testing.assert_array_equal(base.equity.to_numpy()[: t + 2], other.equity.to_numpy()[: t + 2])


# --- settings guards ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"order_style": "stop"}, "order_style"),
        ({"slippage": "vwap"}, "slippage"),
        ({"maker_fee_bps": -10_000}, "maker_fee_bps"),
        ({"impact_coefficient": -0.1}, "impact_coefficient"),
        ({"impact_window": 0}, "impact_window"),
        ({"max_participation": 0.0}, "max_participation"),
        ({"max_participation": 1.5}, "max_participation"),
        ({"slippage": "half_spread", "slippage_bps": 5}, "slippage_bps"),
        ({"order_style": "limit_at_open", "slippage_bps": 5}, "slippage_bps"),
        ({"order_style": "limit_at_open", "fill_price": "close"}, "fill_price"),
        ({"order_style": "limit_at_open", "impact_coefficient": 1}, "impact_coefficient"),
    ],
)
def test_bad_or_contradictory_settings_are_refused(fields, match):
    with pytest.raises(ConfigError, match=match):
        BacktestSettings(**fields)


def test_cap_and_impact_need_a_volume():
    frame = flat_bars(3, [1.0, NAN, 1.0])
    with pytest.raises(DataError, match="volume at row 1"):
        run_targets(frame, [1.0, NAN, NAN], BacktestSettings(max_participation=0.5))
    assert run_targets(frame, [1.0, NAN, NAN]).n_trades == 1
