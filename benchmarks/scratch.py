"""A throwaway database for the benchmarks, so no server's own database is ever migrated."""

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from zvt_pipelines.storage.database import normalise_url


@contextmanager
def scratch_database(url: str | None) -> Iterator[str]:
    """A SQLite file (`url` None or sqlite), or a new database on the PostgreSQL server at
    `url`, dropped afterwards. Raises `sqlalchemy.exc.OperationalError` when no server answers."""
    if url is None or url.startswith("sqlite"):
        with tempfile.TemporaryDirectory() as folder:
            yield url or f"sqlite:///{folder}/bench.db"
        return
    name = f"zvt_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(
        normalise_url(url), isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield (
            sa.engine.make_url(normalise_url(url))
            .set(database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
