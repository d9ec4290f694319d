"""The portfolio tables on a hand-built book: two strategies, two venues, five fills.

The book (capital 10,000 USDT per strategy account, fees in USDT):
* alpha on sim_a: buy 0.1 BTC @ 40,000 fee 4, sell 0.05 BTC @ 42,000 fee 2.1
  -> cash 10,000 − 4,004 + 2,097.9 = 8,093.9; 0.05 BTC @ 43,000 = 2,150; equity 10,243.9.
  FIFO: the closed half cost 2,002 and fetched 2,097.9 -> realised +95.9.
* alpha on sim_b: buy 0.1 BTC @ 40,100 fee 4.01 -> cash 5,985.99 + 4,310 (@ 43,100) = 10,295.99.
* beta on sim_a: buy 2 ETH @ 2,000 fee 4, sell 2 ETH @ 1,900 fee 3.8
  -> equity 10,000 − 4,004 + 3,796.2 = 9,792.2; realised −207.8.
Last closes at as_of (2024-01-31 00:00): BTC 43,000 on sim_a, 43,100 on sim_b, ETH 2,100.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import empyrical
import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from tests.portfolio_book import add_daily_candles, add_fill, entries, new_database
from zvt_pipelines.alerts.alert import Severity
from zvt_pipelines.portfolio.breaches import Breach, new_breaches
from zvt_pipelines.portfolio.holdings_risk import risk_report
from zvt_pipelines.portfolio.overview import current_holdings
from zvt_pipelines.portfolio.performance_table import performance_table, persist_performance
from zvt_pipelines.portfolio.strategy_attribution import attribution_report
from zvt_pipelines.storage.performance import load_performance, record_performance

AS_OF = pd.Timestamp("2024-01-31", tz="UTC")


def btc_path(last: float, count: int = 30) -> list[float]:
    """A seeded random walk ending exactly at `last`."""
    rng = np.random.default_rng(7)
    steps = rng.normal(0.0, 0.03, count - 1)
    path = last * np.exp(np.concatenate([[0.0], np.cumsum(steps)]) - np.sum(steps))
    return path.tolist()


@pytest.fixture
def book(tmp_path):
    _, db = new_database(tmp_path)
    add_daily_candles(db, "sim_a", "BTC/USDT", "2024-01-01", btc_path(43_000.0))
    add_daily_candles(db, "sim_b", "BTC/USDT", "2024-01-01", btc_path(43_100.0))
    add_daily_candles(db, "sim_a", "ETH/USDT", "2024-01-01", [2_000.0] * 29 + [2_100.0])
    add_fill(db, "alpha", "sim_a", "BTC/USDT", "buy", "0.1", "40000", "4", "2024-01-10")
    add_fill(db, "alpha", "sim_a", "BTC/USDT", "sell", "0.05", "42000", "2.1", "2024-01-12")
    add_fill(db, "alpha", "sim_b", "BTC/USDT", "buy", "0.1", "40100", "4.01", "2024-01-10")
    add_fill(db, "beta", "sim_a", "ETH/USDT", "buy", "2", "2000", "4", "2024-01-11")
    add_fill(db, "beta", "sim_a", "ETH/USDT", "sell", "2", "1900", "3.8", "2024-01-13")
    return db


def rows_by_key(table: pd.DataFrame) -> dict[tuple[str, str], dict]:
    return {(r["scope"], r["name"]): r for r in table.to_dict("records")}


def test_performance_table_values_every_slice_by_hand(book):
    """Strategy, venue and portfolio values are the account equities of the docstring; an
    asset's PnL is realised + unrealised of its positions (BTC: 95.9 + 148 + 295.99 = 539.89)."""
    rows = rows_by_key(performance_table(book, entries(), AS_OF))
    assert sorted(rows) == [
        ("asset", "BTC"),
        ("asset", "ETH"),
        ("portfolio", "portfolio"),
        ("strategy", "alpha"),
        ("strategy", "beta"),
        ("venue", "sim_a"),
        ("venue", "sim_b"),
    ]
    expected = {  # (capital, total value, pnl, fees, trades)
        ("strategy", "alpha"): ("20000", "20539.89", "539.89", "10.11", 3),
        ("strategy", "beta"): ("10000", "9792.2", "-207.8", "7.8", 2),
        ("venue", "sim_a"): ("20000", "20036.1", "36.1", "13.9", 4),
        ("venue", "sim_b"): ("10000", "10295.99", "295.99", "4.01", 1),
        ("asset", "BTC"): ("20000", "6460", "539.89", "10.11", 3),
        ("asset", "ETH"): ("10000", "0", "-207.8", "7.8", 2),
        ("portfolio", "portfolio"): ("30000", "30332.09", "332.09", "17.91", 5),
    }
    for key, (capital, value, pnl, fees, trades) in expected.items():
        row = rows[key]
        assert row["capital"] == Decimal(capital), key
        assert row["total_value"] == Decimal(value), key
        assert row["pnl"] == Decimal(pnl), key
        assert row["daily_pnl"] == Decimal(pnl), key  # no stored day yet: measured vs capital
        assert row["fees"] == Decimal(fees), key
        assert row["trades"] == trades, key
        assert row["total_return"] == pytest.approx(float(Decimal(pnl) / Decimal(capital)))
        assert np.isnan(row["sharpe"]) and np.isnan(row["max_drawdown"])  # one day of history
    # closed lots: alpha +95.9 only, beta −207.8 only, the portfolio one of each
    assert rows[("strategy", "alpha")]["win_rate"] == 1.0
    assert np.isnan(rows[("strategy", "alpha")]["avg_win_loss_ratio"])  # no loss to divide by
    assert rows[("strategy", "beta")]["win_rate"] == 0.0
    assert rows[("portfolio", "portfolio")]["win_rate"] == 0.5
    assert rows[("portfolio", "portfolio")]["avg_win_loss_ratio"] == pytest.approx(95.9 / 207.8)
    # the asset slices split the portfolio's PnL exactly (all fees in the quote currency)
    assert rows[("asset", "BTC")]["pnl"] + rows[("asset", "ETH")]["pnl"] == Decimal("332.09")


