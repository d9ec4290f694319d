"""Runs of one strategy queue rather than collide: both Dagster instance files (production,
embedded default) limit in-progress runs to one per value of the zvt/strategy tag, and every
rebalance run the sensors and the schedule request carries that tag."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import dagster as dg

from definitions import build_definitions
from sensors.trading import STRATEGY_TAG
from tests.conftest import REPO
from tests.trading_support import candle_database, fixed_weight, write_strategies
from zvt_pipelines.settings import DEFAULT_MARKETS, Settings
from zvt_pipelines.strategies import parse_strategies_config
from zvt_pipelines.trading.lifecycle import sync_strategies

ONE_PER_STRATEGY = [
    {"key": "zvt/strategy", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
]


def queue_limits(home) -> list:
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        return instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
    finally:
        instance.dispose()


def test_production_instance_limits_runs_per_strategy(tmp_path, scratch_pg_url, monkeypatch):
    monkeypatch.setenv("DAGSTER_PG_URL", scratch_pg_url)
    shutil.copy(REPO / "dagster.yaml", tmp_path / "dagster.yaml")
    assert queue_limits(tmp_path) == ONE_PER_STRATEGY


def test_embedded_instance_limits_runs_per_strategy(tmp_path):
    shutil.copy(REPO / "dagster.embedded.yaml", tmp_path / "dagster.yaml")
    assert queue_limits(tmp_path) == ONE_PER_STRATEGY


def test_scheduled_rebalances_carry_the_strategy_tag(tmp_path):
    db = candle_database(tmp_path)
    entries = [fixed_weight("alpha"), fixed_weight("beta")]
    strategies = write_strategies(tmp_path / "strategies.yaml", entries)
    settings = Settings(
        home=tmp_path, database_url=db.url, markets_path=DEFAULT_MARKETS, strategies_path=strategies
    )
    defs = build_definitions(settings)
    sync_strategies(db, list(parse_strategies_config(entries).strategies), actor="test")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("strategies", ["alpha", "beta"])
        context = dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=datetime(2025, 3, 2, 12, tzinfo=UTC),
            resources=defs.resources,
        )
        requests = defs.resolve_schedule_def("rebalance_schedule")(context)
    assert [(r.partition_key, r.tags[STRATEGY_TAG]) for r in requests] == [
        ("alpha", "alpha"),
        ("beta", "beta"),
    ]
