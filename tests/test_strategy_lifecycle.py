"""Deploy, retune and remove strategies by editing the strategies file while the code
location stays loaded; the deployment and drift sensors evaluated through a Dagster instance."""

from __future__ import annotations

from decimal import Decimal

import dagster as dg
import pytest
import sqlalchemy as sa

from definitions import build_definitions
from tests.trading_support import candle_database, fixed_weight, write_strategies
from zvt_pipelines.settings import DEFAULT_MARKETS, Settings
from zvt_pipelines.storage.models import AuditLog, CryptoExecution, CryptoPosition
from zvt_pipelines.trading.lifecycle import Status, statuses

QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def tick(defs, instance, name):
    return defs.resolve_sensor_def(name)(
        dg.build_sensor_context(instance=instance, resources=defs.resources)
    )


def run_requests(defs, instance, result):
    """Apply the sensor result as the daemon would: add partitions, then execute each run."""
    for request in result.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    job = defs.resolve_job_def("rebalance")
    return [
        job.execute_in_process(partition_key=r.partition_key, instance=instance, run_config=QUIET)
        for r in result.run_requests
    ]


def audit_actions(db, name):
    with db.transaction() as session:
        rows = session.scalars(
            sa.select(AuditLog).where(AuditLog.entity_id == name).order_by(AuditLog.id)
        ).all()
        return [(r.action, r.old, r.new) for r in rows]


def test_deploy_retune_and_remove_without_restart(tmp_path):
    db = candle_database(tmp_path)
    strategies = write_strategies(tmp_path / "strategies.yaml", [fixed_weight("alpha", weight=0.2)])
    settings = Settings(
        home=tmp_path, database_url=db.url, markets_path=DEFAULT_MARKETS, strategies_path=strategies
    )
    defs = build_definitions(settings)  # loaded once, like a running code location
    with dg.instance_for_test() as instance:
        first = tick(defs, instance, "strategy_deployments")
        assert [r.partition_key for r in first.run_requests] == ["alpha"]
        assert all(run.success for run in run_requests(defs, instance, first))
        assert instance.get_dynamic_partitions("strategies") == ["alpha"]
        assert tick(defs, instance, "strategy_deployments").run_requests == []  # nothing changed

        with db.transaction() as session:
            held_before = session.scalars(sa.select(CryptoPosition.quantity)).one()
        write_strategies(
            strategies, [fixed_weight("alpha", weight=0.4), fixed_weight("beta", weight=0.1)]
        )
        second = tick(defs, instance, "strategy_deployments")
        assert sorted(r.partition_key for r in second.run_requests) == ["alpha", "beta"]
        assert all(run.success for run in run_requests(defs, instance, second))
        with db.transaction() as session:
            held_after = session.scalars(
                sa.select(CryptoPosition.quantity).where(CryptoPosition.strategy == "alpha")
            ).one()
        # the retuned run used the new weight: twice the exposure (same capital, prices unchanged)
        assert held_after > held_before * Decimal("1.9")

        write_strategies(strategies, [fixed_weight("beta", weight=0.1)])
        tick(defs, instance, "strategy_deployments")
        assert statuses(db) == {"alpha": Status.STOPPED, "beta": Status.ACTIVE}

    actions = audit_actions(db, "alpha")
    assert [a for a, _, _ in actions] == [
        "strategy_deployed",
        "strategy_retuned",
        "strategy_removed",
    ]
    retune = actions[1]
    assert retune[1] == {"params.weight": 0.2} and retune[2] == {"params.weight": 0.4}


def test_drift_sensor_requests_one_rebalance_per_set_of_targets(tmp_path):
    db = candle_database(tmp_path)
    strategies = write_strategies(tmp_path / "strategies.yaml", [fixed_weight("gamma", weight=0.3)])
    settings = Settings(
        home=tmp_path, database_url=db.url, markets_path=DEFAULT_MARKETS, strategies_path=strategies
    )
    defs = build_definitions(settings)
    with dg.instance_for_test() as instance:
        run_requests(defs, instance, tick(defs, instance, "strategy_deployments"))
        assert tick(defs, instance, "drift_rebalance").run_requests == []  # on target after the run
        with db.transaction() as session:  # half the position disappears (e.g. a manual sale)
            position = session.scalars(sa.select(CryptoPosition)).one()
            position.quantity = position.quantity / 2
        requests = tick(defs, instance, "drift_rebalance").run_requests
        again = tick(defs, instance, "drift_rebalance").run_requests
        assert [r.partition_key for r in requests] == ["gamma"]
        assert [r.run_key for r in again] == [
            r.run_key for r in requests
        ]  # the daemon runs a key once
    with db.transaction() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(CryptoExecution)) == 1


def test_emergency_stop_job_flattens_and_blocks_further_rebalances(tmp_path):
    db = candle_database(tmp_path)
    strategies = write_strategies(tmp_path / "strategies.yaml", [fixed_weight("delta", weight=0.5)])
    settings = Settings(
        home=tmp_path, database_url=db.url, markets_path=DEFAULT_MARKETS, strategies_path=strategies
    )
    defs = build_definitions(settings)
    with dg.instance_for_test() as instance:
        run_requests(defs, instance, tick(defs, instance, "strategy_deployments"))
        config = {
            "ops": {
                "stop_strategy": {"config": {"strategy": "delta", "flatten": True, "actor": "test"}}
            }
        }
        stop = defs.resolve_job_def("emergency_stop").execute_in_process(
            run_config=config, instance=instance
        )
        assert stop.output_for_node("stop_strategy")["flattened"] == 1
        again = defs.resolve_job_def("rebalance").execute_in_process(
            partition_key="delta", instance=instance, run_config=QUIET
        )
        orders = again.output_for_node("executed_orders")
    assert orders is None  # a stopped strategy trades nothing
    with db.transaction() as session:
        fills = session.scalars(sa.select(CryptoExecution)).all()
    assert sum(f.side == "buy" and f.amount or 0 for f in fills) == sum(
        f.side == "sell" and f.amount or 0 for f in fills
    )
    assert statuses(db)["delta"] is Status.STOPPED


def test_deployment_sensor_refuses_a_strategy_the_markets_file_cannot_serve(tmp_path):
    """Through the deployment sensor (the product's deploy path): `nowhere` is no venue of the
    shipped markets file, so the tick fails with the file, strategy, key and value named and
    nothing is deployed; once the entry is fixed the next tick deploys it."""
    from zvt_pipelines.errors import ConfigError

    db = candle_database(tmp_path)
    strategies = write_strategies(
        tmp_path / "strategies.yaml",
        [fixed_weight("epsilon", symbol="nowhere:BTC/USDT")],
    )
    settings = Settings(
        home=tmp_path, database_url=db.url, markets_path=DEFAULT_MARKETS, strategies_path=strategies
    )
    defs = build_definitions(settings)
    with dg.instance_for_test() as instance:
        with pytest.raises(ConfigError) as refused:
            tick(defs, instance, "strategy_deployments")
        assert str(refused.value) == (
            f"{strategies}: strategy 'epsilon': key 'symbols' = 'nowhere:BTC/USDT': venue "
            "'nowhere' is not defined in the markets file (venues: sim_a, sim_b)"
        )
        assert statuses(db) == {} and audit_actions(db, "epsilon") == []
        write_strategies(strategies, [fixed_weight("epsilon")])
        fixed = tick(defs, instance, "strategy_deployments")
        assert [r.partition_key for r in fixed.run_requests] == ["epsilon"]
