"""Funding-rate carry: long spot, short the perpetual, collect funding while it stays positive.

A positive funding rate means perpetual longs pay shorts every interval (8 h on Binance).
Holding spot long and the perpetual short of the same size is delta-neutral and earns
that funding. The trade is worth entering when, over the intended holding period,

    expected_funding - round_trip_fees - max(0, -basis) > min_edge

* ``expected_funding = mean(last lookback settled rates) x holding_hours / interval_hours``
  (the recent average is the forecast: funding is strongly persistent);
* ``round_trip_fees = 2 x (spot_fee + perp_fee)`` (both legs in and out, taker);
* ``basis = perp_close / spot_close - 1`` at the last closed bar. A perpetual below spot
  (negative basis) is a cost the short leg pays if it converges; a premium is not counted
  as profit (it need not converge within the holding period).

Exit both legs once the mean of the last `lookback` rates drops below `exit_rate`.
Instruments: one spot market and one perpetual (an id with a settle currency), same base.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import Field

from zvt_pipelines.errors import ConfigError
from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.model.money import decimal_from_float
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


class FundingCarryParams(StrategyParams):
    lookback: int = Field(3, ge=1, description="settled funding rates averaged")
    holding_hours: float = Field(72.0, gt=0)
    interval_hours: float = Field(8.0, gt=0)
    spot_fee: Decimal = Field(Decimal("0.001"), ge=0, lt=1)
    perp_fee: Decimal = Field(Decimal("0.0005"), ge=0, lt=1)
    min_edge: Decimal = Field(Decimal(0), ge=0)
    exit_rate: Decimal = Field(Decimal(0), description="leave when mean funding falls below")


@dataclass(frozen=True)
class CarryEstimate:
    """The carry arithmetic at one time (fractions of the notional)."""

    mean_rate: Decimal
    expected_funding: Decimal
    fees: Decimal
    basis: Decimal
    edge: Decimal


def carry_estimate(
    rates: list[Decimal], spot_price: Decimal, perp_price: Decimal, params: FundingCarryParams
) -> CarryEstimate:
    """The module docstring's formula on the last `lookback` settled `rates`."""
    recent = rates[-params.lookback :]
    mean_rate = sum(recent, Decimal(0)) / len(recent)
    intervals = decimal_from_float(params.holding_hours / params.interval_hours)
    expected = mean_rate * intervals
    fees = 2 * (params.spot_fee + params.perp_fee)
    basis = perp_price / spot_price - 1
    edge = expected - fees - max(Decimal(0), -basis)
    return CarryEstimate(mean_rate, expected, fees, basis, edge)


@register_strategy("arb_funding")
class FundingCarryStrategy(BaseCryptoStrategy):
    """Long spot / short perpetual while expected funding beats fees and adverse basis."""

    params_model = FundingCarryParams
    params: FundingCarryParams

    def legs(self) -> tuple[InstrumentId, InstrumentId]:
        """(spot, perpetual) from the configured instruments."""
        spots = [i for i in self.instruments if i.settle is None]
        perps = [i for i in self.instruments if i.settle is not None]
        if len(spots) != 1 or len(perps) != 1:
            listed = ", ".join(map(str, self.instruments))
            raise ConfigError(f"arb_funding needs one spot and one perpetual, got [{listed}]")
        return spots[0], perps[0]

    def estimate(self, market_data: MarketData) -> CarryEstimate | None:
        """The carry at `market_data.now`, or None before `lookback` rates have settled."""
        spot, perp = self.legs()
        funding = market_data.funding(perp)
        if len(funding) < self.params.lookback:
            return None
        rates = [decimal_from_float(r) for r in funding["funding_rate"]]
        return carry_estimate(
            rates, market_data.last_price(spot), market_data.last_price(perp), self.params
        )

    def generate_signals(
        self, market_data: MarketData, portfolio: PortfolioView | None = None, **kwargs: Any
    ) -> list[Signal]:
        spot, perp = self.legs()
        estimate = self.estimate(market_data)
        if estimate is None:
            return []
        holding = portfolio is not None and portfolio.quantity(spot) > 0
        now = market_data.now
        if holding and estimate.mean_rate < self.params.exit_rate:
            why = f"funding carry off: mean rate {estimate.mean_rate} < {self.params.exit_rate}"
            return [self.signal(leg, now, SignalKind.EXIT, why) for leg in (spot, perp)]
        if holding or estimate.edge <= self.params.min_edge:
            return []
        spot_price = market_data.last_price(spot)
        amount = self.amount_per_trade / spot_price
        why = (
            f"funding carry: expected {estimate.expected_funding:.6f} - fees {estimate.fees}"
            f" - basis cost = edge {estimate.edge:.6f}"
        )
        return [
            self.signal(spot, now, SignalKind.BUY, why, amount=amount, price=spot_price),
            self.signal(
                perp, now, SignalKind.SELL, why, amount=amount, price=market_data.last_price(perp)
            ),
        ]

    def calculate_position_size(
        self, signal: Signal, portfolio: PortfolioView, **kwargs: Any
    ) -> Decimal:
        return signal.amount if signal.amount is not None else self.quote_amount_size(signal)

    def should_exit(self, position: PositionView, market_data: MarketData, **kwargs: Any) -> bool:
        """Either leg exits once the recent mean funding is below `exit_rate`."""
        estimate = self.estimate(market_data)
        return estimate is not None and estimate.mean_rate < self.params.exit_rate