def test_history_gives_daily_pnl_sharpe_and_drawdown(book):
    """Stored alpha days: pnl 400 (01-29) and −8 (01-30) on capital 20,000; today 539.89.
    Returns 400/20,000 = 0.02, (−8 − 400)/20,400 = −0.02, (539.89 + 8)/19,992; wealth
    1.02 -> 0.9996 (drawdown −2 %) -> 1.02700 (a new peak, so today's drawdown is 0)."""
    for day, pnl in ((date(2024, 1, 29), "400"), (date(2024, 1, 30), "-8")):
        record_performance(
            book,
            scope="strategy",
            name="alpha",
            day=day,
            total_value=Decimal(20_000) + Decimal(pnl),
            metrics={},
            details={"capital": "20000", "pnl": pnl},
        )
    row = rows_by_key(performance_table(book, entries(), AS_OF))[("strategy", "alpha")]
    returns = np.array([0.02, -0.02, 547.89 / 19_992])
    assert row["daily_pnl"] == Decimal("547.89")
    assert row["days"] == 3
    assert row["sharpe"] == pytest.approx(empyrical.sharpe_ratio(returns, annualization=365))
    assert row["sortino"] == pytest.approx(empyrical.sortino_ratio(returns, annualization=365))
    assert row["max_drawdown"] == pytest.approx(-0.02, abs=1e-12)
    assert row["drawdown"] == 0.0


def test_persist_writes_one_row_per_slice_and_feeds_the_next_day(book):
    table = performance_table(book, entries(), AS_OF)
    assert persist_performance(book, table) == 7
    stored = load_performance(book, scope="venue", name="sim_b")
    assert len(stored) == 1 and stored[0].date == date(2024, 1, 31)
    assert stored[0].total_value == Decimal("10295.99") and stored[0].fees == Decimal("4.01")
    assert stored[0].details["pnl"] == "295.99"
    # the next day, with unchanged prices and no fills, made nothing: daily PnL 0, return 0
    later = rows_by_key(performance_table(book, entries(), AS_OF + pd.Timedelta(days=1)))
    assert later[("venue", "sim_b")]["daily_pnl"] == 0
    assert later[("venue", "sim_b")]["days"] == 2
    assert later[("venue", "sim_b")]["max_drawdown"] == 0.0


def test_risk_report_against_independent_references(book):
    """Holdings: BTC 2,150 (sim_a) + 4,310 (sim_b) = 6,460; cash 17,886.1 on sim_a and
    5,985.99 on sim_b; equity 30,332.09. Only BTC moves, so the book's historical 1-day VaR is
    −6,460 × empyrical's 5 % VaR of the sim_a BTC daily returns (the first venue holding BTC)."""
    holdings = current_holdings(book, entries(), AS_OF)
    report = risk_report(book, holdings, AS_OF, strategies=["alpha", "beta"])
    assert report.timeframe == "1d" and report.observations == 29
    assert report.equity == pytest.approx(30_332.09)
    assert report.gross_exposure == pytest.approx(6_460.0)
    assert report.leverage == pytest.approx(6_460.0 / 30_332.09)
    assert report.margin_utilisation == 0.0  # spot only
    assert report.concentration.largest_asset == "BTC" and report.concentration.herfindahl == 1.0

    closes = np.array(btc_path(43_000.0))
    r = closes[1:] / closes[:-1] - 1.0
    assert report.var_of("historical", 1) == pytest.approx(
        -6_460.0 * empyrical.value_at_risk(r, 0.05), rel=1e-9
    )
    weekly = np.array([np.prod(1.0 + r[i : i + 7]) - 1.0 for i in range(len(r) - 6)])
    assert report.var_of("historical", 7) == pytest.approx(
        -6_460.0 * np.percentile(weekly, 5), rel=1e-9
    )
    mu, sigma = r.mean() * 6_460.0, r.std(ddof=1) * 6_460.0
    assert report.var_of("parametric", 7) == pytest.approx(
        -7 * mu + norm.ppf(0.95) * sigma * np.sqrt(7), rel=1e-9
    )

    stress = report.stress["pnl"]
    assert stress["BTC -30%"] == pytest.approx(-0.3 * 6_460.0)
    assert stress["USDT depeg to 0.95"] == pytest.approx(-0.05 * (17_886.1 + 5_985.99))
    assert stress["sim_a outage"] == pytest.approx(-(2_150.0 + 17_886.1))
    assert stress["sim_b outage"] == pytest.approx(-10_295.99)


