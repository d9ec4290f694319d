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

from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.positions import targets_with_holdings

ZERO = Decimal(0)


@dataclass(frozen=True)
class Drift:
    """A strategy's drift (fraction of its equity) from the targets it set at `targets_as_of`."""

    value: Decimal
    targets_as_of: datetime


def strategy_drift(db: Database) -> dict[str, Drift]:
    """Drift of every strategy that has stored targets."""
    total: dict[str, Decimal] = defaultdict(lambda: ZERO)
    equity: dict[str, Decimal] = {}
    as_of: dict[str, datetime] = {}
    for target in targets_with_holdings(db):
        total[target.strategy] += abs(target.held - target.quantity) * target.price
        equity[target.strategy], as_of[target.strategy] = target.equity, target.as_of
    return {
        name: Drift(value / equity[name] if equity[name] > 0 else ZERO, as_of[name])
        for name, value in total.items()
    }
