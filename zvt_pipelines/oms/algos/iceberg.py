"""Iceberg: show only a small visible slice, replenish it as it fills, until the total is done."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from zvt_pipelines.errors import InvalidOrder
from zvt_pipelines.model.orders import Side
from zvt_pipelines.oms.algos.base import ChildOrder, ExecutionAlgo


class Iceberg(ExecutionAlgo):
    """At most one child open at a time, never larger than `visible`.

    The first tick at or after `start` sends `min(visible, remaining)`; each time a child fills
    completely the next one goes out at once (risk-checked with the last tick's market state).
    A child that ends unfilled (venue cancel, denied by
    risk) is replaced on the next tick.
    """

    def __init__(
        self,
        parent_id: str,
        symbol: str,
        side: Side | str,
        amount: Decimal,
        *,
        visible: Decimal,
        start: datetime,
        **kwargs: Any,
    ) -> None:
        super().__init__(parent_id, symbol, side, amount, **kwargs)
        if visible <= 0 or visible % self.amount_step != 0:
            raise InvalidOrder(
                f"iceberg {parent_id}: visible {visible} must be a positive multiple of {self.amount_step}"
            )
        self.visible = visible
        self.start = start
        self._market_state: Mapping[str, Any] | None = None

    def _replenish(self, now: datetime, market_state: Mapping[str, Any] | None) -> list[str]:
        if self.live_children or self.remaining <= 0:
            return []
        sent = self._send(now, min(self.visible, self.remaining), market_state)
        return [sent] if sent else []

    def on_tick(self, now: datetime, market_state: Mapping[str, Any] | None = None) -> list[str]:
        self._market_state = market_state
        if not self._start_if_due(now, self.start):
            return []
        return self._replenish(now, market_state)

    def _after_fill(self, now: datetime, child: ChildOrder) -> list[str]:
        if child.live:
            return []
        return self._replenish(now, self._market_state)
