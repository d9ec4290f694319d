"""The trading database as a Dagster resource."""

from functools import cache

import dagster as dg

from zvt_pipelines.storage.database import Database


class TradingDatabase(dg.ConfigurableResource):
    """SQLite under ZVT_HOME by default; PostgreSQL when ZVT_DATABASE_URL says so."""

    url: str

    def get(self) -> Database:
        """The migrated database for this URL (one engine per process)."""
        return _migrated(self.url)


@cache
def _migrated(url: str) -> Database:
    database = Database(url)
    database.upgrade()
    return database
