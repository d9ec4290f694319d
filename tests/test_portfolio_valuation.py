"""Valuation that tells the truth: unpriced cash is cash, an unpriced holding is marked at its
last known price (flagged stale, never 0), a disabled strategy that never traded is not in the
portfolio, concentration is a share of equity, and a total loss divides by nothing.

Hand-worked book at 2024-01-10 00:00 UTC (every strategy has 10,000 USDT per venue):

* alpha (enabled; sim_a + sim_b): bought 0.2 BTC @ 40,000 (fee 8) on sim_a on 01-05; BTC's
  daily close of 01-09 (closed 01-10 00:00) is 42,000.
  sim_a = 10,000 − 8,000 − 8 + 0.2 × 42,000 = 10,392; sim_b = 10,000; equity 20,392.
* beta (enabled; sim_a ETH/USDT): never traded and ETH has no candle at all: its cash is worth
  10,000 (the old code valued it at 0 because nothing on the venue was priced).
* delta (disabled, but traded): bought 2 ETH @ 1,500 (fee 3) on sim_c on 01-08; sim_c has no
  candle, so ETH is marked at that fill, 1,500, stale by 2 days:
  10,000 − 3,000 − 3 + 2 × 1,500 = 9,997.
* gamma (disabled, never traded, on the unpriced venue `far`): left out.

Portfolio: capital 40,000, value 20,392 + 10,000 + 9,997 = 40,389, PnL 389 (0.9725 %).
Exposure BTC 8,400, ETH 3,000: BTC is 8,400 / 40,389 = 20.8 % of equity (no breach); as a
share of gross exposure (8,400 / 11,400 = 73.7 %) it used to raise a false WARNING.
"""

from __future__ import annotations

from decimal import Decimal

import dagster as dg
import pandas as pd
import pytest
import yaml

from assets.portfolio import portfolio_performance
from resources.database import TradingDatabase
from resources.strategies import StrategiesResource
from tests.portfolio_book import STRATEGIES, add_daily_candles, add_fill, entries, new_database
from zvt_pipelines.portfolio.book_loader import replay_account
from zvt_pipelines.portfolio.breaches import evaluate_breaches, peak_equity
from zvt_pipelines.portfolio.overview import build_report, portfolio_entries

AS_OF = pd.Timestamp("2024-01-10", tz="UTC")
ALPHA = {**STRATEGIES[0], "risk_limits": {"daily_loss_limit": 400}}
BETA = STRATEGIES[1]
DELTA = {
    **STRATEGIES[1],
    "name": "delta",
    "symbol": "sim_c:ETH/USDT",
    "enabled": False,
    "risk_limits": {"daily_loss_limit": 100},
}
GAMMA = {**STRATEGIES[1], "name": "gamma", "symbol": "far:BTC/USDT", "enabled": False}


@pytest.fixture
def book(tmp_path):
    _, db = new_database(tmp_path)
    closes = [40_000.0] * 8 + [42_000.0] * 2  # days 01-01 .. 01-10; 01-09 closes at 42,000
    add_daily_candles(db, "sim_a", "BTC/USDT", "2024-01-01", closes)
    add_daily_candles(db, "sim_b", "BTC/USDT", "2024-01-01", closes)
    add_fill(db, "alpha", "sim_a", "BTC/USDT", "buy", "0.2", "40000", "8", "2024-01-05")
    add_fill(db, "delta", "sim_c", "ETH/USDT", "buy", "2", "1500", "3", "2024-01-08")
    yield db, entries([ALPHA, BETA, DELTA, GAMMA])
    db.dispose()


def test_disabled_strategies_that_never_traded_are_left_out(book):
    db, all_entries = book
    assert [e.name for e in portfolio_entries(db, all_entries)] == ["alpha", "beta", "delta"]


