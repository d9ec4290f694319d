"""The order vocabulary shared by the OMS, the venues, positions and the backtester."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from zvt_pipelines.errors import InvalidOrder


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell: the sign a fill adds to a position."""
        return 1 if self is Side.BUY else -1


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"
    TRAILING_STOP = "trailing_stop"
    OCO = "oco"


class TimeInForce(StrEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"
    POST_ONLY = "PO"


class OrderStatus(StrEnum):
    NEW = "NEW"
    SUBMITTED = "SUBMITTED"
    OPEN = "OPEN"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    SETTLED = "SETTLED"
    CANCEL_PENDING = "CANCEL_PENDING"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    # A stored order that failed a consistency check (oms/quarantine.py); left out of trading
    # until an operator resolves it with `zvt quarantine resolve`.
    QUARANTINED = "QUARANTINED"


class Liquidity(StrEnum):
    MAKER = "maker"
    TAKER = "taker"


@dataclass(frozen=True)
class Fill:
    """One execution of (part of) an order; `fee` is in `fee_currency` (quote or base)."""

    execution_id: str
    client_order_id: str
    venue: str
    symbol: str
    side: Side
    amount: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str
    liquidity: Liquidity
    timestamp: datetime

    def __post_init__(self) -> None:
        for name in ("amount", "price", "fee"):
            value = getattr(self, name)
            if not isinstance(value, Decimal):
                raise InvalidOrder(f"fill {name} {value!r}: must be a Decimal")
        if self.amount <= 0:
            raise InvalidOrder(f"fill amount {self.amount}: must be positive")
        if self.price <= 0:
            raise InvalidOrder(f"fill price {self.price}: must be positive")
        if self.fee < 0:
            raise InvalidOrder(f"fill fee {self.fee}: must not be negative")
        if self.timestamp.tzinfo is None:
            raise InvalidOrder(f"fill timestamp {self.timestamp!r}: must be timezone-aware UTC")

    @property
    def notional(self) -> Decimal:
        """Price times amount, in the quote currency."""
        return self.price * self.amount
