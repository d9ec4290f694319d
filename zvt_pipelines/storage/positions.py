"""Queries of `crypto_positions` and `target_positions` that need no domain type: when the
positions last changed, and the stored targets beside the quantities held."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import pandas as pd
import sqlalchemy as sa

from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.lifecycle_models import TargetPositionRow
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


@dataclass(frozen=True)
class StoredTarget:
    """A strategy's target on one market as its last rebalance stored it, with the quantity held."""

    strategy: str
    venue: str
    symbol: str
    quantity: Decimal
    price: Decimal
    equity: Decimal
    as_of: datetime
    held: Decimal


def targets_with_holdings(db: Database) -> list[StoredTarget]:
    """Every stored target beside the quantity held now (0 without a position), read in one
    transaction so both sides are of the same moment."""
    with db.transaction() as session:
        held = {
            (p.strategy, p.venue, p.symbol): p.quantity
            for p in session.scalars(sa.select(CryptoPosition))
        }
        return [
            StoredTarget(
                row.strategy,
                row.venue,
                row.symbol,
                row.quantity,
                row.price,
                row.equity,
                row.as_of,
                held.get((row.strategy, row.venue, row.symbol), Decimal(0)),
            )
            for row in session.scalars(sa.select(TargetPositionRow))
        ]