def test_each_account_is_valued_by_hand(book):
    db, all_entries = book
    by_name = {e.name: e for e in all_entries}
    alpha = replay_account(db, by_name["alpha"], AS_OF)
    assert alpha.equity("sim_a") == Decimal("10392")
    assert alpha.equity() == Decimal("20392")
    assert alpha.stale_marks() == {}
    beta = replay_account(db, by_name["beta"], AS_OF)
    assert beta.prices == {} and beta.equity() == Decimal("10000")
    delta = replay_account(db, by_name["delta"], AS_OF)
    assert delta.equity() == Decimal("9997")
    [(instrument, mark)] = delta.stale_marks().items()
    assert str(instrument) == "sim_c:ETH/USDT"
    assert (mark.price, mark.source, mark.age) == (Decimal(1500), "fill", pd.Timedelta(days=2))


def test_portfolio_figures_and_no_false_breach(book):
    db, all_entries = book
    report = build_report(db, all_entries, AS_OF, paths=2_000)
    perf = report.performance.set_index(["scope", "name"])
    strategies = perf.loc["strategy"]
    assert set(strategies.index) == {"alpha", "beta", "delta"}
    assert strategies.loc["alpha", "total_value"] == Decimal("20392")
    assert strategies.loc["beta", "total_value"] == Decimal("10000")
    assert strategies.loc["delta", "total_value"] == Decimal("9997")
    total = perf.loc[("portfolio", "portfolio")]
    assert total["capital"] == Decimal("40000")
    assert total["total_value"] == Decimal("40389")
    assert total["pnl"] == Decimal("389")
    assert total["total_return"] == pytest.approx(389 / 40_000, abs=1e-12)
    assert report.risk.equity == pytest.approx(40_389.0)
    assert report.risk.exposures.to_dict() == pytest.approx({"BTC": 8_400.0, "ETH": 3_000.0})
    limits = {e.name: e.risk_limits.daily_loss_limit for e in all_entries}
    keys = [b.key for b in evaluate_breaches(report, limits, AS_OF.to_pydatetime())]
    assert not [k for k in keys if k.startswith(("concentration", "drawdown", "daily_loss"))]


def test_peak_behind_a_drawdown_including_a_total_loss():
    # 8,000 after a 20 % drawdown: the peak was 8,000 / 0.8 = 10,000
    assert peak_equity(8_000.0, -0.2, 10_000.0) == pytest.approx(10_000.0)
    # everything lost (equity 0, drawdown −100 %): the ratio says nothing, capital stands in
    assert peak_equity(0.0, -1.0, 20_000.0) == 20_000.0


def test_portfolio_performance_asset_reports_the_book_and_its_stale_mark(tmp_path, book):
    """Through Dagster: the asset reports 40,389 for alpha, beta and delta, and delta's ETH
    mark (its fill at 1,500, two days old)."""
    db, _ = book
    path = tmp_path / "strategies.yaml"
    path.write_text(yaml.safe_dump({"strategies": [ALPHA, BETA, DELTA, GAMMA]}))
    resources = {
        "database": TradingDatabase(url=str(db.url)),
        "strategies": StrategiesResource(config_path=str(path)),
    }
    config = {"ops": {"portfolio_performance": {"config": {"as_of": AS_OF.isoformat()}}}}
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [portfolio_performance], resources=resources, run_config=config, instance=instance
        )
        assert result.success
        event = instance.get_latest_materialization_event(dg.AssetKey("portfolio_performance"))
        metadata = {k: v.value for k, v in event.asset_materialization.metadata.items()}
    assert metadata["total_value"] == pytest.approx(40_389.0)
    assert metadata["strategies"] == ["alpha", "beta", "delta"]
    assert metadata["stale_marks"] == {
        "delta": {
            "sim_c:ETH/USDT": {
                "price": "1500",
                "source": "fill",
                "known_at": "2024-01-08T00:00:00+00:00",
                "age_seconds": 172_800.0,
            }
        }
    }
