"""Positions per (venue, symbol, strategy) built from fills, their aggregation across venues, and margin.

How a fill moves a position (the quantity change and the cash that changed hands, quote currency):

* fee in the quote currency: a buy pays `price * amount + fee` (the fee is part of the cost), a sell
  receives `price * amount - fee` (the fee comes off the proceeds); the quantity moves by `amount`.
* fee in the base currency: the fee is paid in the asset itself, so a buy adds `amount - fee` and a
  sell removes `amount + fee`, while the cash is `price * amount` either way.
* fee in any other currency (e.g. BNB): kept in `other_fees` and left out of PnL; convert it with
  the currency module if it must count.

Realised PnL is therefore net of the fees of the closed part; `fees_paid` totals every fee in the
quote currency (a base fee valued at its fill's price) as a memo, not a second deduction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext

import numpy as np

from zvt_pipelines.errors import PositionError
from zvt_pipelines.model.instrument import symbol_currencies
from zvt_pipelines.model.money import MONEY_CONTEXT
from zvt_pipelines.model.orders import Fill
from zvt_pipelines.portfolio.lots import (
    ZERO,
    AccountingMethod,
    ClosedLot,
    LotBook,
    share,
)


@dataclass(frozen=True, order=True)
class PositionKey:
    """Where a position lives: a venue, a ccxt symbol and a strategy ('' for the whole account)."""

    venue: str
    symbol: str
    strategy: str = ""


def fill_flow(fill: Fill, base: str, quote: str) -> tuple[Decimal, Decimal, Decimal]:
    """(signed quantity change, cash exchanged in quote, fee valued in quote) of one fill.

    See the module docstring for the fee rules; the cash is what was paid for a buy and what was
    received for a sell, both positive.
    """
    notional = fill.price * fill.amount
    if fill.fee_currency == quote:
        cash = notional + fill.fee if fill.side.sign > 0 else notional - fill.fee
        return fill.side.sign * fill.amount, cash, fill.fee
    if fill.fee_currency == base:
        if fill.fee >= fill.amount:
            raise PositionError(
                f"fill {fill.execution_id}: base fee {fill.fee} is not below its amount {fill.amount}"
            )
        return fill.side.sign * fill.amount - fill.fee, notional, fill.fee * fill.price
    return fill.side.sign * fill.amount, notional, ZERO


@dataclass(frozen=True)
class PositionSnapshot:
    """A position's figures at one moment, named after the `crypto_positions` columns."""

    venue: str
    symbol: str
    strategy: str
    quantity: Decimal
    average_entry_price: Decimal | None
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    mark_price: Decimal | None
    fees_paid: Decimal
    margin_used: Decimal
    leverage: Decimal
    accounting_method: str
    updated_at: datetime


