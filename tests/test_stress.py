"""Stress tests: hand-built portfolio losses and historical crash days checked on the raw files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import linregress

from zvt_pipelines.errors import DataError, RiskInputError
from zvt_pipelines.portfolio.stress import (
    CRASH_DAYS,
    DayMove,
    Holding,
    Scenario,
    btc_crash,
    day_move,
    estimate_betas,
    historical_scenario,
    run_stress_tests,
    stablecoin_depeg,
    venue_outage,
)

HOLDINGS = [
    Holding("binance", "BTC", 60000.0),
    Holding("binance", "ETH", 30000.0),
    Holding("binance", "USDT", 10000.0),
    Holding("kraken", "BTC", 20000.0),
    Holding("kraken", "USDT", 5000.0),
]  # equity 125000


def test_hypothetical_scenarios_by_hand() -> None:
    """Equity 125000.

    BTC −30 %, ETH beta 1.2 -> −36 %, USDT beta 0: −0.3·(60000 + 20000) − 0.36·30000
      = −24000 − 10800 = −34800, i.e. −27.84 % of equity.
    USDT to 0.95 from 1: −0.05·(10000 + 5000) = −750, −0.6 %.
    USDT to 0.95 from 0.999: (0.95/0.999 − 1)·15000.
    Kraken lost: −(20000 + 5000) = −25000, −20 %.
    """
    scenarios = [
        btc_crash(-0.30, betas={"ETH": 1.2, "USDT": 0.0}),
        stablecoin_depeg("USDT", 0.95),
        stablecoin_depeg("USDT", 0.95, current_price=0.999),
        venue_outage("kraken"),
    ]
    table = run_stress_tests(HOLDINGS, scenarios)
    assert list(table.columns) == ["pnl", "pct_equity"]
    expected_pnl = [-34800.0, -750.0, (0.95 / 0.999 - 1) * 15000, -25000.0]
    np.testing.assert_allclose(table["pnl"].to_numpy(), expected_pnl, rtol=1e-12)
    np.testing.assert_allclose(
        table["pct_equity"].to_numpy(), np.array(expected_pnl) / 125000, rtol=1e-12
    )
    assert table.index[0] == "BTC -30%"


def test_shorts_gain_in_a_crash_and_stay_owed_in_an_outage() -> None:
    """A 10000 BTC short on kraken next to 25000 of assets there: BTC −30 % gains +3000 on it;
    the outage loses the 25000 of assets while the short liability stays (no gain from it)."""
    holdings = [*HOLDINGS, Holding("kraken", "BTC", -10000.0)]
    assert btc_crash(-0.30).pnl(holdings) == pytest.approx(-0.3 * 80000 + 3000)
    assert venue_outage("kraken").pnl(holdings) == pytest.approx(-25000.0)
    assert venue_outage("kraken", haircut=0.5).pnl(holdings) == pytest.approx(-12500.0)


def test_explicit_equity_and_bad_scenarios() -> None:
    table = run_stress_tests(HOLDINGS, [venue_outage("kraken")], equity=250000.0)
    assert table.loc["kraken outage", "pct_equity"] == pytest.approx(-0.1)
    with pytest.raises(RiskInputError, match="shock BTC=-1.5"):
        Scenario("too far", {"BTC": -1.5})
    with pytest.raises(RiskInputError, match="haircut kraken=2"):
        venue_outage("kraken", haircut=2)


def _raw_day(path: Path, day: str) -> pd.DataFrame:
    """The file's rows opening on `day` (UTC), read with plain pandas and millisecond bounds."""
    raw = pd.read_csv(path)
    start = int(pd.Timestamp(day, tz="UTC").value // 1_000_000)
    return raw[(raw["timestamp"] >= start) & (raw["timestamp"] < start + 86_400_000)]


def _peak_to_trough_loop(rows: pd.DataFrame) -> float:
    """Worst low_j / max(open_j, high_i for i < j) − 1, by a plain double loop."""
    opens, highs, lows = rows["open"].tolist(), rows["high"].tolist(), rows["low"].tolist()
    worst = 0.0
    for j in range(len(rows)):
        peak = max([opens[j], *highs[:j]])
        worst = min(worst, lows[j] / peak - 1)
    return worst


@pytest.mark.parametrize("crash", CRASH_DAYS, ids=lambda crash: crash.day)
def test_historical_scenarios_match_the_raw_files(shared_data: Path, crash) -> None:
    open_to_low = historical_scenario(crash, shared_data, DayMove.OPEN_TO_LOW)
    peak_to_trough = historical_scenario(crash, shared_data)
    assert set(open_to_low.asset_shocks) == set(crash.files)
    for asset, name in crash.files.items():
        rows = _raw_day(shared_data / name, crash.day)
        expected_open_to_low = rows["low"].min() / rows["open"].iloc[0] - 1
        assert open_to_low.asset_shocks[asset] == pytest.approx(expected_open_to_low, rel=1e-12)
        expected_peak = _peak_to_trough_loop(rows)
        assert peak_to_trough.asset_shocks[asset] == pytest.approx(expected_peak, rel=1e-12)
        assert peak_to_trough.asset_shocks[asset] <= open_to_low.asset_shocks[asset]


def test_historical_scenario_on_a_portfolio(shared_data: Path) -> None:
    """1 BTC at 60000 and 10 ETH at 3000, 2024-08-05 open-to-low: the P&L is
    60000·(low/open − 1 of the BTC 1m file) + 30000·(the same on the ETH 1h file)."""
    crash = CRASH_DAYS[1]
    btc = _raw_day(shared_data / crash.files["BTC"], crash.day)
    eth = _raw_day(shared_data / crash.files["ETH"], crash.day)
    expected = 60000 * (btc["low"].min() / btc["open"].iloc[0] - 1) + 30000 * (
        eth["low"].min() / eth["open"].iloc[0] - 1
    )
    scenario = historical_scenario(crash, shared_data, DayMove.OPEN_TO_LOW)
    holdings = [Holding("binance", "BTC", 60000.0), Holding("binance", "ETH", 30000.0)]
    table = run_stress_tests(holdings, [scenario])
    assert table.loc[crash.name, "pnl"] == pytest.approx(expected, rel=1e-12)
    assert table.loc[crash.name, "pct_equity"] == pytest.approx(expected / 90000, rel=1e-12)


def test_day_without_candles_is_a_data_error() -> None:
    frame = pd.DataFrame(
        {"ts": pd.to_datetime(["2024-01-01"], utc=True), "open": [1.0], "high": [1.0], "low": [1.0]}
    )
    with pytest.raises(DataError, match="2020-03-12"):
        day_move(frame, "2020-03-12", DayMove.OPEN_TO_LOW)


def test_betas_are_ols_slopes() -> None:
    rng = np.random.default_rng(42)
    btc = rng.normal(0, 0.03, 500)
    returns = pd.DataFrame(
        {"BTC": btc, "ETH": 1.3 * btc + rng.normal(0, 0.01, 500), "USDT": rng.normal(0, 1e-4, 500)}
    )
    betas = estimate_betas(returns)
    assert betas["BTC"] == pytest.approx(1.0)
    for asset in ("ETH", "USDT"):
        assert betas[asset] == pytest.approx(linregress(btc, returns[asset]).slope, rel=1e-10)
    with pytest.raises(RiskInputError, match="'SOL'"):
        estimate_betas(returns, driver="SOL")
