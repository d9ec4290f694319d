"""One inconsistent order row of strategy alpha (two fills of 0.01 BTC on an order of 0.01:
what a doubled send used to leave behind) must stop nothing but itself: beta still
rebalances, alpha's row is quarantined (audited, alerted) and listed, alpha's emergency stop
cancels what it can and says what it could not, and an operator resolves the row."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal

import dagster as dg
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from definitions import build_definitions
from tests.trading_support import candle_database, fixed_weight, write_strategies
from zvt_pipelines.cli import app
from zvt_pipelines.oms.persistence import load_active_orders
from zvt_pipelines.settings import DEFAULT_MARKETS, Settings
from zvt_pipelines.storage.alert_models import AlertRecord
from zvt_pipelines.storage.models import AuditLog, CryptoExecution, CryptoOrder

AT = datetime(2025, 3, 2, 10, tzinfo=UTC)
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/zvt.db"
    return request.getfixturevalue("scratch_pg_url")


def add_order(db, cid, strategy, *, venue="sim_a", status="OPEN", amount="0.01", price="1000"):
    """A stored limit buy; far below the market, so no replayed candle fills it."""
    with db.transaction() as session:
        session.add(
            CryptoOrder(
                client_order_id=cid,
                venue=venue,
                symbol="BTC/USDT",
                side="buy",
                order_type="limit",
                time_in_force="GTC",
                amount=Decimal(amount),
                price=Decimal(price),
                status=status,
                filled=Decimal(0),
                strategy=strategy,
                created_at=AT,
                updated_at=AT,
            )
        )


def corrupt_order(db, cid="alpha-doubled", strategy="alpha"):
    """PARTIALLY_FILLED 0.01 BTC with two recorded fills of 0.01: 0.02 > 0.01."""
    add_order(db, cid, strategy, status="PARTIALLY_FILLED", price="80000")
    with db.transaction() as session:
        for n in (1, 2):
            session.add(
                CryptoExecution(
                    execution_id=f"{cid}-t{n}",
                    client_order_id=cid,
                    venue="sim_a",
                    symbol="BTC/USDT",
                    side="buy",
                    amount=Decimal("0.01"),
                    price=Decimal("80000"),
                    fee=Decimal(0),
                    fee_currency="USDT",
                    liquidity="maker",
                    executed_at=AT,
                )
            )
    return cid


def status_of(db, cid):
    with db.transaction() as session:
        return session.scalar(
            sa.select(CryptoOrder.status).where(CryptoOrder.client_order_id == cid)
        )


def test_a_bad_row_is_quarantined_once_and_never_blocks_other_strategies(db):
    corrupt = corrupt_order(db)
    add_order(db, "alpha-bid", "alpha")
    add_order(db, "beta-bid", "beta")
    assert [o.client_order_id for o in load_active_orders(db, strategy="beta")] == ["beta-bid"]
    assert status_of(db, corrupt) == "PARTIALLY_FILLED"  # beta's load never read alpha's rows
    assert [o.client_order_id for o in load_active_orders(db)] == ["alpha-bid", "beta-bid"]
    assert status_of(db, corrupt) == "QUARANTINED"
    assert [o.client_order_id for o in load_active_orders(db, strategy="alpha")] == ["alpha-bid"]
    with db.transaction() as session:
        audits = session.scalars(
            sa.select(AuditLog).where(AuditLog.action == "order_quarantined")
        ).all()
        alerts = session.scalars(sa.select(AlertRecord)).all()
    assert [(a.entity_id, a.old, a.new["strategy"]) for a in audits] == [
        (corrupt, {"status": "PARTIALLY_FILLED"}, "alpha")
    ]
    assert re.search(
        r"fill alpha-doubled-t2 of 0\.010* would take filled 0\.010* above amount 0\.010*$",
        audits[0].new["reason"],
    )
    assert [(a.title, a.severity) for a in alerts] == [
        (f"order {corrupt} of alpha quarantined", 30)
    ]


def zvt(args, url, strategies):
    env = {"ZVT_DATABASE_URL": url, "ZVT_STRATEGIES": str(strategies), "ZVT_MARKETS": ""}
    return CliRunner().invoke(app, args, env=env)


def test_cli_beta_rebalances_alpha_is_quarantined_stopped_and_resolved(url, tmp_path):
    db = candle_database(tmp_path, url=url)
    strategies = write_strategies(
        tmp_path / "strategies.yaml",
        [
            fixed_weight("alpha", weight=0.2),
            {**fixed_weight("beta", weight=0.2), "symbol": "sim_b:BTC/USDT"},
        ],
    )
    corrupt = corrupt_order(db)
    add_order(db, "alpha-bid", "alpha")
    add_order(db, "alpha-ghost", "alpha", venue="ghost")  # a venue this deployment cannot reach

    beta = zvt(["strategy", "rebalance", "beta"], url, strategies)
    assert beta.exit_code == 0, beta.output
    assert "-> FILLED" in beta.output
    assert status_of(db, corrupt) == "PARTIALLY_FILLED"  # beta never read alpha's orders

    alpha = zvt(["strategy", "rebalance", "alpha"], url, strategies)
    assert alpha.exit_code == 0, alpha.output
    assert status_of(db, corrupt) == "QUARANTINED"

    listed = zvt(["quarantine", "list", "--json"], url, strategies)
    assert listed.exit_code == 0, listed.output
    (row,) = json.loads(listed.output)
    assert (row["client_order_id"], row["strategy"], row["status_before"]) == (
        corrupt,
        "alpha",
        "PARTIALLY_FILLED",
    )
    assert (row["amount"], row["recorded_fills"]) == ("0.01", "0.02")

    table = zvt(["quarantine", "list", "--strategy", "alpha"], url, strategies).output
    assert table.startswith(f"{corrupt}  alpha  sim_a:BTC/USDT buy 0.01 (fills 0.02, ")
    assert "was PARTIALLY_FILLED" in table and "would take filled" in table
    assert zvt(["quarantine", "list", "--strategy", "beta"], url, strategies).output == (
        "no quarantined orders\n"
    )

    stop = zvt(["strategy", "stop", "alpha"], url, strategies)
    assert stop.exit_code == 1, stop.output
    assert "error: could not cancel alpha-ghost: venue 'ghost' not available" in stop.output
    # the paper venue is rebuilt per command: the resting bid is not there, so it is closed
    assert status_of(db, "alpha-bid") == "CANCELED"
    assert status_of(db, "alpha-ghost") == "OPEN"
    assert f"quarantined {corrupt}: not open at the venue" in stop.output
    assert status_of(db, corrupt) == "QUARANTINED"  # still waiting for an operator

    resolved = zvt(
        ["quarantine", "resolve", corrupt, "--action", "accept", "--reason", "both fills real"],
        url,
        strategies,
    )
    assert resolved.exit_code == 0, resolved.output
    assert resolved.output.strip() == f"{corrupt}: accept -> SETTLED"
    with db.transaction() as session:
        order = session.scalars(
            sa.select(CryptoOrder).where(CryptoOrder.client_order_id == corrupt)
        ).one()
        audit = session.scalars(
            sa.select(AuditLog).where(AuditLog.action == "quarantine_resolved")
        ).one()
    assert (order.status, order.filled, order.average_price) == (
        "SETTLED",
        Decimal("0.02"),
        Decimal("80000"),
    )
    assert audit.new["reason"] == "both fills real" and audit.actor.startswith("cli:")
    again = zvt(
        ["quarantine", "resolve", corrupt, "--action", "cancel", "--reason", "x"], url, strategies
    )
    assert again.exit_code == 2
    assert again.output.strip() == f"error: order '{corrupt}': not quarantined (status SETTLED)"
    assert zvt(["quarantine", "list"], url, strategies).output.strip() == "no quarantined orders"


def test_rebalance_job_of_beta_runs_while_alpha_holds_a_bad_row(tmp_path):
    """Through the Dagster job and the deployment sensor: every run request carries the
    zvt/strategy tag the run queue limits on; beta's run succeeds and trades; alpha's run
    quarantines its bad row and succeeds too; alpha's emergency-stop run fails, naming the
    order it could not cancel."""
    db = candle_database(tmp_path)
    strategies = write_strategies(
        tmp_path / "strategies.yaml",
        [
            fixed_weight("alpha", weight=0.2),
            {**fixed_weight("beta", weight=0.2), "symbol": "sim_b:BTC/USDT"},
        ],
    )
    corrupt = corrupt_order(db)
    settings = Settings(
        home=tmp_path, database_url=db.url, markets_path=DEFAULT_MARKETS, strategies_path=strategies
    )
    defs = build_definitions(settings)
    with dg.instance_for_test() as instance:
        sensor = defs.resolve_sensor_def("strategy_deployments")
        result = sensor(dg.build_sensor_context(instance=instance, resources=defs.resources))
        assert sorted((r.partition_key, r.tags["zvt/strategy"]) for r in result.run_requests) == [
            ("alpha", "alpha"),
            ("beta", "beta"),
        ]
        for request in result.dynamic_partitions_requests:
            instance.add_dynamic_partitions(
                request.partitions_def_name, list(request.partition_keys)
            )
        job = defs.resolve_job_def("rebalance")
        beta = job.execute_in_process(partition_key="beta", instance=instance, run_config=QUIET)
        assert beta.success
        assert status_of(db, corrupt) == "PARTIALLY_FILLED"
        alpha = job.execute_in_process(partition_key="alpha", instance=instance, run_config=QUIET)
        assert alpha.success
        add_order(db, "alpha-ghost", "alpha", venue="ghost")
        config = {"ops": {"stop_strategy": {"config": {"strategy": "alpha", "actor": "test"}}}}
        stop = defs.resolve_job_def("emergency_stop").execute_in_process(
            run_config={**config, **QUIET}, instance=instance, raise_on_error=False
        )
        assert not stop.success  # an incomplete stop fails its run: the failure sensor alerts
        (failure,) = [e for e in stop.all_events if e.event_type_value == "STEP_FAILURE"]
        assert "cancel alpha-ghost: venue 'ghost' not available" in str(
            failure.step_failure_data.error.message
        )
    assert [o["status"] for o in beta.output_for_node("executed_orders").orders] == ["FILLED"]
    assert status_of(db, corrupt) == "QUARANTINED"
