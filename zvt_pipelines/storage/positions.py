"""Queries of `crypto_positions` that need no domain type: when the table last changed."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.models import CryptoPosition


def positions_version(db: Database) -> tuple[str, pd.Timestamp] | None:
    """(version text, latest update time) of `crypto_positions`; None while it is empty."""
    with db.transaction() as session:
        latest, rows = session.execute(
            sa.select(sa.func.max(CryptoPosition.updated_at), sa.func.count(CryptoPosition.id))
        ).one()
    if not rows or latest is None:
        return None
    if isinstance(latest, int):  # SQLite hands an aggregate back as stored: microseconds
        moment = pd.Timestamp(latest, unit="us", tz="UTC")
    else:
        moment = pd.Timestamp(latest)
        moment = moment.tz_localize("UTC") if moment.tz is None else moment.tz_convert("UTC")
    return f"{moment.isoformat()}|{rows}", moment
