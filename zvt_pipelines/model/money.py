"""The one conversion from float64 analytics to Decimal money."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def decimal_from_float(value: Any) -> Decimal:
    """The decimal a float stands for, by its shortest round-trip text: a price read from
    a candle file comes back exactly as the file wrote it (12345.67, not 12345.6699999...).

    Takes Python and NumPy floats alike (`repr` of a NumPy scalar is not a number).
    """
    return Decimal(repr(float(value)))
