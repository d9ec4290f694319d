"""The trading database: SQLAlchemy models, Alembic migrations and repositories."""
