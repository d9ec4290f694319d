"""From a strategy's signals to target positions: the live rebalance step, in Decimal.

`rebalance` runs one strategy at `market_data.now`:

1. `generate_signals(market_data, portfolio=...)` and, for every open position of the
   strategy's instruments, `should_exit` (both through `call_hook`, on copies);
2. market signals become target quantities per instrument, applied in order, starting
   from the current quantity: TARGET sets ``weight x equity / price``; BUY / SELL add /
   subtract the signal's `amount` or `calculate_position_size`; EXIT sets 0. An exit
   from `should_exit` overrides any signal on that instrument;
3. each target is capped by the strategy's `RiskLimits`: ``|quantity| x price <=
   max_allocation x equity`` and ``|quantity| <= max_position_size[str(instrument)]``
   (sign kept). Reductions are never blocked;
4. LIMIT signals (quotes, arbitrage legs) are not netted into targets: they pass through
   as `limit_orders`, sized, for the order manager to place as they are.

The order manager then trades each instrument from its current to its target quantity.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd

from zvt_pipelines.errors import DataError, StrategyError
from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.model.orders import OrderType
from zvt_pipelines.portfolio.limits import RiskLimits
from zvt_pipelines.strategies.base import (
    ZERO,
    BaseCryptoStrategy,
    MarketData,
    PortfolioView,
    Signal,
    SignalKind,
    call_hook,
)


@dataclass(frozen=True)
class TargetPosition:
    """The quantity (base units, signed) a strategy wants in one instrument, and why."""

    instrument: InstrumentId
    quantity: Decimal
    current: Decimal
    reasons: tuple[str, ...]

    @property
    def delta(self) -> Decimal:
        """What the order manager must trade: target minus current."""
        return self.quantity - self.current


@dataclass(frozen=True)
class RebalancePlan:
    """One rebalance of one strategy: targets per instrument plus pass-through limit orders."""

    strategy: str
    ts: pd.Timestamp
    targets: Mapping[InstrumentId, TargetPosition]
    limit_orders: tuple[Signal, ...]
    signals: tuple[Signal, ...]


def cap_quantity(
    instrument: InstrumentId,
    quantity: Decimal,
    current: Decimal,
    price: Decimal,
    equity: Decimal,
    limits: RiskLimits | None,
) -> Decimal:
    """`quantity` shrunk (sign kept) to the allocation and size caps; a target closer to
    zero than `current` on the same side is a reduction and is never capped."""
    if limits is None or (abs(quantity) <= abs(current) and quantity * current >= 0):
        return quantity
    allowed = limits.max_allocation * max(equity, ZERO) / price
    size_cap = limits.max_position_size.get(str(instrument))
    if size_cap is not None:
        allowed = min(allowed, size_cap)
    return quantity if abs(quantity) <= allowed else allowed.copy_sign(quantity)


def signals_to_targets(
    strategy: BaseCryptoStrategy,
    signals: list[Signal],
    portfolio: PortfolioView,
    prices: Mapping[InstrumentId, Decimal],
) -> dict[InstrumentId, TargetPosition]:
    """Market signals -> capped target positions (module docstring, steps 2 and 3)."""
    wanted: dict[InstrumentId, Decimal] = {}
    reasons: dict[InstrumentId, list[str]] = {}
    marks: dict[InstrumentId, Decimal] = dict(prices)
    for signal in signals:
        instrument = signal.instrument
        if signal.price is not None:
            marks[instrument] = signal.price
        quantity = wanted.get(instrument, portfolio.quantity(instrument))
        if signal.kind is SignalKind.EXIT:
            quantity = ZERO
        elif instrument not in marks:
            raise StrategyError(f"{signal.reason}: no price for {instrument} to size it")
        elif signal.kind is SignalKind.TARGET:
            quantity = signal.target_weight * portfolio.equity / marks[instrument]
        else:
            size = signal.amount
            if size is None:
                size = call_hook(
                    strategy,
                    "calculate_position_size",
                    strategy.calculate_position_size,
                    signal,
                    portfolio,
                )
            quantity += size if signal.kind is SignalKind.BUY else -size
        wanted[instrument] = quantity
        reasons.setdefault(instrument, []).append(signal.reason)
    targets = {}
    for instrument, quantity in wanted.items():
        current = portfolio.quantity(instrument)
        if quantity != ZERO:
            quantity = cap_quantity(
                instrument,
                quantity,
                current,
                marks[instrument],
                portfolio.equity,
                strategy.risk_limits,
            )
        targets[instrument] = TargetPosition(
            instrument, quantity, current, tuple(reasons[instrument])
        )
    return targets


def _known_prices(market_data: MarketData, instruments: set[InstrumentId]) -> dict:
    prices = {}
    for instrument in instruments:
        try:
            prices[instrument] = market_data.last_price(instrument)
        except DataError:
            continue  # no candles: the signal's own price (if any) is used instead
    return prices


def rebalance(
    strategy: BaseCryptoStrategy, market_data: MarketData, portfolio: PortfolioView
) -> RebalancePlan:
    """One live decision of `strategy` (module docstring)."""
    signals = call_hook(
        strategy, "generate_signals", strategy.generate_signals, market_data, portfolio=portfolio
    )
    exits = []
    for instrument, position in portfolio.positions.items():
        if position.quantity == 0 or (
            strategy.instruments and instrument not in strategy.instruments
        ):
            continue
        if call_hook(strategy, "should_exit", strategy.should_exit, position, market_data):
            exits.append(
                strategy.signal(instrument, market_data.now, SignalKind.EXIT, "should_exit")
            )
    exiting = {signal.instrument for signal in exits}
    market = [
        s for s in signals if s.order_type is not OrderType.LIMIT and s.instrument not in exiting
    ]
    prices = _known_prices(market_data, {s.instrument for s in market + exits})
    limit_orders = []
    for signal in signals:
        if signal.order_type is OrderType.LIMIT and signal.instrument not in exiting:
            if signal.amount is None:
                size = call_hook(
                    strategy,
                    "calculate_position_size",
                    strategy.calculate_position_size,
                    signal,
                    portfolio,
                )
                signal = Signal(**{**signal.__dict__, "amount": size})
            limit_orders.append(signal)
    return RebalancePlan(
        strategy=strategy.label,
        ts=market_data.now,
        targets=signals_to_targets(strategy, market + exits, portfolio, prices),
        limit_orders=tuple(limit_orders),
        signals=tuple(signals),
    )
