"""Shared fixtures: the real market data folder and the PostgreSQL server URL."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("ZVT_SHARED_DATA", REPO.parent / "shared" / "data"))
PG_URL = os.environ.get("ZVT_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real exchange data (`ZVT_SHARED_DATA`, default `../shared/data`)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"real market data not found at {SHARED_DATA}; set ZVT_SHARED_DATA")
    return SHARED_DATA


def postgres_answers(url: str = PG_URL) -> bool:
    """True when a PostgreSQL server answers at `url`."""
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001 - any failure means "no server here"
        return False


def running_in_ci(env: Mapping[str, str] = os.environ) -> bool:
    """True only when `CI` is exactly ``true`` (as GitHub Actions and GitLab set it);
    ``CI=false``, ``CI=0`` or an empty value is a developer machine."""
    return env.get("CI") == "true"


def require_postgres(url: str = PG_URL, env: Mapping[str, str] = os.environ) -> str:
    """`url` when a server answers there; otherwise fail in CI and skip elsewhere."""
    if postgres_answers(url):
        return url
    if running_in_ci(env):
        pytest.fail(f"CI must have PostgreSQL at {url} (set ZVT_TEST_PG_URL)")
    pytest.skip(f"no PostgreSQL server answers at {url} (set ZVT_TEST_PG_URL to run these tests)")


@pytest.fixture(scope="session")
def pg_url() -> str:
    """URL of a reachable PostgreSQL server; in CI its absence is a failure, not a skip."""
    return require_postgres()


@pytest.fixture
def scratch_pg_url(pg_url):
    """URL of a new, empty database on the `pg_url` server, dropped after the test."""
    import uuid

    import sqlalchemy as sa

    name = f"zvt_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield sa.engine.make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    """A freshly migrated trading database: a SQLite file, then a scratch PostgreSQL
    database (see `scratch_pg_url`)."""
    from zvt_pipelines.storage.database import Database

    url = (
        f"sqlite:///{tmp_path}/zvt.db"
        if request.param == "sqlite"
        else request.getfixturevalue("scratch_pg_url")
    )
    database = Database(url)
    database.upgrade()
    yield database
    database.dispose()
