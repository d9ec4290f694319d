"""Pre-trade checks: market, precision, limits, available balance and a pluggable risk check.

Each check either normalises the order (amounts truncated to the venue's step, prices
rounded to its tick in the direction that never worsens the order) or returns a denial
reason naming the value; nothing here talks to a venue, so it is cheap enough for every
order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Any

from zvt_pipelines.model.money import to_decimal
from zvt_pipelines.model.orders import OrderType, Side
from zvt_pipelines.oms.order import Order

ZERO = Decimal(0)
BPS = Decimal(10_000)


@dataclass(frozen=True)
class PortfolioState:
    """What the risk check sees: balances, reservations and positions on one venue.

    `balances` are totals per currency, `reserved` what open orders hold back,
    `positions` the signed base quantity per symbol accumulated from this OMS's fills.
    """

    venue: str
    balances: Mapping[str, Decimal]
    reserved: Mapping[str, Decimal]
    positions: Mapping[str, Decimal] = field(default_factory=dict)
    open_orders: int = 0

    def available(self, currency: str) -> Decimal:
        """Total minus reserved: what a new order may use."""
        return self.balances.get(currency, ZERO) - self.reserved.get(currency, ZERO)


RiskCheck = Callable[[Order, PortfolioState], str | None]
"""`(order, portfolio_state) -> None` to allow, or a denial reason (e.g. `RiskLimits.check`)."""


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    return to_decimal(value)


def _snap(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    """`value` on the grid of `step` (ccxt TICK_SIZE mode), rounded as asked."""
    return (value / step).to_integral_value(rounding=rounding) * step


def normalise(order: Order, market: Mapping[str, Any]) -> str | None:
    """Snap amount and prices to the market's precision and check its limits; a reason or None.

    Amounts are truncated (never more than asked); a buy's limit price is rounded down and
    a sell's up (never a worse price than asked); stop prices go to the nearest tick.
    """
    precision = market.get("precision") or {}
    step, tick = _decimal(precision.get("amount")), _decimal(precision.get("price"))
    if step:
        order.amount = _snap(order.amount, step, ROUND_DOWN)
    if order.amount <= 0:
        return f"amount rounds to 0 at the step {step} of {order.symbol}"
    if tick:
        if order.price is not None:
            order.price = _snap(
                order.price, tick, ROUND_FLOOR if order.side is Side.BUY else ROUND_CEILING
            )
        if order.stop_price is not None:
            order.stop_price = _snap(order.stop_price, tick, ROUND_HALF_EVEN)
    limits = market.get("limits") or {}
    amount_limits = limits.get("amount") or {}
    min_amount, max_amount = _decimal(amount_limits.get("min")), _decimal(amount_limits.get("max"))
    if min_amount is not None and order.amount < min_amount:
        return f"amount {order.amount} below the minimum {min_amount} of {order.symbol}"
    if max_amount is not None and order.amount > max_amount:
        return f"amount {order.amount} above the maximum {max_amount} of {order.symbol}"
    return None


def check_notional(order: Order, market: Mapping[str, Any], price: Decimal | None) -> str | None:
    """Reason if amount x price is below the market's minimum cost (None when no price is known)."""
    min_cost = _decimal(((market.get("limits") or {}).get("cost") or {}).get("min"))
    if min_cost is None or price is None:
        return None
    notional = order.amount * price
    if notional < min_cost:
        return f"notional {notional} ({order.amount} x {price}) below the minimum {min_cost} of {order.symbol}"
    return None


def order_price(order: Order, reference_price: Decimal | None) -> Decimal | None:
    """The price an order is expected to trade at: limit, else stop, else the reference."""
    if order.order_type is OrderType.TRAILING_STOP:
        return reference_price
    return order.price or order.stop_price or reference_price


def reservation(
    order: Order, market: Mapping[str, Any], price: Decimal | None, fee_bps: Decimal
) -> tuple[str, Decimal]:
    """(currency, amount) an order's unfilled part holds back: base for a sell, quote plus fee for a buy."""
    if order.side is Side.SELL:
        return market["base"], order.remaining
    if price is None:
        return market["quote"], ZERO
    return market["quote"], order.remaining * price * (1 + fee_bps / BPS)


def check_funds(
    order: Order,
    market: Mapping[str, Any],
    state: PortfolioState,
    price: Decimal | None,
    fee_bps: Decimal,
    shared_with: Order | None = None,
) -> str | None:
    """Reason if the available balance does not cover the order.

    `shared_with` is the other leg of an OCO pair already reserved: the pair needs only the
    larger of the two legs.
    """
    currency, need = reservation(order, market, price, fee_bps)
    available = state.available(currency)
    if shared_with is not None and shared_with.side is order.side:
        available += reservation(shared_with, market, order_price(shared_with, price), fee_bps)[1]
    if need > available:
        return f"{order.side.value} {order.amount} {order.symbol} needs {need} {currency}, {available} available"
    return None


def validate(
    order: Order,
    markets: Mapping[str, Mapping[str, Any]],
    state: PortfolioState,
    *,
    reference_price: Decimal | None,
    fee_bps: Decimal,
    risk_check: RiskCheck | None = None,
    shared_with: Order | None = None,
) -> str | None:
    """Run every pre-trade check in order; the first denial reason, or None to send the order."""
    market = markets.get(order.symbol)
    if market is None:
        return f"venue {order.venue} lists no market {order.symbol!r}"
    if market.get("active") is False:
        return f"market {order.symbol} on {order.venue} is not active"
    price = order_price(order, reference_price)
    for reason in (
        normalise(order, market),
        check_notional(order, market, price),
        check_funds(order, market, state, price, fee_bps, shared_with),
    ):
        if reason is not None:
            return reason
    if risk_check is not None:
        reason = risk_check(order, state)
        if reason:
            return f"risk: {reason}"
    return None
