"""Persist position snapshots to `crypto_positions`: one upsert transaction per update.

The table holds each position's latest figures (quantity, entry price, PnL, margin), keyed by
venue, symbol and strategy. It is a report, not the ledger: open lots are not stored, so a
position's lots are rebuilt by replaying its fills from `crypto_executions`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, fields

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from zvt_pipelines.errors import StorageError
from zvt_pipelines.portfolio.positions import PositionSnapshot
from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.models import CryptoPosition

_KEY = ("venue", "symbol", "strategy")
_COLUMNS = tuple(f.name for f in fields(PositionSnapshot))


def save_positions(db: Database, snapshots: Iterable[PositionSnapshot]) -> int:
    """Insert or update the rows of `snapshots` in one transaction; return how many were written.

    Uses the dialect's `INSERT ... ON CONFLICT (venue, symbol, strategy) DO UPDATE`, so concurrent
    writers never create a duplicate row and a failure leaves the table as it was.
    """
    rows = [asdict(s) for s in snapshots]
    if not rows:
        return 0
    dialect = db.dialect
    if dialect == "postgresql":
        insert = postgresql.insert
    elif dialect == "sqlite":
        insert = sqlite.insert
    else:
        raise StorageError(f"position upsert supports sqlite and postgresql, not {dialect!r}")
    table = CryptoPosition.__table__
    statement = insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c[name] for name in _KEY],
        set_={name: statement.excluded[name] for name in _COLUMNS if name not in _KEY},
    )
    try:
        with db.transaction() as session:
            session.execute(statement, rows)
    except sa.exc.SQLAlchemyError as exc:
        raise StorageError(f"saving {len(rows)} positions failed: {exc}") from exc
    return len(rows)


def load_positions(db: Database, venue: str | None = None) -> list[PositionSnapshot]:
    """The stored snapshots, optionally of one venue, ordered by venue, symbol and strategy."""
    query = sa.select(CryptoPosition).order_by(*(getattr(CryptoPosition, k) for k in _KEY))
    if venue is not None:
        query = query.where(CryptoPosition.venue == venue)
    with db.transaction() as session:
        found = session.scalars(query).all()
        return [
            PositionSnapshot(**{name: getattr(row, name) for name in _COLUMNS}) for row in found
        ]
