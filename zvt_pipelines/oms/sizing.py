"""Order sizing against a venue's market rules: the amount step, minimums and taker fee read
from a ccxt market, rounding down to the step, and shrinking a buy to what the free quote pays.

Used by the router, the execution algorithms, the rebalance and the event backtest alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from zvt_pipelines.errors import InvalidOrder
from zvt_pipelines.model.money import to_decimal
from zvt_pipelines.model.orders import Side

ZERO = Decimal(0)
TICK_SIZE = 4  # ccxt.base.decimal_to_precision.TICK_SIZE
DECIMAL_PLACES = 2  # ccxt.base.decimal_to_precision.DECIMAL_PLACES


@dataclass(frozen=True)
class VenueRules:
    """What the router needs from one venue's market: fee, amount step and minimums."""

    taker_fee: Decimal
    amount_step: Decimal
    min_amount: Decimal
    min_notional: Decimal


def market_rules(market: Mapping[str, Any], precision_mode: int = TICK_SIZE) -> VenueRules:
    """Read a ccxt market dict; `precision.amount` is a step (TICK_SIZE) or a digit count."""
    precision = (market.get("precision") or {}).get("amount")
    if precision is None:
        step = Decimal("1e-18")
    elif precision_mode == DECIMAL_PLACES:
        step = Decimal(1).scaleb(-int(precision))
    elif precision_mode == TICK_SIZE:
        step = to_decimal(precision)
    else:
        raise InvalidOrder(f"precision mode {precision_mode}: only TICK_SIZE and DECIMAL_PLACES")
    limits = market.get("limits") or {}
    min_amount = (limits.get("amount") or {}).get("min")
    min_cost = (limits.get("cost") or {}).get("min")
    return VenueRules(
        taker_fee=to_decimal(market.get("taker") or 0),
        amount_step=step,
        min_amount=ZERO if min_amount is None else to_decimal(min_amount),
        min_notional=ZERO if min_cost is None else to_decimal(min_cost),
    )


def floor_to_step(amount: Decimal, step: Decimal) -> Decimal:
    """The largest multiple of `step` not above `amount`."""
    return (amount / step).to_integral_value(ROUND_DOWN) * step


def affordable_amount(
    side: Side, amount: Decimal, free_quote: Decimal, ask: Decimal, taker_fee: Decimal
) -> Decimal:
    """A spot buy shrunk to what the free quote pays at `ask`, the taker fee (a fraction)
    included; sells are returned as asked."""
    if side is Side.SELL or ask <= 0:
        return amount
    return min(amount, max(free_quote, ZERO) / (ask * (1 + taker_fee)))
