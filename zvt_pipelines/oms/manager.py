"""The order manager: validate, send with a client order id, turn venue answers into order events.

Every state change is applied to the `Order` through its transition table and published
on the bus as one `OrderUpdate` per venue answer (an ack and the fills that came with it
travel together, so the persistence subscriber writes them in one transaction). The
SUBMITTED state is published before the request leaves, so a crash mid-request leaves a
row that restart reconciliation resolves. A create that fails transiently is resent with
the same client order id; a venue that answers "duplicate" is asked for the order it
already has, so a retry never doubles an order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from zvt_pipelines.errors import InsufficientFunds, InvalidOrder, OrderNotFound, VenueUnavailable
from zvt_pipelines.model.orders import Fill, OrderStatus, OrderType, Side
from zvt_pipelines.oms.messages import (
    EventBus,
    OrderSnapshot,
    OrderUpdate,
    answer_events,
    ccxt_request,
    dec,
    fill_from_totals,
    fill_from_trade,
)
from zvt_pipelines.oms.order import (
    Order,
    OrderCanceled,
    OrderCancelRequested,
    OrderEvent,
    OrderFilled,
    OrderRejected,
    OrderSettled,
    OrderSubmitted,
    new_client_order_id,
)
from zvt_pipelines.oms.validation import (
    PortfolioState,
    RiskCheck,
    check_notional,
    normalise,
    order_price,
    reservation,
    validate,
)

ZERO = Decimal(0)


def utc_now() -> datetime:
    return datetime.now(UTC)


class OrderManager:
    """Submits, cancels and tracks orders on any venues that follow the venue protocol.

    `venues` maps venue id to a venue (`PaperVenue`, `CcxtVenue`, ...). `risk_check` is any
    `(order, PortfolioState) -> None | reason` callable. `publish_intent=False` skips the
    separate SUBMITTED write (faster; a crash mid-request then leaves no row, so use it only
    where the venue can be listed by client id on restart).
    """

    def __init__(
        self,
        venues: Mapping[str, Any],
        bus: EventBus | None = None,
        *,
        risk_check: RiskCheck | None = None,
        fee_bps: Decimal = Decimal(10),
        clock: Callable[[], datetime] = utc_now,
        create_attempts: int = 3,
        retry_wait: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
        publish_intent: bool = True,
    ) -> None:
        self.venues = dict(venues)
        self.bus = bus or EventBus()
        self.risk_check, self.fee_bps, self.clock = risk_check, Decimal(fee_bps), clock
        self.create_attempts, self.retry_wait, self.sleep = create_attempts, retry_wait, sleep
        self.publish_intent = publish_intent
        self.orders: dict[str, Order] = {}
        self.balances: dict[str, dict[str, Decimal]] = {}
        self.positions: dict[tuple[str, str], Decimal] = {}
        self._markets: dict[str, Mapping[str, Any]] = {}

    # -- state ----------------------------------------------------------------------------

    def markets(self, venue_id: str) -> Mapping[str, Any]:
        """The venue's markets (loaded once)."""
        if venue_id not in self._markets:
            self._markets[venue_id] = self.venues[venue_id].load_markets()
        return self._markets[venue_id]

    def refresh_balances(self, venue_id: str) -> dict[str, Decimal]:
        """Reload the venue's total balances (afterwards kept current from fills)."""
        total = self.venues[venue_id].fetch_balance().get("total", {})
        self.balances[venue_id] = {k: dec(v) for k, v in total.items() if v is not None}
        return self.balances[venue_id]

    def open_orders(self, venue_id: str | None = None) -> list[Order]:
        """Orders that can still fill (NEW emulated ones included)."""
        return [
            o
            for o in self.orders.values()
            if not o.is_done and (venue_id is None or o.venue == venue_id)
        ]

    def portfolio_state(self, venue_id: str) -> PortfolioState:
        """Balances, what this OMS's open orders reserve (an OCO pair once) and positions."""
        if venue_id not in self.balances:
            self.refresh_balances(venue_id)
        reserved: dict[str, Decimal] = {}
        counted: set[str] = set()
        markets = self.markets(venue_id)
        open_orders = self.open_orders(venue_id)
        for order in open_orders:
            if order.linked_client_order_id in counted:
                continue
            counted.add(order.client_order_id)
            currency, amount = reservation(
                order, markets[order.symbol], order_price(order, None), self.fee_bps
            )
            reserved[currency] = reserved.get(currency, ZERO) + amount
        positions = {s: q for (v, s), q in self.positions.items() if v == venue_id}
        return PortfolioState(
            venue_id, dict(self.balances[venue_id]), reserved, positions, len(open_orders)
        )

    # -- building and submitting ----------------------------------------------------------

    def new_order(
        self,
        venue: str,
        symbol: str,
        side: Side | str,
        order_type: OrderType | str,
        amount: Decimal,
        price: Decimal | None = None,
        *,
        strategy: str = "manual",
        client_order_id: str | None = None,
        **fields: Any,
    ) -> Order:
        """An Order in NEW with a fresh (or the given) client order id; not yet sent."""
        return Order(
            client_order_id=client_order_id or new_client_order_id(strategy),
            venue=venue,
            symbol=symbol,
            side=Side(side),
            order_type=OrderType(order_type),
            amount=amount,
            price=price,
            strategy=strategy,
            created_at=self.clock(),
            **fields,
        )

    def check(self, order: Order, reference_price: Decimal | None = None) -> str | None:
        """Pre-trade validation of a NEW order; the denial reason, or None. A perpetual's
        funds are the venue's margin check; here it gets precision, notional and risk checks."""
        market = self.markets(order.venue).get(order.symbol)
        if market is not None and market.get("contract"):
            reason = normalise(order, market) or check_notional(
                order, market, order_price(order, reference_price)
            )
            if reason is None and self.risk_check is not None:
                denial = self.risk_check(order, self.portfolio_state(order.venue))
                reason = f"risk: {denial}" if denial else None
            return reason
        linked = self.orders.get(order.linked_client_order_id or "")
        shared = linked if linked is not None and not linked.is_done else None
        return validate(
            order,
            self.markets(order.venue),
            self.portfolio_state(order.venue),
            reference_price=reference_price,
            fee_bps=self.fee_bps,
            risk_check=self.risk_check,
            shared_with=shared,
        )

    def submit(self, order: Order, reference_price: Decimal | None = None) -> Order:
        """Validate and send a NEW order; returns it in its new status (REJECTED with a reason if denied).

        Submitting a client order id already tracked returns the tracked order, unsent again.
        Raises VenueUnavailable when every attempt failed transiently: the order stays
        SUBMITTED and `sync` or reconciliation settles it.
        """
        known = self.orders.get(order.client_order_id)
        if known is not None:
            return known
        reason = self.check(order, reference_price)
        self.orders[order.client_order_id] = order
        if reason is not None:
            self._publish(order, [OrderRejected(order.client_order_id, self.clock(), reason)])
            return order
        return self.send(order)

    def send(self, order: Order, *, as_triggered: bool = False) -> Order:
        """Send a validated NEW order (`as_triggered`: an emulated stop released as market/limit)."""
        submitted = OrderSubmitted(order.client_order_id, self.clock())
        if self.publish_intent:
            self._publish(order, [submitted])
            pending: list[OrderEvent] = []
        else:
            order.apply(submitted)
            pending = [submitted]
        try:
            answer = self._create(order, as_triggered)
        except (InsufficientFunds, InvalidOrder) as exc:
            rejected = OrderRejected(order.client_order_id, self.clock(), str(exc))
            self._publish(order, [rejected], prefix=pending)
            return order
        except VenueUnavailable:
            if pending:  # the intent was not recorded yet: this is the order's first update
                self._publish(order, [], prefix=pending, already_applied=True)
            raise
        self.apply_answer(order, answer, pending)
        return order

    def _create(self, order: Order, as_triggered: bool) -> dict[str, Any]:
        venue = self.venues[order.venue]
        linked = self.orders.get(order.linked_client_order_id or "")
        oco_with = None
        if getattr(venue, "native_oco", False) and linked is not None and linked.venue_order_id:
            oco_with = linked.venue_order_id
        order_type, price, params = ccxt_request(order, as_triggered, oco_with)
        error: VenueUnavailable | None = None
        for attempt in range(1, self.create_attempts + 1):
            try:
                return venue.create_order(
                    order.symbol, order_type, order.side.value, order.amount, price, params
                )
            except VenueUnavailable as exc:
                error = exc
                if attempt < self.create_attempts:
                    self.sleep(self.retry_wait * 2 ** (attempt - 1))
            except InvalidOrder as exc:
                if "uplicate" not in str(exc):
                    raise
                found = self.find_on_venue(order)
                if found is None:
                    raise
                return found
        assert error is not None
        raise error

    def find_on_venue(self, order: Order) -> dict[str, Any] | None:
        """The venue's view of `order`, by venue id if known else by client id; None if unknown."""
        venue = self.venues[order.venue]
        try:
            if order.venue_order_id:
                return venue.fetch_order(order.venue_order_id, order.symbol)
            by_client_id = getattr(venue, "fetch_order_by_client_id", None)
            if by_client_id is not None:
                return by_client_id(order.client_order_id, order.symbol)
            return venue.fetch_order(order.client_order_id, order.symbol)
        except OrderNotFound:
            return None

    def submit_oco(
        self, first: Order, second: Order, reference_price: Decimal | None = None
    ) -> tuple[Order, Order]:
        """Send two legs linked one-cancels-the-other; a fill of either cancels the other."""
        first.linked_client_order_id = second.client_order_id
        second.linked_client_order_id = first.client_order_id
        self.submit(first, reference_price)
        if first.filled or first.is_done:
            self.orders[second.client_order_id] = second
            why = "filled" if first.filled else first.status.value.lower()
            event = OrderCanceled if first.filled else OrderRejected
            self._publish(
                second, [event(second.client_order_id, self.clock(), f"OCO: linked order {why}")]
            )
            return first, second
        self.submit(second, reference_price)
        return first, second

    # -- cancel and sync ------------------------------------------------------------------

    def cancel(self, client_order_id: str, reason: str = "canceled by user") -> Order:
        """Cancel an order (an unsent emulated one locally); a cancel that loses a race syncs instead."""
        order = self.orders[client_order_id]
        if order.is_done:
            return order
        if order.status is OrderStatus.NEW:
            self._publish(order, [OrderCanceled(client_order_id, self.clock(), reason)])
            return order
        if (
            order.status is not OrderStatus.CANCEL_PENDING
            and order.status is not OrderStatus.SUBMITTED
        ):
            self._publish(order, [OrderCancelRequested(client_order_id, self.clock())])
        venue = self.venues[order.venue]
        try:
            answer = venue.cancel_order(order.venue_order_id or client_order_id, order.symbol)
        except (InvalidOrder, OrderNotFound):
            return self.sync(client_order_id)
        self.apply_answer(order, answer, reason=reason)
        return order

    def settle(self, client_order_id: str) -> Order:
        """Mark a FILLED order SETTLED once the ledger has booked its fills."""
        order = self.orders[client_order_id]
        self._publish(order, [OrderSettled(client_order_id, self.clock())])
        return order

    def sync(self, client_order_id: str) -> Order:
        """Ask the venue for the order and apply what changed (acks, fills, cancels)."""
        order = self.orders[client_order_id]
        answer = self.find_on_venue(order)
        if answer is None:
            raise OrderNotFound(f"venue {order.venue} does not know order {client_order_id}")
        self.apply_answer(order, answer)
        return order

    def sync_open(self) -> list[Order]:
        """Sync every order that can still fill on its venue; returns those that changed."""
        changed = []
        for order in self.open_orders():
            if order.status is OrderStatus.NEW or order.is_done:  # done: an OCO partner filled
                continue
            before = (order.status, order.filled)
            self.sync(order.client_order_id)
            if (order.status, order.filled) != before:
                changed.append(order)
        return changed

    # -- venue answers to events ------------------------------------------------------------

    def apply_answer(
        self,
        order: Order,
        answer: dict[str, Any],
        pending: list[OrderEvent] | None = None,
        reason: str = "",
    ) -> OrderUpdate | None:
        """Turn a ccxt order dict into events, apply and publish them as one update."""
        fresh = answer_events(order, answer, self.new_fills(order, answer), self.clock(), reason)
        if not fresh and not pending:
            return None
        return self._publish(order, fresh, prefix=pending or [])

    def new_fills(self, order: Order, answer: dict[str, Any]) -> list[Fill]:
        """Fills in the answer (or the venue's trade list) that the order has not recorded."""
        filled = dec(answer.get("filled") or 0)
        if filled <= order.filled:
            return []
        trades = answer.get("trades") or []
        venue = self.venues[order.venue]
        if not trades and hasattr(venue, "fetch_my_trades"):
            order_id = str(answer.get("id"))
            trades = [
                t for t in venue.fetch_my_trades(order.symbol) if str(t.get("order")) == order_id
            ]
        quote, now = self.markets(order.venue)[order.symbol]["quote"], self.clock()
        fills = [
            fill_from_trade(order, t, quote, now)
            for t in trades
            if not order.has_execution(str(t["id"]))
        ]
        fills.sort(key=lambda f: f.timestamp)
        covered = order.filled + sum((f.amount for f in fills), ZERO)
        if covered < filled:  # the venue lists no trades: book the difference at the average price
            fills.append(fill_from_totals(order, answer, filled - covered, quote, now))
        return fills

    def apply_events(self, order: Order, events: list[OrderEvent]) -> OrderUpdate | None:
        """Apply events decided outside the venue round trip (e.g. by reconciliation) and publish them."""
        if order.client_order_id not in self.orders:
            self.orders[order.client_order_id] = order
        return self._publish(order, events)

    def _publish(
        self,
        order: Order,
        events: list[OrderEvent],
        *,
        prefix: list[OrderEvent] | None = None,
        already_applied: bool = False,
    ) -> OrderUpdate | None:
        """Apply `events` (after `prefix`, applied earlier), book fills, publish one update.

        The update is built only if someone subscribed to it (None otherwise).
        """
        prefix = prefix or []
        previous = order.history[-len(prefix)][0] if prefix else order.status
        if not already_applied:
            for event in events:
                order.apply(event)
                if isinstance(event, OrderFilled):
                    self._book(event.fill)
        update = None
        if self.bus.wants(OrderUpdate):
            update = OrderUpdate(OrderSnapshot.of(order), tuple(prefix) + tuple(events), previous)
            self.bus.publish(update)
        linked = self.orders.get(order.linked_client_order_id or "")
        if order.filled and linked is not None and not linked.is_done:
            self.cancel(linked.client_order_id, f"OCO: linked order {order.client_order_id} filled")
        return update

    def _book(self, fill: Fill) -> None:
        """Keep balances and positions current between balance refreshes."""
        market = self.markets(fill.venue)[fill.symbol]
        balances = self.balances.setdefault(fill.venue, {})
        sign = fill.side.sign
        balances[market["base"]] = balances.get(market["base"], ZERO) + sign * fill.amount
        balances[market["quote"]] = balances.get(market["quote"], ZERO) - sign * fill.notional
        balances[fill.fee_currency] = balances.get(fill.fee_currency, ZERO) - fill.fee
        key = (fill.venue, fill.symbol)
        self.positions[key] = self.positions.get(key, ZERO) + sign * fill.amount
