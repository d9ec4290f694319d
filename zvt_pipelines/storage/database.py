"""The trading database: engine, sessions and migrations for SQLite or PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from zvt_pipelines.errors import ConfigError, DatabaseUnavailable

MIGRATIONS = Path(__file__).with_name("migrations")
CONNECT_TIMEOUT_S = 10
_PASSWORD = re.compile(r"(?<=://)([^:/@]*):[^@]*@")
# "no such table" (SQLite) and undefined_table (PostgreSQL SQLSTATE 42P01)
_MISSING_TABLE = re.compile(r"no such table: (\S+)|relation \"([^\"]+)\" does not exist")


def masked_url(url: str) -> str:
    """The URL with its password replaced by ***, parseable or not."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except (sa.exc.ArgumentError, ValueError):
        return _PASSWORD.sub(r"\1:***@", url)


def normalise_url(url: str) -> str:
    """Pin PostgreSQL URLs to psycopg2 (SQLAlchemy 2.1 would pick psycopg 3, see STACK.md)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg2://" + url.split("://", 1)[1]
    return url


class Database:
    """One trading database; `upgrade()` brings its schema to the newest migration."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        shown = masked_url(self.url)
        try:
            parsed = sa.engine.make_url(self.url)
            connect_args = (
                {"connect_timeout": CONNECT_TIMEOUT_S}
                if parsed.get_backend_name() == "postgresql"
                else {}
            )
            if parsed.get_backend_name() == "sqlite" and parsed.database not in (
                None,
                "",
                ":memory:",
            ):
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            self.engine = sa.create_engine(self.url, pool_pre_ping=True, connect_args=connect_args)
        except (sa.exc.ArgumentError, ValueError) as exc:  # NoSuchModuleError is an ArgumentError
            raise ConfigError(
                f"database url {shown!r} (ZVT_DATABASE_URL): {exc}; expected e.g. "
                "sqlite:////path/zvt.db or postgresql+psycopg2://user:password@host:5432/name"
            ) from None
        except OSError as exc:
            raise ConfigError(
                f"database url {shown!r}: cannot create the folder of the SQLite file ({exc.strerror})"
            ) from None
        sa.event.listen(self.engine, "handle_error", _user_facing_error(shown))
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def upgrade(self, revision: str = "head") -> None:
        """Run Alembic migrations up to `revision` (idempotent)."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

    def current_revision(self) -> str | None:
        """The Alembic revision the database is at, or None before the first migration."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits as one transaction, or rolls back on any error."""
        with self._sessions.begin() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def _user_facing_error(shown: str):  # noqa: ANN202 - an SQLAlchemy event listener
    """A `handle_error` listener that turns "cannot connect" and "table missing" into
    `DatabaseUnavailable` naming the (password-masked) URL; other errors (constraint
    violations the callers handle) pass unchanged."""

    def listener(context: sa.engine.ExceptionContext) -> None:
        if context.is_pre_ping:  # the pool reconnects on its own
            return
        original = context.original_exception
        reason = " ".join(str(original).split()) or type(original).__name__
        if context.connection is None:  # the first connect failed
            raise DatabaseUnavailable(
                f"database {shown}: cannot connect ({reason}); check the server and ZVT_DATABASE_URL"
            ) from original
        missing = _MISSING_TABLE.search(str(original))
        if missing:
            table = missing.group(1) or missing.group(2)
            raise DatabaseUnavailable(
                f"database {shown}: table {table!r} is missing; run `zvt db upgrade` "
                "to create or migrate the schema"
            ) from original

    return listener


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001 - DB-API objects
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
