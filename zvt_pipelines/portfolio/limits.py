"""Risk limits, the trading state (active, reducing, halted) and the pre-trade check.

Pure logic: the order manager asks `RiskState.check_order` before sending an order and gets a
`RiskApproval` or a `RiskDenial` with a reason; it reports the day's P&L with
`update_daily_pnl`, which latches HALTED once the daily loss limit is reached.

States: ACTIVE accepts any order within the limits. REDUCING (set by an operator) and HALTED
(set by a breach) accept only orders that shrink a position without flipping it, so exposure
can always be cut. HALTED is left only through `reset()` (e.g. at the start of a new day).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Literal

from zvt_pipelines.errors import ConfigError, IllegalRiskTransition, InvalidOrder


def _require(name: str, value: object, ok: bool, rule: str) -> None:
    if not ok:
        raise ConfigError(f"risk limit {name}={value!r}: {rule}")


@dataclass(frozen=True)
class RiskLimits:
    """Limits checked before every order; a bad field raises ConfigError naming field and value.

    `max_position_size` caps the absolute quantity per symbol (symbols not listed have no size
    cap); `max_allocation` caps one position's notional as a fraction of equity;
    `stop_loss` / `take_profit` are fractions of the entry price; `daily_loss_limit` is an
    amount in the account currency; `max_leverage` caps gross exposure / equity.
    """

    max_allocation: Decimal
    stop_loss: Decimal
    take_profit: Decimal
    daily_loss_limit: Decimal
    max_leverage: Decimal
    max_position_size: Mapping[str, Decimal] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in (
            "max_allocation",
            "stop_loss",
            "take_profit",
            "daily_loss_limit",
            "max_leverage",
        ):
            value = getattr(self, name)
            _require(
                name,
                value,
                isinstance(value, Decimal) and value.is_finite(),
                "must be a finite Decimal",
            )
        _require(
            "max_allocation",
            self.max_allocation,
            0 < self.max_allocation <= 1,
            "must lie in (0, 1]",
        )
        _require("stop_loss", self.stop_loss, 0 < self.stop_loss < 1, "must lie in (0, 1)")
        _require("take_profit", self.take_profit, self.take_profit > 0, "must be > 0")
        _require(
            "daily_loss_limit", self.daily_loss_limit, self.daily_loss_limit > 0, "must be > 0"
        )
        _require("max_leverage", self.max_leverage, self.max_leverage > 0, "must be > 0")
        for symbol, size in self.max_position_size.items():
            _require(
                f"max_position_size[{symbol}]",
                size,
                isinstance(size, Decimal) and size.is_finite() and size > 0,
                "must be a finite Decimal > 0",
            )
        object.__setattr__(
            self, "max_position_size", MappingProxyType(dict(self.max_position_size))
        )


class TradingState(enum.Enum):
    ACTIVE = "active"
    REDUCING = "reducing"
    HALTED = "halted"


# Transitions an operator or a breach may make; HALTED -> ACTIVE only happens through reset().
_TRANSITIONS = {
    (TradingState.ACTIVE, TradingState.REDUCING),
    (TradingState.ACTIVE, TradingState.HALTED),
    (TradingState.REDUCING, TradingState.ACTIVE),
    (TradingState.REDUCING, TradingState.HALTED),
}


class DenialReason(enum.Enum):
    HALTED = "halted"
    REDUCE_ONLY = "reduce_only"
    NO_EQUITY = "no_equity"
    MAX_POSITION_SIZE = "max_position_size"
    MAX_ALLOCATION = "max_allocation"
    MAX_LEVERAGE = "max_leverage"


class ExitReason(enum.Enum):
    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"


@dataclass(frozen=True)
class RiskApproval:
    symbol: str
    side: str
    quantity: Decimal


@dataclass(frozen=True)
class RiskDenial:
    """Why an order was refused: a reason code and a message with the numbers."""

    symbol: str
    side: str
    quantity: Decimal
    reason: DenialReason
    message: str


class RiskState:
    """The trading state and the day's P&L, checked against `RiskLimits`."""

    def __init__(self, limits: RiskLimits) -> None:
        self.limits = limits
        self.state = TradingState.ACTIVE
        self.daily_pnl = Decimal(0)

    def transition(self, target: TradingState) -> None:
        """Move to `target`; raise IllegalRiskTransition naming both states if not allowed."""
        if target is self.state:
            return
        if (self.state, target) not in _TRANSITIONS:
            raise IllegalRiskTransition(
                f"trading state cannot go from {self.state.value} to {target.value}"
                + (" except through reset()" if self.state is TradingState.HALTED else "")
            )
        self.state = target

    def update_daily_pnl(self, pnl: Decimal) -> TradingState:
        """Record the day's P&L so far (realised + unrealised); halt once it reaches −limit."""
        self.daily_pnl = pnl
        if pnl <= -self.limits.daily_loss_limit and self.state is not TradingState.HALTED:
            self.transition(TradingState.HALTED)
        return self.state

    def reset(self) -> None:
        """Start a new trading day: ACTIVE again with a zero daily P&L."""
        self.state = TradingState.ACTIVE
        self.daily_pnl = Decimal(0)

    def check_order(
        self,
        symbol: str,
        side: Literal["buy", "sell"],
        quantity: Decimal,
        price: Decimal,
        position: Decimal,
        equity: Decimal,
        gross_exposure: Decimal,
    ) -> RiskApproval | RiskDenial:
        """Pre-trade check of an order against the state and the limits.

        `position` is the symbol's current signed quantity, `gross_exposure` the account's
        Σ|quantity × price| before the order, `price` the expected fill price. An order that
        shrinks the position without flipping it is always approved; any other must leave the
        position within its size cap, its notional within ``max_allocation × equity`` and the
        gross exposure within ``max_leverage × equity``, in the ACTIVE state.
        """
        if side not in ("buy", "sell"):
            raise InvalidOrder(f"order side {side!r}: expected 'buy' or 'sell'")
        if quantity <= 0 or price <= 0:
            raise InvalidOrder(f"order {symbol}: quantity={quantity} and price={price} must be > 0")
        new_position = position + quantity if side == "buy" else position - quantity
        if abs(new_position) < abs(position) and new_position * position >= 0:
            return RiskApproval(symbol, side, quantity)

        def deny(reason: DenialReason, message: str) -> RiskDenial:
            return RiskDenial(symbol, side, quantity, reason, message)

        if self.state is TradingState.HALTED:
            return deny(
                DenialReason.HALTED,
                f"trading halted (daily P&L {self.daily_pnl}, limit -{self.limits.daily_loss_limit}); "
                "only reducing orders until reset()",
            )
        if self.state is TradingState.REDUCING:
            return deny(
                DenialReason.REDUCE_ONLY,
                "trading state is reducing: only orders that shrink a position",
            )
        if equity <= 0:
            return deny(DenialReason.NO_EQUITY, f"equity {equity} <= 0: no new risk")
        size_cap = self.limits.max_position_size.get(symbol)
        if size_cap is not None and abs(new_position) > size_cap:
            return deny(
                DenialReason.MAX_POSITION_SIZE,
                f"{symbol} position would be {abs(new_position)} > max size {size_cap}",
            )
        allocation = abs(new_position) * price / equity
        if allocation > self.limits.max_allocation:
            return deny(
                DenialReason.MAX_ALLOCATION,
                f"{symbol} allocation would be {allocation:.4f} of equity > {self.limits.max_allocation}",
            )
        leverage = (gross_exposure - abs(position) * price + abs(new_position) * price) / equity
        if leverage > self.limits.max_leverage:
            return deny(
                DenialReason.MAX_LEVERAGE,
                f"leverage would be {leverage:.4f} > max {self.limits.max_leverage}",
            )
        return RiskApproval(symbol, side, quantity)


def exit_signal(
    limits: RiskLimits, position: Decimal, entry_price: Decimal, price: Decimal
) -> ExitReason | None:
    """STOP_LOSS or TAKE_PROFIT when `price` has moved that far against or for the position.

    A long stops at ``entry·(1 − stop_loss)`` and takes profit at ``entry·(1 + take_profit)``;
    a short mirrors this. No position means no exit.
    """
    if position == 0:
        return None
    move = (price - entry_price) / entry_price
    if position < 0:
        move = -move
    if move <= -limits.stop_loss:
        return ExitReason.STOP_LOSS
    if move >= limits.take_profit:
        return ExitReason.TAKE_PROFIT
    return None
