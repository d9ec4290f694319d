"""Stops, take-profits, trailing stops and OCO pairs emulated from the price stream.

For a venue without native conditional orders the OMS holds them itself: the order
stays NEW (recorded in the database, so a restart finds it again) until the stream
reaches its trigger, then it is sent as the market order (or, for a stop-limit, the
limit order) it becomes, under its own client order id. Trigger rules are the matching
engine's (`BookOrder.fires_at`, trailing anchors via `ratchet`), so paper, backtest and
emulated live orders trigger identically. An OCO pair whose legs are both held cancels
the other leg when one fires; once a released leg fills, the manager cancels its partner.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from zvt_pipelines.model.orders import OrderStatus, OrderType
from zvt_pipelines.oms.manager import OrderManager
from zvt_pipelines.oms.order import Order, OrderCanceled, OrderRejected
from zvt_pipelines.venues.matching import BookOrder, ratchet

CONDITIONAL = frozenset({OrderType.STOP_LOSS, OrderType.TAKE_PROFIT, OrderType.TRAILING_STOP})


def trigger_of(order: Order, anchor: Decimal | None) -> BookOrder:
    """The matching engine's trigger state for an OMS order (`anchor`: the trailing start price)."""
    return BookOrder(
        id=order.client_order_id,
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        side=order.side,
        order_type=order.order_type,
        amount=order.amount,
        timestamp=order.created_at,
        price=order.price,
        stop_price=order.stop_price,
        trailing_amount=order.trailing_amount,
        trailing_percent=order.trailing_percent,
        trigger_pending=True,
        extreme=anchor,
    )


class OrderEmulator:
    """Holds conditional orders for `manager` and releases them when their trigger is reached."""

    def __init__(self, manager: OrderManager) -> None:
        self.manager = manager
        self.held: dict[str, BookOrder] = {}

    def submit(self, order: Order, reference_price: Decimal | None = None) -> Order:
        """Validate a NEW conditional order and hold it; REJECTED (with the reason) if denied."""
        if order.order_type not in CONDITIONAL:
            raise ValueError(
                f"order {order.client_order_id}: {order.order_type.value} is not conditional"
            )
        reason = self.manager.check(order, reference_price)
        if reason is not None:
            self.manager.apply_events(
                order, [OrderRejected(order.client_order_id, self.manager.clock(), reason)]
            )
            return order
        self.manager.apply_events(order, [])  # records the held order (status NEW)
        self.held[order.client_order_id] = trigger_of(order, reference_price)
        return order

    def submit_oco(
        self, first: Order, second: Order, reference_price: Decimal | None = None
    ) -> None:
        """Hold two conditional legs linked one-cancels-the-other."""
        first.linked_client_order_id = second.client_order_id
        second.linked_client_order_id = first.client_order_id
        for leg in (first, second):
            self.submit(leg, reference_price)

    def resume(self, anchors: dict[str, Decimal] | None = None) -> int:
        """Hold again the NEW conditional orders the manager knows (after `reconcile`); returns how many.

        Trailing stops restart from `anchors[symbol]` (e.g. the last price), their old
        extreme being unknown after a restart.
        """
        count = 0
        for order in self.manager.orders.values():
            if order.status is OrderStatus.NEW and order.order_type in CONDITIONAL:
                anchor = (anchors or {}).get(order.symbol)
                self.held.setdefault(order.client_order_id, trigger_of(order, anchor))
                count += 1
        return count

    def cancel(self, client_order_id: str, reason: str = "canceled by user") -> Order:
        """Stop holding an order and record it CANCELED."""
        self.held.pop(client_order_id, None)
        return self.manager.cancel(client_order_id, reason)

    def on_price(self, symbol: str, price: Decimal, ts: datetime | None = None) -> list[Order]:
        """Feed a trade price; returns the orders released (sent to the venue) by it."""
        released: list[Order] = []
        for client_order_id, trigger in list(self.held.items()):
            if client_order_id not in self.held:
                continue  # dropped earlier in this pass: the OCO partner of a released order
            order = self.manager.orders[client_order_id]
            if order.status is not OrderStatus.NEW:  # canceled meanwhile (e.g. by its OCO partner)
                self.held.pop(client_order_id, None)
                continue
            if trigger.symbol != symbol:
                continue
            if trigger.order_type is OrderType.TRAILING_STOP:
                trigger.extreme = ratchet(trigger, trigger.extreme, price, price)
            if not trigger.fires_at(price):
                continue
            self.held.pop(client_order_id, None)
            self._cancel_partner(order)
            self.manager.send(order, as_triggered=True)
            released.append(order)
        return released

    def _cancel_partner(self, order: Order) -> None:
        partner = self.manager.orders.get(order.linked_client_order_id or "")
        if partner is not None and partner.status is OrderStatus.NEW:
            self.held.pop(partner.client_order_id, None)
            reason = f"OCO: linked order {order.client_order_id} triggered"
            self.manager.apply_events(
                partner, [OrderCanceled(partner.client_order_id, self.manager.clock(), reason)]
            )
