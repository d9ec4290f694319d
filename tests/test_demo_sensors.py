"""The done-when test of issues 12 and 17: the shipped demo state, then every sensor of
`definitions.py` ticked 10 times with its cursor carried over, as the daemon would. No
sensor may fail and every stored alert must be one the state justifies.

The demo's steps run in-process (as `launch.run_demo` does, minus the MLflow backtest, which
no sensor reads) on the shipped config/markets.yaml and config/strategies.yaml under a
temporary ZVT_HOME, with no alert channel configured (alerts are stored only).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import dagster as dg
import numpy as np
import pytest
import sqlalchemy as sa

from definitions import build_definitions
from launch import deploy_strategies, run_job, run_market_data
from resources.alerting import CHANNEL_FIELDS
from zvt_pipelines.alerts.store import AlertStore
from zvt_pipelines.markets import load_markets_config
from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.settings import Settings
from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.market_data import load_candles
from zvt_pipelines.storage.models import CryptoExecution, CryptoOrder, StrategyPerformance
from zvt_pipelines.strategies import load_strategies_config

pytestmark = pytest.mark.slow
TICKS = 10


def justified_market_alerts(db: Database, instruments: list[str], timeframe: str) -> set[str]:
    """Market alerts the stored candles justify, worked out independently of the rules code.

    With no cursor the market sensor judges only the newest bar of each instrument, and no new
    candle arrives during the ticks: a percent-move alert needs that bar's 60-bar change to
    reach 5 % while the bar before stayed below (a rising edge); a volume spike needs its
    volume 6 standard deviations (population) above the mean of the 120 bars before it.
    """
    found = set()
    for text in instruments:
        instrument = InstrumentId.parse(text)
        candles = load_candles(db, instrument.venue, instrument.symbol, timeframe)
        close = candles["close"].to_numpy(dtype=float)
        volume = candles["volume"].to_numpy(dtype=float)
        now, before = close[-1] / close[-61] - 1, close[-2] / close[-62] - 1
        if abs(now) >= 0.05 > abs(before):
            word = "up" if now > 0 else "down"
            found.add(f"price_threshold:{text}:move_{word}>=0.05/60")
        baseline = volume[-121:-1]
        spread = baseline.std()
        z = np.inf if spread == 0 and volume[-1] > baseline.mean() else 0.0
        if spread > 0:
            z = (volume[-1] - baseline.mean()) / spread
        if z >= 6:
            found.add(f"volume_spike:{text}:volume_z>=6/120")
    return found


def justified_order_alerts(db: Database) -> set[str]:
    """One INFO alert per order the demo's rebalances filled, one HIGH per rejected order."""
    with db.engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                CryptoOrder.client_order_id,
                CryptoOrder.venue,
                CryptoOrder.symbol,
                CryptoOrder.status,
            )
        ).all()
    found = set()
    for client_id, venue, symbol, status in rows:
        kind = {"filled": "filled", "rejected": "rejected"}.get(status.lower())
        if kind:
            found.add(f"order_execution:{venue}:{symbol}:{kind}/{client_id}")
    return found


def market_explained_pnl(db: Database) -> Decimal:
    """The most the simulated market can explain: each fill's amount times its instrument's
    whole stored price range (max high − min low), plus every fee paid."""
    with db.engine.connect() as conn:
        fills = conn.execute(
            sa.select(
                CryptoExecution.venue,
                CryptoExecution.symbol,
                CryptoExecution.amount,
                CryptoExecution.fee,
            )
        ).all()
    bound = Decimal(0)
    for venue, symbol, amount, fee in fills:
        candles = load_candles(db, venue, symbol, "1m")
        price_range = candles["high"].max() - candles["low"].min()
        bound += amount * Decimal(str(price_range)) + fee
    return bound


def test_the_demo_state_ticks_every_sensor_ten_times_without_error_or_false_alert(
    tmp_path, monkeypatch
):
    for variable in [*CHANNEL_FIELDS.values(), "ZVT_DATABASE_URL", "ZVT_MARKETS", "ZVT_STRATEGIES"]:
        monkeypatch.delenv(variable, raising=False)
    settings = Settings.from_env({"ZVT_HOME": str(tmp_path)})
    defs = build_definitions(settings)
    markets = load_markets_config(settings.markets_path)
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    db = Database(settings.database_url)
    with dg.instance_for_test() as instance:
        # the demo: one day of candles, deploy + rebalance every strategy, portfolio analytics
        runs = run_market_data(defs, [yesterday], markets.instruments, instance)
        assert all(run.success for run in runs)
        rebalances = deploy_strategies(defs, instance, lambda _name, _run: None)
        assert rebalances and all(run.success for run in rebalances)
        assert run_job(defs, instance, "portfolio_analytics").success

        sensors = list(defs.sensors)
        assert {s.name for s in sensors} == {
            "strategy_deployments",
            "drift_rebalance",
            "portfolio_risk_breaches",
            "alert_on_run_failure",
            "market_data_alerts",
            "alert_delivery_upkeep",
        }
        cursors: dict[str, str | None] = {}
        for _ in range(TICKS):
            for sensor in sensors:
                context = dg.build_sensor_context(
                    instance=instance, cursor=cursors.get(sensor.name), resources=defs.resources
                )
                result = sensor.evaluate_tick(context)  # a sensor error raises here
                cursors[sensor.name] = result.cursor
                for request in result.dynamic_partitions_requests or []:
                    instance.add_dynamic_partitions(
                        request.partitions_def_name, list(request.partition_keys)
                    )

    stored = {alert.dedup_key for _, alert in AlertStore(db).recent_alerts(limit=1_000)}
    # Justified, and nothing else: each fill or rejection of the demo's orders is announced
    # (INFO / HIGH); a market alert only where the candles cross the rule's threshold on the
    # newest bar. Not justified, hence absent: any portfolio_risk breach (the disabled,
    # unpriced btc_funding_carry is no longer valued at 0, so no −100 % drawdown, daily loss
    # or 100 % concentration) and any system_error (no sensor or run failed).
    expected = justified_order_alerts(db) | justified_market_alerts(
        db, markets.instruments, markets.timeframe
    )
    assert stored == expected
    assert any(key.startswith("order_execution:") for key in expected)  # the demo traded

    # the portfolio's figures: capital is 10,000 per venue of each enabled strategy (the
    # disabled ones never traded and are left out), and its PnL is within what the market
    # and the fees explain (not the −20,000 of an unpriced strategy valued at 0)
    enabled = [e for e in load_strategies_config(settings.strategies_path).strategies if e.enabled]
    capital = sum(e.capital * len({i.venue for i in e.instrument_ids()}) for e in enabled)
    with db.engine.connect() as conn:
        details = conn.execute(
            sa.select(StrategyPerformance.details).where(StrategyPerformance.scope == "portfolio")
        ).scalar_one()
    assert Decimal(details["capital"]) == capital
    assert abs(Decimal(details["pnl"])) <= market_explained_pnl(db)
    db.dispose()
