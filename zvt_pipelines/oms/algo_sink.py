"""The order manager behind the execution algorithms and the smart router.

`ManagerSink` is the `OrderSink` a TWAP, VWAP or iceberg parent sends its children to: each
child becomes a real order (validated, risk-checked, recorded) and its fills and its end
flow back to the parent. Updates are queued while the manager works and handed over by
`deliver()`, because a parent records a child only after the sink returns its id.

`route_order` walks every venue's book with the `SmartOrderRouter` and sends one IOC
limit child per allocation, at the deepest price the router expects to touch there.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from decimal import Decimal

from zvt_pipelines.model.orders import OrderType, Side, TimeInForce
from zvt_pipelines.oms.algos.base import ExecutionAlgo
from zvt_pipelines.oms.manager import OrderManager
from zvt_pipelines.oms.messages import OrderUpdate
from zvt_pipelines.oms.order import Order
from zvt_pipelines.oms.router import RoutingReport, SmartOrderRouter


class ManagerSink:
    """An `OrderSink` over an `OrderManager`, feeding fills and closed children back to parents."""

    def __init__(
        self,
        manager: OrderManager,
        strategy: str = "algo",
        reference_price: Callable[[str, str], Decimal | None] = lambda venue, symbol: None,
    ) -> None:
        self.manager, self.strategy, self.reference_price = manager, strategy, reference_price
        self.parents: dict[str, ExecutionAlgo] = {}
        self._parent_of: dict[str, str] = {}
        self._queue: deque[OrderUpdate] = deque()
        manager.bus.subscribe(OrderUpdate, self._queue.append)

    def attach(self, algo: ExecutionAlgo) -> ExecutionAlgo:
        """Route this parent's children through the manager (its `sink` must be this object)."""
        self.parents[algo.parent_id] = algo
        return algo

    def submit(
        self,
        symbol: str,
        side: Side,
        amount: Decimal,
        price: Decimal | None = None,
        *,
        venue: str,
        order_type: OrderType,
        time_in_force: TimeInForce,
        client_order_id: str,
        parent_id: str,
    ) -> str:
        order = self.manager.new_order(
            venue,
            symbol,
            side,
            order_type,
            amount,
            price,
            strategy=self.strategy,
            client_order_id=client_order_id,
            parent_client_order_id=parent_id,
            time_in_force=time_in_force,
        )
        self._parent_of[client_order_id] = parent_id
        self.manager.submit(order, reference_price=self.reference_price(venue, symbol))
        return client_order_id

    def cancel(self, client_order_id: str) -> None:
        self.manager.cancel(client_order_id, reason="parent order canceled")

    def deliver(self) -> int:
        """Hand queued fills and ends to their parents (which may send more children); returns
        how many updates were delivered."""
        delivered = 0
        while self._queue:
            update = self._queue.popleft()
            parent = self.parents.get(self._parent_of.get(update.order.client_order_id, ""))
            if parent is None:
                continue
            delivered += 1
            for fill in update.fills:
                parent.on_fill(fill)
            order = update.order
            if (
                order.status.value in ("CANCELED", "REJECTED", "EXPIRED")
                and order.filled < order.amount
            ):
                parent.on_child_closed(order.client_order_id)
        return delivered


def route_order(
    manager: OrderManager,
    router: SmartOrderRouter,
    symbol: str,
    side: Side | str,
    amount: Decimal,
    *,
    strategy: str,
    limit_price: Decimal | None = None,
    client_order_id: str,
) -> tuple[RoutingReport, list[Order]]:
    """Route `amount` across the router's venues and send one IOC limit child per allocation
    (ids `<client_order_id>-<venue>`); returns the routing report and the child orders."""
    side = Side(side)
    report = router.route(symbol, side, amount, limit_price)
    children = []
    for allocation in report.allocations:
        order = manager.new_order(
            allocation.venue,
            symbol,
            side,
            OrderType.LIMIT,
            allocation.amount,
            allocation.worst_price,
            strategy=strategy,
            client_order_id=f"{client_order_id}-{allocation.venue}"[:36],
            parent_client_order_id=client_order_id,
            time_in_force=TimeInForce.IOC,
        )
        children.append(manager.submit(order, reference_price=allocation.average_price))
    return report, children


__all__ = ["ManagerSink", "route_order"]
