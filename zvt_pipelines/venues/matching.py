"""A venue-side matching engine: taker orders walk a ccxt-shaped book, resting orders fill from the price stream.

Semantics (documented because backtests depend on them):

* A taker order (market, or a limit that crosses) walks the opposite side of the book
  snapshot level by level, each level at its own price; the book is not depleted between
  orders (every order sees the venue's current snapshot). A market order that exhausts the
  book has its remainder expired.
* IOC fills what it can and expires the rest; FOK fills completely or expires with nothing
  filled; post-only that would cross is rejected; GTC limit remainders rest.
* The price stream is a sequence of prints. `on_price(b)` after a print at a is a move
  a -> b: every price between a and b trades, in order, then b (a gap, `jump=True`, such
  as a bar's open, prints only b). Price a traded before the move, so an order resting
  when the move starts can fill only at prices of the move itself.
* The fill contract of a resting limit: it fills completely, as maker, at its limit
  price or better, and only at a price that traded after it rested. An order first
  reached inside a move fills at its limit (the move touches it exactly there), or at
  the gap price when a gap jumps through it (the better open). An order that is already
  marketable when a move starts (it rested after price a printed: the remainder of a
  partly filled limit, or a limit placed through a thin book) fills at b if b is at its
  limit or better, else at its limit if the move passes through it; a gap to a price
  beyond its limit does not fill it. Example: last trade 100, a buy limit at 101 rests;
  a print at 100.5 fills it at 100.5, never at the 100 that traded before it existed.
* Stops trigger when the stream touches the stop (stop-loss sell: price <= stop;
  take-profit sell: price >= stop; mirrored for buys), then fill at the stop level as
  taker (a stop-limit rests at its limit instead if the level is not marketable). A stop
  placed beyond its trigger fires at the next print. A trailing stop re-anchors on every
  new extreme.
* Within a move, levels fire in the order the move reaches them (nearest to a first); a
  gap fills everything it passed at the new price. A bar is walked open -> nearer
  extreme -> farther extreme -> close, so of an OCO whose two legs both lie inside one
  bar, the leg on the side the bar visits first wins and the other is canceled (for a
  bar with equal distances the low is visited first, so a sell stop-loss wins: the
  conservative choice).
* Fees are `notional * bps / 10_000` in the quote currency. Fills at submission are
  stamped ack time + `latency`; fills from the stream carry the stream's timestamp.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from zvt_pipelines.errors import InvalidOrder, OrderNotFound
from zvt_pipelines.model.money import to_decimal
from zvt_pipelines.model.orders import Fill, Liquidity, OrderType, Side, TimeInForce

ZERO = Decimal(0)
BPS = Decimal(10_000)
FEE_QUANTUM = Decimal("1e-12")


class BookStatus(StrEnum):
    """The venue's view of an order, with ccxt's status words."""

    OPEN = "open"
    CLOSED = "closed"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REJECTED = "rejected"


@dataclass
class BookOrder:
    """An order as the venue holds it. `trigger_pending` is true for a stop not yet fired."""

    id: str
    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    amount: Decimal
    timestamp: datetime
    price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    trailing_amount: Decimal | None = None
    trailing_percent: Decimal | None = None
    linked_id: str | None = None
    status: BookStatus = BookStatus.OPEN
    filled: Decimal = ZERO
    cost: Decimal = ZERO
    fee: Decimal = ZERO
    reason: str = ""
    trigger_pending: bool = False
    extreme: Decimal | None = None
    fills: list[Fill] = field(default_factory=list)

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.filled

    @property
    def is_open(self) -> bool:
        return self.status is BookStatus.OPEN

    def trigger_level(self) -> Decimal | None:
        """The price at which a pending stop fires (trailing stops: from the extreme seen)."""
        if self.order_type is not OrderType.TRAILING_STOP:
            return self.stop_price
        if self.extreme is None:
            return None
        sign = -1 if self.side is Side.SELL else 1
        if self.trailing_amount is not None:
            return self.extreme + sign * self.trailing_amount
        return self.extreme * (1 + sign * self.trailing_percent / 100)

    def fires_at(self, price: Decimal) -> bool:
        """True when `price` reaches this pending stop's trigger level."""
        level = self.trigger_level()
        if level is None:
            return False
        rising = self.order_type is OrderType.TAKE_PROFIT
        # A sell stop-loss / trailing stop fires on the way down, a sell take-profit on the way up.
        wants_high = (self.side is Side.BUY) != rising
        return price >= level if wants_high else price <= level

    def crosses(self, price: Decimal) -> bool:
        """True when a resting limit at `self.price` trades at `price`."""
        return price <= self.price if self.side is Side.BUY else price >= self.price


def fee_of(notional: Decimal, bps: Decimal) -> Decimal:
    """The fee on `notional` at `bps` basis points, to 1e-12 of the quote currency."""
    return (notional * bps / BPS).quantize(FEE_QUANTUM)


