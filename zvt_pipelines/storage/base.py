"""The declarative base every table of the trading database derives from.

Its own module so the table modules (`models`, `alert_models`, ...) import it without
importing each other.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import DeclarativeBase

from zvt_pipelines.storage.types import ExactDecimal, UtcDateTime


class Base(DeclarativeBase):
    """Declarative base; `type_annotation_map` makes money and time exact everywhere."""

    type_annotation_map = {Decimal: ExactDecimal(), datetime: UtcDateTime()}
