"""Drift: how far a strategy's actual positions have moved from its stored targets.

Drift is measured in value: Σ |actual − target| × price / equity over the strategy's
instruments, with the price and equity of the last rebalance; a drift above the
threshold means a rebalance is due.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa

from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.lifecycle_models import TargetPositionRow
from zvt_pipelines.storage.models import CryptoPosition

ZERO = Decimal(0)


@dataclass(frozen=True)
class Drift:
    """A strategy's drift (fraction of its equity) from the targets it set at `targets_as_of`."""

    value: Decimal
    targets_as_of: datetime


def strategy_drift(db: Database) -> dict[str, Drift]:
    """Drift of every strategy that has stored targets."""
    with db.transaction() as session:
        targets = session.scalars(sa.select(TargetPositionRow)).all()
        actual = {
            (p.strategy, p.venue, p.symbol): p.quantity
            for p in session.scalars(sa.select(CryptoPosition))
        }
        total: dict[str, Decimal] = defaultdict(lambda: ZERO)
        equity: dict[str, Decimal] = {}
        as_of: dict[str, datetime] = {}
        for row in targets:
            held = actual.get((row.strategy, row.venue, row.symbol), ZERO)
            total[row.strategy] += abs(held - row.quantity) * row.price
            equity[row.strategy], as_of[row.strategy] = row.equity, row.as_of
    return {
        name: Drift(value / equity[name] if equity[name] > 0 else ZERO, as_of[name])
        for name, value in total.items()
    }
