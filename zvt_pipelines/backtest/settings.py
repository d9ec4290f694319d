"""How a bar-level backtest prices and charges its fills: `BacktestSettings` and its guards.

Its own module so the engine and the execution-cost loop (`costs`) both read it without
importing each other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from zvt_pipelines.analytics.metrics import DAYS_PER_YEAR
from zvt_pipelines.errors import ConfigError
from zvt_pipelines.model.money import to_decimal


class OrderStyle(StrEnum):
    """How a target is worked: a taker market order, or a maker limit at the open."""

    MARKET = "market"
    LIMIT_AT_OPEN = "limit_at_open"


class SlippageModel(StrEnum):
    """How far a market fill moves against the trader before impact."""

    FIXED = "fixed"  # slippage_bps of the base price
    HALF_SPREAD = "half_spread"  # half the Corwin-Schultz spread of the last two bars


class FillPrice(StrEnum):
    """Which price of bar t+1 fills a target decided on bar t."""

    OPEN = "open"
    CLOSE = "close"
    TYPICAL = "typical"  # (high + low + close) / 3, a stand-in for the bar's VWAP


def money_to_float(value: Decimal | float | int | str, name: str) -> float:
    """The one conversion of a money amount (Decimal, str, int, float) into the float64
    world of the hot loop; rejects non-finite or non-positive amounts, naming them."""
    try:
        amount = float(to_decimal(value))
    except (InvalidOperation, ValueError) as exc:
        raise ConfigError(f"{name} {value!r}: not a number") from exc
    if not math.isfinite(amount) or amount <= 0:
        raise ConfigError(f"{name} {value!r}: must be a positive finite amount")
    return amount


def _choice(value: object, kind: type[StrEnum], name: str) -> StrEnum:
    try:
        return kind(value)
    except ValueError as exc:
        choices = ", ".join(member.value for member in kind)
        raise ConfigError(f"{name} {value!r}: expected one of {choices}") from exc


def _bps(value: object, name: str, *, rebate: bool = False) -> None:
    """Guard a bps setting: [0, 10000), or (-10000, 10000) where a rebate is allowed."""
    number = isinstance(value, int | float)
    if not (number and value < 10_000 and (value > -10_000 if rebate else value >= 0)):
        interval = "(-10000, 10000)" if rebate else "[0, 10000)"
        raise ConfigError(f"{name} {value!r}: expected a number of bps in {interval}")


@dataclass(frozen=True)
class BacktestSettings:
    """How fills are priced and charged.

    `fee_bps` (the taker fee) is charged on the notional of every market fill;
    `slippage_bps` moves every market fill price against the trader (buys higher, sells
    lower); `annualization` is the number of daily returns per year used by the metrics.

    Execution realism, each off by default (rules and formulas in `costs`):

    * `order_style` ``"limit_at_open"``: work each target as a maker limit order at the
      fill bar's open, filled there only if the bar trades through it (low < open for
      a buy, high > open for a sell), paying `maker_fee_bps` (negative: a rebate);
      needs `fill_price` open and no slippage or impact (a limit fills at its price).
    * `slippage` ``"half_spread"``: instead of `slippage_bps`, half the Corwin-Schultz
      spread estimated from the two bars before the fill bar.
    * `impact_coefficient` k > 0: square-root impact, an extra adverse price fraction
      ``k * sigma * sqrt(Q / V)`` for a fill of Q units, with sigma the RMS log return
      and V the mean volume of the `impact_window` bars before the fill bar.
    * `max_participation` p in (0, 1]: a fill takes at most p of the fill bar's volume;
      the rest carries over to the next bars until done or the target changes.
    """

    cash: float = 10_000.0
    fee_bps: float = 0.0
    slippage_bps: float = 0.0
    fill_price: FillPrice = FillPrice.OPEN
    annualization: float = DAYS_PER_YEAR
    order_style: OrderStyle = OrderStyle.MARKET
    maker_fee_bps: float = 0.0
    slippage: SlippageModel = SlippageModel.FIXED
    impact_coefficient: float = 0.0
    impact_window: int = 100
    max_participation: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "cash", money_to_float(self.cash, "cash"))
        _bps(self.fee_bps, "fee_bps")
        _bps(self.slippage_bps, "slippage_bps")
        _bps(self.maker_fee_bps, "maker_fee_bps", rebate=True)
        object.__setattr__(self, "fill_price", _choice(self.fill_price, FillPrice, "fill_price"))
        object.__setattr__(
            self, "order_style", _choice(self.order_style, OrderStyle, "order_style")
        )
        object.__setattr__(self, "slippage", _choice(self.slippage, SlippageModel, "slippage"))
        if not self.annualization > 0:
            raise ConfigError(f"annualization {self.annualization!r}: must be positive")
        if not (isinstance(self.impact_coefficient, int | float) and self.impact_coefficient >= 0):
            raise ConfigError(
                f"impact_coefficient {self.impact_coefficient!r}: expected a number >= 0"
            )
        if not (isinstance(self.impact_window, int) and self.impact_window >= 1):
            raise ConfigError(f"impact_window {self.impact_window!r}: expected bars >= 1")
        p = self.max_participation
        if p is not None and not (isinstance(p, int | float) and 0 < p <= 1):
            raise ConfigError(f"max_participation {p!r}: expected a fraction in (0, 1]")
        self._check_combination()

    def _check_combination(self) -> None:
        if self.slippage is SlippageModel.HALF_SPREAD and self.slippage_bps:
            raise ConfigError(
                f"slippage_bps {self.slippage_bps!r}: only the fixed slippage model uses it; "
                "set it to 0 with slippage 'half_spread'"
            )
        if self.order_style is OrderStyle.LIMIT_AT_OPEN:
            market_only = {
                "fill_price": self.fill_price is not FillPrice.OPEN,
                "slippage_bps": self.slippage_bps != 0,
                "slippage": self.slippage is not SlippageModel.FIXED,
                "impact_coefficient": self.impact_coefficient != 0,
            }
            clashes = [name for name, clash in market_only.items() if clash]
            if clashes:
                raise ConfigError(
                    f"order_style 'limit_at_open' fills at the open limit price: "
                    f"{', '.join(clashes)} must be left at the default"
                )

    @property
    def models_execution(self) -> bool:
        """True when any execution-realism setting is on (`costs` runs the fills)."""
        return (
            self.order_style is not OrderStyle.MARKET
            or self.slippage is not SlippageModel.FIXED
            or self.impact_coefficient > 0
            or self.max_participation is not None
        )
