"""Lot accounting for one position: which open lots a closing trade consumes, and the PnL it realises.

A lot is an opened quantity with its entry value in the quote currency: for a long, the cash paid
(fees included); for a short, the cash received (fees deducted). Entry value, not a per-unit price,
is what is stored, and a partial close leaves `value - removed` in the lot, so the values taken out
of the book always add up exactly to the values put in. Consequently, once a position is flat, its
realised PnL is the same under FIFO, LIFO and average cost: the total cash in minus the total cash
out, to the last Decimal digit: shares are rounded to 18 decimal places (the database's scale) and
all sums are taken at 56 significant digits, so no addition or subtraction ever rounds.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext
from enum import StrEnum

from zvt_pipelines.errors import PositionError
from zvt_pipelines.model.money import MONEY_CONTEXT

ZERO = Decimal(0)
SCALE = Decimal("1e-18")


def share(total: Decimal, part: Decimal, whole: Decimal) -> Decimal:
    """`total * part / whole` rounded to 18 decimal places: the pro-rata share of a value."""
    with localcontext(MONEY_CONTEXT):
        return (total * part / whole).quantize(SCALE)


class AccountingMethod(StrEnum):
    """Which open lots a closing trade consumes first."""

    FIFO = "FIFO"
    LIFO = "LIFO"
    AVERAGE = "AVERAGE"


@dataclass(frozen=True)
class Lot:
    """An open quantity (always positive) and its entry value in the quote currency."""

    quantity: Decimal
    entry_value: Decimal
    opened_at: datetime
    execution_id: str

    @property
    def entry_price(self) -> Decimal:
        """Entry value per unit, fees included."""
        return self.entry_value / self.quantity


@dataclass(frozen=True)
class ClosedLot:
    """The part of a lot a trade closed, and the PnL that closing realised (quote currency)."""

    quantity: Decimal
    entry_value: Decimal
    exit_value: Decimal
    realised_pnl: Decimal
    opened_at: datetime
    closed_at: datetime
    direction: int


class LotBook:
    """The open lots of one position; every lot is on the same side (`direction` +1 long, -1 short).

    `open` adds quantity on the position's side; `close` removes quantity from it in the order the
    accounting method says and returns the closed parts with their realised PnL. Average cost keeps
    a single merged lot, so every close takes the average entry value.
    """

    def __init__(self, method: AccountingMethod = AccountingMethod.FIFO) -> None:
        self.method = AccountingMethod(method)
        self.direction = 0
        self._lots: deque[Lot] = deque()
        self._quantity = ZERO
        self._entry_value = ZERO

    @property
    def lots(self) -> tuple[Lot, ...]:
        """The open lots, oldest first."""
        return tuple(self._lots)

    @property
    def quantity(self) -> Decimal:
        """Open quantity, unsigned (see `direction` for the side)."""
        return self._quantity

    @property
    def entry_value(self) -> Decimal:
        """Sum of the open lots' entry values (quote currency, unsigned)."""
        return self._entry_value

    def open(
        self,
        direction: int,
        quantity: Decimal,
        entry_value: Decimal,
        at: datetime,
        execution_id: str,
    ) -> None:
        """Add a lot on side `direction`; raise PositionError if the book holds the other side."""
        if quantity <= 0:
            raise PositionError(f"lot quantity {quantity}: must be positive")
        if direction not in (1, -1):
            raise PositionError(f"lot direction {direction}: must be +1 (long) or -1 (short)")
        if self.direction not in (0, direction):
            raise PositionError(
                f"cannot open a {'long' if direction > 0 else 'short'} lot on a book holding "
                f"the other side; close it first"
            )
        self.direction = direction
        with localcontext(MONEY_CONTEXT):
            self._add(quantity, entry_value, at, execution_id)

    def _add(
        self, quantity: Decimal, entry_value: Decimal, at: datetime, execution_id: str
    ) -> None:
        self._quantity += quantity
        self._entry_value += entry_value
        if self.method is AccountingMethod.AVERAGE and self._lots:
            first = self._lots[0]
            self._lots[0] = Lot(
                first.quantity + quantity,
                first.entry_value + entry_value,
                first.opened_at,
                first.execution_id,
            )
        else:
            self._lots.append(Lot(quantity, entry_value, at, execution_id))

    def close(self, quantity: Decimal, exit_value: Decimal, at: datetime) -> list[ClosedLot]:
        """Close `quantity` (at most the open quantity) that traded for `exit_value` in total.

        The exit value is shared between the lots consumed in proportion to quantity; the last
        share is the remainder so the shares sum exactly to `exit_value`. Realised PnL of a long
        is exit minus entry value, of a short entry minus exit value.
        """
        if quantity <= 0:
            raise PositionError(f"close quantity {quantity}: must be positive")
        if quantity > self._quantity:
            raise PositionError(f"close quantity {quantity} exceeds open quantity {self._quantity}")
        with localcontext(MONEY_CONTEXT):
            return self._close(quantity, exit_value, at)

    def _close(self, quantity: Decimal, exit_value: Decimal, at: datetime) -> list[ClosedLot]:
        closed: list[ClosedLot] = []
        remaining, exit_left = quantity, exit_value
        take_last = self.method is AccountingMethod.LIFO
        while remaining > 0:
            lot = self._lots[-1] if take_last else self._lots[0]
            used = min(lot.quantity, remaining)
            if used == lot.quantity:
                entry_part = lot.entry_value
                if take_last:
                    self._lots.pop()
                else:
                    self._lots.popleft()
            else:
                entry_part = share(lot.entry_value, used, lot.quantity)
                rest = Lot(
                    lot.quantity - used,
                    lot.entry_value - entry_part,
                    lot.opened_at,
                    lot.execution_id,
                )
                if take_last:
                    self._lots[-1] = rest
                else:
                    self._lots[0] = rest
            exit_part = exit_left if used == remaining else share(exit_value, used, quantity)
            remaining -= used
            exit_left -= exit_part
            self._quantity -= used
            self._entry_value -= entry_part
            pnl = (exit_part - entry_part) * self.direction
            closed.append(
                ClosedLot(used, entry_part, exit_part, pnl, lot.opened_at, at, self.direction)
            )
        if self._quantity == 0:
            self.direction = 0
            self._entry_value = ZERO
        return closed
