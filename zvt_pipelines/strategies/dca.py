"""Dollar-cost averaging: buy a fixed quote amount once per period, up to a cap.

Live rules, at each decision (the loop passes ``portfolio=``):

* **Buy**: on the first closed bar of each `frequency` period (periods aligned on the
  UTC epoch, e.g. midnight for `1d`), buy `amount_per_trade` of quote currency, or only
  what is left below ``max_allocation x equity`` once near the cap; nothing above it.
* **Rebalance**: when a rally lifts the position's share of equity above
  ``max_allocation + rebalance_threshold``, sell back down to ``max_allocation``.
* **Stop-loss**: `should_exit` closes the position once the last close is
  ``stop_loss`` below the average entry price; buying resumes the next period.

Bar backtest (`target_series`): the fast engine speaks fractions of equity, not amounts,
so the plan is expressed against a fixed `budget`: after k period buys the target is
``min(k x amount / budget, max_allocation)``. The stop uses the plan's own average cost,
each buy priced at the open of the bar after its decision (when the engine fills it), so
a bar's target never depends on a later bar. Because the engine moves to a share of
equity, a fill after a rally that already lifted the position above the next target
sells the excess: the backtest is budget-share DCA, exact in its schedule and cap, not
in units (the live path buys exactly ``amount / price``). Rebalancing is live-only: the
engine does not re-apply an unchanged target.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from zvt_pipelines.errors import DataError
from zvt_pipelines.model.timeframe import timeframe_ms
from zvt_pipelines.strategies.base import (
    BaseCryptoStrategy,
    MarketData,
    PortfolioView,
    PositionView,
    Signal,
    SignalKind,
    StrategyParams,
)
from zvt_pipelines.strategies.registry import register_strategy


class DcaParams(StrategyParams):
    max_allocation: Decimal = Field(Decimal("0.5"), gt=0, le=1)
    rebalance_threshold: Decimal = Field(Decimal("0.1"), ge=0, le=1)
    stop_loss: Decimal | None = Field(None, gt=0, lt=1)
    budget: Decimal = Field(Decimal(10_000), gt=0, description="backtest: quote the plan spends")


def period_starts(ts: pd.Series, period: str) -> np.ndarray:
    """True on the first bar of each UTC-epoch-aligned period of length `period`."""
    ms = ts.astype("datetime64[ms, UTC]").astype("int64").to_numpy()
    bucket = ms // timeframe_ms(period)
    starts = np.ones(len(bucket), dtype=bool)
    starts[1:] = bucket[1:] != bucket[:-1]
    return starts


@register_strategy("dca")
class DcaStrategy(BaseCryptoStrategy):
    """Fixed-amount periodic buying with an allocation cap, rebalancing and a stop-loss."""

    params_model = DcaParams
    params: DcaParams

    def generate_signals(
        self, market_data: MarketData, portfolio: PortfolioView | None = None, **kwargs: Any
    ) -> list[Signal]:
        if portfolio is None:
            raise DataError("dca needs the portfolio (call generate_signals(md, portfolio=...))")
        signals = []
        cap = self.params.max_allocation * portfolio.equity
        for instrument in self.instruments or market_data.instruments:
            frame = market_data.candles(instrument)
            if frame.empty:
                continue
            price = market_data.last_price(instrument)
            value = portfolio.quantity(instrument) * price
            if portfolio.equity > 0 and value / portfolio.equity > (
                self.params.max_allocation + self.params.rebalance_threshold
            ):
                signals.append(
                    self.signal(
                        instrument,
                        market_data.now,
                        SignalKind.SELL,
                        f"rebalance: {value / portfolio.equity:.4f} of equity > cap",
                        amount=(value - cap) / price,
                        price=price,
                    )
                )
            elif period_starts(frame["ts"], self.frequency)[-1] and value < cap:
                spend = min(self.amount_per_trade, cap - value)
                signals.append(
                    self.signal(
                        instrument,
                        market_data.now,
                        SignalKind.BUY,
                        f"periodic buy of {spend} quote",
                        amount=spend / price,
                        price=price,
                    )
                )
        return signals

    def calculate_position_size(
        self, signal: Signal, portfolio: PortfolioView, **kwargs: Any
    ) -> Decimal:
        return self.quote_amount_size(signal)

    def should_exit(self, position: PositionView, market_data: MarketData, **kwargs: Any) -> bool:
        price = market_data.last_price(position.instrument)
        stop = self.params.stop_loss
        if stop is not None and position.quantity > 0:
            return price <= position.entry_price * (1 - stop)
        return self.risk_exit(position, price)

    def target_series(self, frame: pd.DataFrame) -> np.ndarray:
        """Fraction of the budget invested after each bar's decision (module docstring)."""
        opens = frame["open"].to_numpy(dtype="float64")
        close = frame["close"].to_numpy(dtype="float64")
        starts = period_starts(frame["ts"], self.frequency)
        amount = float(self.amount_per_trade)
        budget = float(self.params.budget)
        cap = float(self.params.max_allocation)
        stop = float(self.params.stop_loss) if self.params.stop_loss is not None else None
        targets = np.full(len(frame), np.nan)
        invested = pending = spent = units = 0.0
        for t in range(len(frame)):
            if pending > 0:  # the buy decided on bar t-1 fills at this bar's open
                spent += pending * budget
                units += pending * budget / opens[t]
                pending = 0.0
            if stop is not None and units > 0 and close[t] <= spent / units * (1 - stop):
                targets[t] = 0.0
                invested = spent = units = 0.0
                continue
            if starts[t] and invested < cap:
                pending = min(invested + amount / budget, cap) - invested
                invested += pending
                targets[t] = invested
        return targets
