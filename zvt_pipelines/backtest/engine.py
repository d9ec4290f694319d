"""The fast bar-level backtest: targets decided on bar t are filled at bar t+1.

Look-ahead is impossible by construction: the fill loop only ever applies the target of
the previous bar, at a price of the current bar, and marks the account at the current
close. Strategies that decide bar by bar get a view of the past only (see
`bar_by_bar`). Execution realism (maker fills, spread, impact, volume caps) lives in
`costs` and runs only when one of its settings is on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum

import numpy as np
import pandas as pd

from zvt_pipelines.analytics.metrics import DAYS_PER_YEAR
from zvt_pipelines.backtest.costs import BPS, OrderStyle, SlippageModel, simulate_with_costs
from zvt_pipelines.backtest.kernels import signals_to_targets_nb, simulate_nb
from zvt_pipelines.backtest.result import BacktestResult, build_result
from zvt_pipelines.data.candles import CANDLE_COLUMNS
from zvt_pipelines.errors import ConfigError, DataError


class FillPrice(StrEnum):
    """Which price of bar t+1 fills a target decided on bar t."""

    OPEN = "open"
    CLOSE = "close"
    TYPICAL = "typical"  # (high + low + close) / 3, a stand-in for the bar's VWAP


def money_to_float(value: Decimal | float | int | str, name: str) -> float:
    """The one conversion of a money amount (Decimal, str, int, float) into the float64
    world of the hot loop; rejects non-finite or non-positive amounts, naming them."""
    try:
        amount = float(Decimal(str(value)))
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


def check_candles(frame: pd.DataFrame) -> None:
    """Guard the backtest's input: candle columns present, rows sorted, prices finite > 0."""
    missing = [c for c in CANDLE_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"candle frame: missing column(s) {missing}")
    if len(frame) < 2:
        raise DataError(f"candle frame: {len(frame)} row(s); a backtest needs at least 2")
    if not frame["ts"].is_monotonic_increasing:
        raise DataError("candle frame: `ts` is not sorted ascending")
    prices = frame[["open", "high", "low", "close"]].to_numpy(dtype="float64")
    bad = ~(np.isfinite(prices) & (prices > 0))
    if bad.any():
        row = int(np.nonzero(bad.any(axis=1))[0][0])
        raise DataError(
            f"candle frame: non-positive or missing price at row {row} ({frame['ts'].iloc[row]})"
        )


def fill_prices(frame: pd.DataFrame, fill_price: FillPrice) -> np.ndarray:
    """The base fill price of each bar (before slippage) for the chosen fill setting."""
    if fill_price is FillPrice.TYPICAL:
        return (
            frame["high"].to_numpy(dtype="float64")
            + frame["low"].to_numpy(dtype="float64")
            + frame["close"].to_numpy(dtype="float64")
        ) / 3.0
    return frame[fill_price.value].to_numpy(dtype="float64")


def _per_bar(values: object, frame: pd.DataFrame, name: str, dtype: str) -> np.ndarray:
    array = np.asarray(values, dtype=dtype)
    if array.shape != (len(frame),):
        raise DataError(
            f"{name}: expected {len(frame)} values (one per bar), got shape {array.shape}"
        )
    return array


def run_targets(
    frame: pd.DataFrame, targets: object, settings: BacktestSettings | None = None
) -> BacktestResult:
    """Backtest target position fractions decided on each bar's close.

    Parameters
    ----------
    frame : candle frame (see `zvt_pipelines.data.candles`)
    targets : one value per bar: the wanted long position as a fraction of equity in
        [0, 1], or NaN to keep the current position. The value of bar t is filled at
        bar t+1 (the last bar's value is never filled); a value equal to the standing
        target is not re-applied.
    settings : cash, fees, slippage, fill price and the execution-realism models;
        defaults to `BacktestSettings()`. With a volume cap or a limit order a target
        may fill over several bars (one fill per bar); see `costs`.
    """
    settings = settings or BacktestSettings()
    check_candles(frame)
    wanted = _per_bar(targets, frame, "targets", "float64")
    present = wanted[~np.isnan(wanted)]
    if present.size and (present.min() < 0 or present.max() > 1):
        raise DataError("targets: long-only fractions must lie in [0, 1] (or be NaN to hold)")
    close = frame["close"].to_numpy(dtype="float64")
    base = fill_prices(frame, settings.fill_price)
    if settings.models_execution:
        output = simulate_with_costs(frame, wanted, base, settings)
    else:
        output = simulate_nb(
            wanted, base, close, settings.fee_bps * BPS, settings.slippage_bps * BPS, settings.cash
        )
    return build_result(
        frame["ts"], float(close[-1]), output, base, settings.cash, settings.annualization
    )


def run_signals(
    frame: pd.DataFrame,
    entries: object,
    exits: object,
    settings: BacktestSettings | None = None,
) -> BacktestResult:
    """Backtest long-only entry/exit booleans decided on each bar's close.

    An entry on bar t buys all-in at bar t+1 (notional = cash / (1 + fee)); an exit
    sells everything at bar t+1. A bar with both or neither keeps the position; an
    entry while long or an exit while flat does nothing.
    """
    entry = _per_bar(entries, frame, "entries", "bool")
    leave = _per_bar(exits, frame, "exits", "bool")
    return run_targets(frame, signals_to_targets_nb(entry, leave), settings)