def bar_path(open_: Decimal, high: Decimal, low: Decimal, close: Decimal) -> list[Decimal]:
    """The assumed price path of a bar: open, the nearer extreme, the farther one, close (low first on a tie)."""
    if high - open_ < open_ - low:
        return [open_, high, low, close]
    return [open_, low, high, close]


class MatchingEngine:
    """Matches orders for one venue; callers own the balances and the book snapshots."""

    def __init__(
        self,
        venue: str,
        maker_bps: Decimal = Decimal(10),
        taker_bps: Decimal = Decimal(10),
        latency: timedelta = timedelta(0),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        quote_of: Callable[[str], str] = lambda symbol: symbol.split("/")[1].split(":")[0],
    ) -> None:
        self.venue = venue
        self.maker_bps, self.taker_bps = Decimal(maker_bps), Decimal(taker_bps)
        self.latency, self.clock, self.quote_of = latency, clock, quote_of
        self.orders: dict[str, BookOrder] = {}
        self.open: dict[str, BookOrder] = {}  # the open subset, so scans never touch history
        self.last_price: dict[str, Decimal] = {}
        self.sequence = 0
        # Ids carry a per-engine session tag: a paper venue rebuilt in a later run (or
        # another process) must never reuse an order or execution id already recorded.
        self.session = uuid.uuid4().hex[:8]
        self.on_fill: Callable[[BookOrder, Fill], None] = lambda order, fill: None

    def next_id(self) -> str:
        """A fresh id: the session tag and a venue-wide sequence number (orders and executions)."""
        self.sequence += 1
        return f"{self.session}-{self.sequence}"

    # -- submission -------------------------------------------------------------------------

    def submit(self, order: BookOrder, book: dict[str, Any] | None) -> BookOrder:
        """Accept `order` (already validated by the caller), match what can match now; returns it."""
        if order.id in self.orders:
            raise InvalidOrder(f"{self.venue}: order id {order.id} already exists")
        self.orders[order.id] = order
        self.open[order.id] = order
        if order.order_type in (
            OrderType.STOP_LOSS,
            OrderType.TAKE_PROFIT,
            OrderType.TRAILING_STOP,
        ):
            order.trigger_pending = True
            if order.order_type is OrderType.TRAILING_STOP:
                order.extreme = self.last_price.get(order.symbol)
            return order
        self._take(order, book or {"bids": [], "asks": []}, order.timestamp + self.latency)
        return order

    def _take(self, order: BookOrder, book: dict[str, Any], ts: datetime) -> None:
        """Match a market or limit order against the book snapshot, per its time in force."""
        levels = _crossing(order, book["asks"] if order.side is Side.BUY else book["bids"])
        if order.time_in_force is TimeInForce.POST_ONLY:
            if next(levels, None) is not None:
                self._close(order, BookStatus.REJECTED, "post-only order would cross the book")
            return
        if order.time_in_force is TimeInForce.FOK:
            available = sum((q for _, q in levels), ZERO)
            if available < order.remaining:
                self._close(
                    order,
                    BookStatus.EXPIRED,
                    f"FOK: only {available} of {order.remaining} fillable",
                )
                return
            levels = _crossing(order, book["asks"] if order.side is Side.BUY else book["bids"])
        for price, quantity in levels:
            self._fill(order, min(quantity, order.remaining), price, Liquidity.TAKER, ts)
            if order.remaining <= 0:
                return
        if order.order_type is not OrderType.LIMIT or order.time_in_force is not TimeInForce.GTC:
            self._close(order, BookStatus.EXPIRED, "no more liquidity for the remainder")

    def cancel(self, order_id: str, reason: str = "canceled by user") -> BookOrder:
        """Cancel an open order; OrderNotFound if unknown, InvalidOrder if already closed."""
        order = self.orders.get(order_id)
        if order is None:
            raise OrderNotFound(f"{self.venue}: unknown order id {order_id}")
        if not order.is_open:
            raise InvalidOrder(f"{self.venue}: order {order_id} is {order.status.value}, not open")
        self._close(order, BookStatus.CANCELED, reason)
        return order

    def link_oco(self, first_id: str, second_id: str) -> None:
        """Make two open orders one-cancels-the-other: any fill of one cancels the other."""
        first, second = self.orders[first_id], self.orders[second_id]
        first.linked_id, second.linked_id = second.id, first.id

    def open_orders(self, symbol: str | None = None) -> list[BookOrder]:
        """Open orders, oldest first (optionally for one symbol)."""
        return [o for o in self.open.values() if symbol is None or o.symbol == symbol]

    # -- the price stream -------------------------------------------------------------------

    def on_price(
        self, symbol: str, price: Decimal, ts: datetime, *, jump: bool = False
    ) -> list[Fill]:
        """Move the market from its last price to `price`; fill what the move reaches.

        `jump=True` means the market gapped (no trading in between): everything passed
        fills at `price`. Returns the fills, in the order they happened.
        """
        price = Decimal(price)
        start = self.last_price.get(symbol, price)
        fills: list[Fill] = []
        reached = sorted(
            (abs(level - start), order.id, level)
            for order in self.open_orders(symbol)
            if (level := self._level_reached(order, start, price, jump)) is not None
        )
        for _, order_id, level in reached:
            order = self.orders[order_id]
            if not order.is_open:
                continue  # canceled by its OCO partner earlier in this move
            fill_price = price if jump else level
            if order.trigger_pending:
                fills.extend(self._fire(order, fill_price, ts))
            else:
                fills.append(self._fill(order, order.remaining, fill_price, Liquidity.MAKER, ts))
        self.last_price[symbol] = price
        for order in self.open_orders(symbol):
            if order.order_type is OrderType.TRAILING_STOP and order.trigger_pending:
                order.extreme = ratchet(order, order.extreme, start, price)
        return fills

    def on_bar(
        self, symbol: str, open_: Decimal, high: Decimal, low: Decimal, close: Decimal, ts: datetime
    ) -> list[Fill]:
        """Walk one bar (gap to the open, then `bar_path`); returns the fills."""
        path = bar_path(Decimal(open_), Decimal(high), Decimal(low), Decimal(close))
        fills = self.on_price(symbol, path[0], ts, jump=symbol in self.last_price)
        for price in path[1:]:
            fills.extend(self.on_price(symbol, price, ts))
        return fills

    def _level_reached(
        self, order: BookOrder, start: Decimal, end: Decimal, jump: bool
    ) -> Decimal | None:
        """The price at which the move start -> end reaches `order`, or None (module docstring)."""
        if order.trigger_pending:
            if order.order_type is OrderType.TRAILING_STOP:
                order.extreme = ratchet(order, order.extreme, start, start)
            level = order.trigger_level()
            if level is None:
                return None
            if order.fires_at(start):
                return end  # placed beyond its trigger: `start` printed before it existed
            return level if order.fires_at(end) else None
        if order.price is None:
            return None
        if order.crosses(start):
            # Rested after `start` printed (module docstring): only this move's prices count.
            if order.crosses(end):
                return end
            passes_through = not jump and order.price != start
            return order.price if passes_through else None
        return order.price if order.crosses(end) else None

    def _fire(self, order: BookOrder, level: Decimal, ts: datetime) -> list[Fill]:
        """A stop fired at `level`: fill it there as taker, or rest it as a limit if not marketable."""
        order.trigger_pending = False
        if order.price is not None and not order.crosses(level):
            return []
        return [self._fill(order, order.remaining, level, Liquidity.TAKER, ts)]

    # -- bookkeeping ------------------------------------------------------------------------

    def _fill(
        self, order: BookOrder, amount: Decimal, price: Decimal, liquidity: Liquidity, ts: datetime
    ) -> Fill:
        bps = self.maker_bps if liquidity is Liquidity.MAKER else self.taker_bps
        fill = Fill(
            execution_id=f"{self.venue}-{self.next_id()}",
            client_order_id=order.client_order_id,
            venue=self.venue,
            symbol=order.symbol,
            side=order.side,
            amount=amount,
            price=price,
            fee=fee_of(amount * price, bps),
            fee_currency=self.quote_of(order.symbol),
            liquidity=liquidity,
            timestamp=ts,
        )
        order.filled += amount
        order.cost += amount * price
        order.fee += fill.fee
        order.fills.append(fill)
        if order.remaining <= 0:
            order.status = BookStatus.CLOSED
            self.open.pop(order.id, None)
        self.on_fill(order, fill)
        if order.linked_id is not None:
            partner = self.orders.get(order.linked_id)
            if partner is not None and partner.is_open:
                self._close(partner, BookStatus.CANCELED, f"OCO: linked order {order.id} filled")
        return fill

    def _close(self, order: BookOrder, status: BookStatus, reason: str) -> None:
        order.status = status
        order.reason = reason
        self.open.pop(order.id, None)


def _crossing(order: BookOrder, levels: list) -> Iterator[tuple[Decimal, Decimal]]:
    """The levels (best first) an order may trade at: all for a market order, up to its limit else."""
    limit = order.price if order.order_type is OrderType.LIMIT else None
    buy = order.side is Side.BUY
    for level in levels:
        price, quantity = level[0], level[1]
        price = to_decimal(price)
        if limit is not None and (price > limit if buy else price < limit):
            return
        yield price, to_decimal(quantity)


def ratchet(order: BookOrder, extreme: Decimal | None, start: Decimal, end: Decimal) -> Decimal:
    """The trailing anchor after a move: the highest price seen for a sell, the lowest for a buy."""
    prices: Iterable[Decimal] = (p for p in (extreme, start, end) if p is not None)
    return max(prices) if order.side is Side.SELL else min(prices)