class Position:
    """A long or short position on one venue, symbol and strategy, built fill by fill.

    A fill on the other side first closes open lots (realising PnL), and whatever is left of it
    opens a position on the new side, so a sell beyond a long flips it to a short. Fill ids are
    remembered so the same fill applied twice raises instead of doubling the position.
    """

    def __init__(
        self,
        key: PositionKey,
        method: AccountingMethod = AccountingMethod.FIFO,
        leverage: Decimal = Decimal(1),
    ) -> None:
        self.key = key
        self.base, self.quote = symbol_currencies(key.symbol)
        self.book = LotBook(method)
        self.leverage = Decimal(1)
        self.set_leverage(leverage)
        self.realised_pnl = ZERO
        self.fees_paid = ZERO
        self.other_fees: dict[str, Decimal] = {}
        self.mark_price: Decimal | None = None
        self._seen: set[str] = set()

    def set_leverage(self, leverage: Decimal) -> None:
        """Set the leverage the position's initial margin is computed with (notional / leverage)."""
        if leverage <= 0:
            raise PositionError(f"position {self.key}: leverage {leverage} must be positive")
        self.leverage = leverage

    @property
    def method(self) -> AccountingMethod:
        return self.book.method

    @property
    def quantity(self) -> Decimal:
        """Signed quantity: positive long, negative short."""
        return self.book.quantity * self.book.direction

    @property
    def average_entry_price(self) -> Decimal | None:
        """Open entry value per unit (fees included, 18 decimal places), or None when flat."""
        if self.book.quantity == 0:
            return None
        return share(self.book.entry_value, Decimal(1), self.book.quantity)

    @property
    def signed_entry_value(self) -> Decimal:
        """Entry value of the open lots: + cash paid for a long, - cash received for a short."""
        return self.book.entry_value * self.book.direction

    def apply(self, fill: Fill) -> list[ClosedLot]:
        """Apply one fill; return the lots it closed (empty when it only opened)."""
        if (fill.venue, fill.symbol) != (self.key.venue, self.key.symbol):
            raise PositionError(
                f"fill {fill.execution_id} is for {fill.venue}:{fill.symbol}, "
                f"not this position {self.key.venue}:{self.key.symbol}"
            )
        if fill.execution_id in self._seen:
            raise PositionError(f"fill {fill.execution_id} was already applied to {self.key}")
        delta, cash, fee_in_quote = fill_flow(fill, self.base, self.quote)
        self._seen.add(fill.execution_id)
        with localcontext(MONEY_CONTEXT):
            self.fees_paid += fee_in_quote
            if fill.fee_currency not in (self.base, self.quote) and fill.fee > 0:
                self.other_fees[fill.fee_currency] = (
                    self.other_fees.get(fill.fee_currency, ZERO) + fill.fee
                )
            direction = 1 if delta > 0 else -1
            size = abs(delta)
            if self.book.direction in (0, direction):
                self.book.open(direction, size, cash, fill.timestamp, fill.execution_id)
                return []
            closing = min(size, self.book.quantity)
            closing_cash = cash if closing == size else share(cash, closing, size)
            closed = self.book.close(closing, closing_cash, fill.timestamp)
            self.realised_pnl += sum((c.realised_pnl for c in closed), ZERO)
            if size > closing:
                self.book.open(
                    direction,
                    size - closing,
                    cash - closing_cash,
                    fill.timestamp,
                    fill.execution_id,
                )
            return closed

    def mark(self, price: Decimal) -> None:
        """Remember `price` as the mark used by `unrealised_pnl` and `notional`."""
        if price <= 0:
            raise PositionError(f"mark price {price} for {self.key}: must be positive")
        self.mark_price = price

    def _price(self, price: Decimal | None) -> Decimal:
        chosen = self.mark_price if price is None else price
        if chosen is None:
            raise PositionError(f"position {self.key} has no mark price; call mark(price) first")
        return chosen

    def unrealised_pnl(self, price: Decimal | None = None) -> Decimal:
        """Quantity times price minus the open entry value (0 when flat); `price` or the mark."""
        if self.book.quantity == 0:
            return ZERO
        with localcontext(MONEY_CONTEXT):
            return self.quantity * self._price(price) - self.signed_entry_value

    def notional(self, price: Decimal | None = None) -> Decimal:
        """Absolute quantity times price (quote currency)."""
        if self.book.quantity == 0:
            return ZERO
        return self.book.quantity * self._price(price)

    def initial_margin(self, price: Decimal | None = None) -> Decimal:
        """Notional divided by the position's leverage."""
        return share(self.notional(price), Decimal(1), self.leverage)

    def snapshot(self, at: datetime) -> PositionSnapshot:
        """The position's figures at `at`, marked at the current mark (unrealised 0 if unmarked)."""
        marked = self.mark_price is not None or self.book.quantity == 0
        return PositionSnapshot(
            venue=self.key.venue,
            symbol=self.key.symbol,
            strategy=self.key.strategy,
            quantity=self.quantity,
            average_entry_price=self.average_entry_price,
            realized_pnl=self.realised_pnl,
            unrealized_pnl=self.unrealised_pnl() if marked else ZERO,
            mark_price=self.mark_price,
            fees_paid=self.fees_paid,
            margin_used=self.initial_margin() if marked else ZERO,
            leverage=self.leverage,
            accounting_method=str(self.method),
            updated_at=at,
        )


