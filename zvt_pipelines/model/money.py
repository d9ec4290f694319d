"""Decimal money: the arithmetic context every booked sum uses and the conversions into Decimal."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any

# 56 significant digits: sums of 18-decimal amounts never round.
MONEY_CONTEXT = Context(prec=56, rounding=ROUND_HALF_EVEN)


def decimal_from_float(value: Any) -> Decimal:
    """The decimal a float stands for, by its shortest round-trip text: a price read from
    a candle file comes back exactly as the file wrote it (12345.67, not 12345.6699999...).

    Takes Python and NumPy floats alike (`repr` of a NumPy scalar is not a number).
    """
    return Decimal(repr(float(value)))


def to_decimal(value: Any) -> Decimal:
    """Any amount as a Decimal: a Decimal as it is, anything else by its text, so an int or a
    numeric string is exact and a float (Python or NumPy float64) reads as its shortest
    round-trip digits, like `decimal_from_float`."""
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value))