def test_attribution_brinson_and_fees_by_hand(tmp_path):
    """One account, capital 10,000: 0.1 BTC @ 40,000 and 1 ETH @ 2,000 bought before the window,
    0.01 BTC @ 44,000 (fee 4.4) bought just after the second close.
    Closes BTC 40,000 / 44,000 / 42,000, ETH 2,000 / 2,000 / 2,200.
    Held weights: period 1 BTC 0.4, ETH 0.2, cash 0.4 -> +4 %; period 2 BTC 4,400/10,400,
    ETH 2,000/10,400 -> (−200 + 200)/10,400 = 0; holdings return R = 0.04.
    BTC buy and hold: 0.05. Equal weight: (0.1 + 0)/2 = 0.05, then (−1/22 + 0.1)/2, compounded
    1.05 × (1 + 0.6/22) − 1 = 0.0786363636...
    Equity 10,000 -> 3,555.6 + 4,620 + 2,200 = 10,375.6: after fees 0.03756, before 0.038,
    fee drag 0.00044; trading effect 0.038 − 0.04 = −0.002 (the 0.01 BTC lost 20)."""
    _, db = new_database(tmp_path)
    raw = [
        {
            "name": "mix",
            "type": "momentum",
            "symbols": ["sim_a:BTC/USDT", "sim_a:ETH/USDT"],
            "amount_per_trade": 100,
            "params": {"trend_window": 50, "rsi_entry": 55, "rsi_max": 80, "trailing_stop": 0.04},
        }
    ]
    add_daily_candles(db, "sim_a", "BTC/USDT", "2024-03-01", [40_000.0, 44_000.0, 42_000.0])
    add_daily_candles(db, "sim_a", "ETH/USDT", "2024-03-01", [2_000.0, 2_000.0, 2_200.0])
    add_fill(db, "mix", "sim_a", "BTC/USDT", "buy", "0.1", "40000", "0", "2024-03-01 12:00")
    add_fill(db, "mix", "sim_a", "ETH/USDT", "buy", "1", "2000", "0", "2024-03-01 12:00")
    add_fill(db, "mix", "sim_a", "BTC/USDT", "buy", "0.01", "44000", "4.4", "2024-03-03 00:01")
    start, end = pd.Timestamp("2024-03-01", tz="UTC"), pd.Timestamp("2024-03-04", tz="UTC")
    table = attribution_report(db, entries(raw), start, end).set_index("benchmark")
    equal = 1.05 * (1 + 0.6 / 22) - 1
    assert list(table.index) == ["BTC buy and hold", "equal weight"]
    for name, benchmark in (("BTC buy and hold", 0.05), ("equal weight", equal)):
        row = table.loc[name]
        assert row["periods"] == 2
        assert row["strategy_return"] == pytest.approx(0.04, abs=1e-12)
        assert row["benchmark_return"] == pytest.approx(benchmark, abs=1e-12)
        effects = row[["allocation", "timing", "selection", "interaction", "currency"]]
        assert effects.sum() == pytest.approx(0.04 - benchmark, abs=1e-12)
        assert row["selection"] == row["interaction"] == row["currency"] == 0.0
        assert row["return_after_fees"] == pytest.approx(0.03756, abs=1e-12)
        assert row["return_before_fees"] == pytest.approx(0.038, abs=1e-12)
        assert row["fees"] == Decimal("4.4")
        assert row["fee_drag"] == pytest.approx(0.00044, abs=1e-12)
        assert row["trading_effect"] == pytest.approx(-0.002, abs=1e-12)


def breach(key: str, severity: Severity) -> Breach:
    return Breach(key, severity, 1.0, 0.5, key, key)


def test_new_breaches_alerts_on_appearance_and_escalation_only():
    warn = breach("drawdown:strategy:a", Severity.WARNING)
    critical = breach("drawdown:strategy:a", Severity.CRITICAL)
    sent, active = new_breaches([warn], {})
    assert sent == [warn] and active == {"drawdown:strategy:a": "warning"}
    assert new_breaches([warn], active)[0] == []  # persists: silent
    assert new_breaches([critical], active)[0] == [critical]  # escalates: sent
    assert new_breaches([warn], {"drawdown:strategy:a": "critical"})[0] == []  # eases: silent
    sent, cleared = new_breaches([], active)
    assert sent == [] and cleared == {}
    assert new_breaches([warn], cleared)[0] == [warn]  # clears and comes back: sent again
