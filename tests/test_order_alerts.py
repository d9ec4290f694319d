"""Order-execution alerts from a rebalance report, and their arrival in the alert store."""

from __future__ import annotations

from decimal import Decimal

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from definitions import build_definitions
from tests.test_strategy_lifecycle import run_requests, tick
from tests.trading_support import candle_database, fixed_weight, write_strategies
from zvt_pipelines.alerts.alert import AlertType, Severity
from zvt_pipelines.settings import DEFAULT_MARKETS, Settings
from zvt_pipelines.trading.order_alerts import execution_alerts
from zvt_pipelines.trading.rebalance import ExecutionReport


def order(**fields):
    base = {
        "instrument": "sim_a:BTC/USDT",
        "side": "buy",
        "amount": Decimal(1),
        "client_order_id": "c",
        "status": "FILLED",
        "filled": Decimal(1),
        "average_price": Decimal("100.8"),
        "arrival": Decimal(100),
        "reason": "",
    }
    return {**base, **fields}


def test_fill_rejection_partial_and_slippage_alerts():
    """Buy 1 at 100.8 against an arrival mid of 100: (100.8 − 100) / 100 = 80 bps adverse,
    above the 50 bps limit (warning, below 2 × 50); a sale at 99.9 is 10 bps: no slippage alert."""
    report = ExecutionReport(
        "s",
        pd.Timestamp("2025-03-02 12:00", tz="UTC"),
        [
            order(client_order_id="a"),
            order(client_order_id="b", side="sell", average_price=Decimal("99.9")),
            order(
                client_order_id="c",
                status="REJECTED",
                filled=Decimal(0),
                average_price=None,
                reason="daily loss",
            ),
            order(client_order_id="d", status="PARTIALLY_FILLED", filled=Decimal("0.4")),
        ],
    )
    alerts = execution_alerts(report)
    kinds = [(a.type, a.severity, a.fields.get("client_order_id")) for a in alerts]
    assert kinds == [
        (AlertType.ORDER_EXECUTION, Severity.INFO, "a"),
        (AlertType.ORDER_EXECUTION, Severity.WARNING, "a"),
        (AlertType.ORDER_EXECUTION, Severity.INFO, "b"),
        (AlertType.ORDER_EXECUTION, Severity.HIGH, "c"),
        (AlertType.ORDER_EXECUTION, Severity.INFO, "d"),
        (AlertType.ORDER_EXECUTION, Severity.WARNING, "d"),
    ]
    assert alerts[1].value == 80.0 or abs(alerts[1].value - 80.0) < 1e-9
    assert "daily loss" in alerts[3].body


def test_a_rebalance_run_stores_its_fill_alert(tmp_path):
    db = candle_database(tmp_path)
    strategies = write_strategies(tmp_path / "strategies.yaml", [fixed_weight("alpha", weight=0.2)])
    settings = Settings(
        home=tmp_path, database_url=db.url, markets_path=DEFAULT_MARKETS, strategies_path=strategies
    )
    defs = build_definitions(settings)
    with dg.instance_for_test() as instance:
        (run,) = run_requests(defs, instance, tick(defs, instance, "strategy_deployments"))
        assert run.success
    with db.engine.connect() as conn:
        titles = (
            conn.execute(sa.text("select title from alerts where type = 'order_execution'"))
            .scalars()
            .all()
        )
    assert len(titles) == 1 and titles[0].startswith("buy ") and "filled" in titles[0]
