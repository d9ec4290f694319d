"""ZVT_DATABASE_URL reaches the Dagster resources as an EnvVar and a sensor tick writes there."""

from __future__ import annotations

import dagster as dg
import sqlalchemy as sa

from definitions import build_definitions
from zvt_pipelines.settings import Settings


def test_the_deployment_sensor_writes_to_the_database_the_env_var_names(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'named_by_env.db'}"
    monkeypatch.setenv("ZVT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ZVT_DATABASE_URL", url)
    for variable in ("ZVT_MARKETS", "ZVT_STRATEGIES", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(variable, raising=False)
    defs = build_definitions(Settings.from_env())
    assert defs.resources["database"].url == dg.EnvVar("ZVT_DATABASE_URL")

    sensor = defs.resolve_sensor_def("strategy_deployments")
    with dg.instance_for_test() as instance:
        result = sensor(dg.build_sensor_context(instance=instance, resources=defs.resources))
    # every shipped strategy is new here: each becomes a partition (enabled ones also a run)
    added = [
        key for request in result.dynamic_partitions_requests for key in request.partition_keys
    ]
    assert added and result.run_requests

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        deployed = conn.execute(sa.text("select count(*) from strategy_status")).scalar()
    engine.dispose()
    assert deployed == len(added)
    assert not (tmp_path / "home" / "zvt.db").exists()  # nothing went to the default database