@dataclass(frozen=True)
class AggregatePosition:
    """One symbol summed over venues (and strategies): net and gross quantity and PnL."""

    symbol: str
    net_quantity: Decimal
    long_quantity: Decimal
    short_quantity: Decimal
    realised_pnl: Decimal
    unrealised_pnl: Decimal
    fees_paid: Decimal
    venues: tuple[str, ...]


class PositionBook:
    """Every position of an account, keyed by venue, symbol and strategy, one accounting method."""

    def __init__(self, method: AccountingMethod = AccountingMethod.FIFO) -> None:
        self.method = AccountingMethod(method)
        self.positions: dict[PositionKey, Position] = {}

    def position(self, key: PositionKey) -> Position:
        """The position at `key`, created flat on first use."""
        if key not in self.positions:
            self.positions[key] = Position(key, self.method)
        return self.positions[key]

    def apply(self, fill: Fill, strategy: str = "") -> list[ClosedLot]:
        """Apply a fill to the position of its venue, symbol and `strategy`."""
        return self.position(PositionKey(fill.venue, fill.symbol, strategy)).apply(fill)

    def mark(self, venue: str, symbol: str, price: Decimal) -> None:
        """Mark every strategy's position in `symbol` on `venue` at `price`."""
        for key, position in self.positions.items():
            if key.venue == venue and key.symbol == symbol:
                position.mark(price)

    def aggregate(self, symbol: str, price: Decimal | None = None) -> AggregatePosition:
        """`symbol` summed across venues; unrealised PnL at `price`, else at each venue's own mark."""
        held = [p for k, p in self.positions.items() if k.symbol == symbol]
        if not held:
            raise PositionError(f"no position in {symbol!r} on any venue")
        with localcontext(MONEY_CONTEXT):
            return AggregatePosition(
                symbol=symbol,
                net_quantity=sum((p.quantity for p in held), ZERO),
                long_quantity=sum((p.quantity for p in held if p.quantity > 0), ZERO),
                short_quantity=-sum((p.quantity for p in held if p.quantity < 0), ZERO),
                realised_pnl=sum((p.realised_pnl for p in held), ZERO),
                unrealised_pnl=sum((p.unrealised_pnl(price) for p in held), ZERO),
                fees_paid=sum((p.fees_paid for p in held), ZERO),
                venues=tuple(sorted({p.key.venue for p in held})),
            )


@dataclass(frozen=True)
class MarginSummary:
    """Margin of a set of positions against an account's equity (quote currency).

    `leverage` is gross notional over equity, None when equity is not positive.
    """

    equity: Decimal
    gross_notional: Decimal
    margin_used: Decimal
    margin_available: Decimal
    leverage: Decimal | None
    initial_margin: dict[PositionKey, Decimal]


def margin_summary(positions: Iterable[Position], equity: Decimal) -> MarginSummary:
    """Initial margin per position (notional / leverage, at its mark) and the account totals.

    Margin used is the sum of initial margins and margin available is equity minus margin used
    (negative when the account is over-extended).
    """
    initial: dict[PositionKey, Decimal] = {}
    gross = ZERO
    with localcontext(MONEY_CONTEXT):
        for position in positions:
            initial[position.key] = position.initial_margin()
            gross += position.notional()
        used = sum(initial.values(), ZERO)
        leverage = share(gross, Decimal(1), equity) if equity > 0 else None
        return MarginSummary(equity, gross, used, equity - used, leverage, initial)


def position_arrays(positions: Iterable[Position]) -> tuple[np.ndarray, np.ndarray]:
    """Signed quantities and signed entry values as float64 arrays: the Decimal -> float boundary."""
    held = list(positions)
    quantities = np.array([float(p.quantity) for p in held], dtype=np.float64)
    entry_values = np.array([float(p.signed_entry_value) for p in held], dtype=np.float64)
    return quantities, entry_values


def unrealised_pnl_vector(
    quantities: np.ndarray, entry_values: np.ndarray, prices: np.ndarray
) -> np.ndarray:
    """Unrealised PnL `q * price - signed entry value` of N positions at one price vector (N,) or
    at many, one row per tick (T, N); vectorised float64 for analytics, not for the ledger."""
    return quantities * prices - entry_values
