"""Market making: two-sided limit quotes around a fair price, skewed by inventory, capped hard.

With fair price F (the book mid, or the micro-price that leans towards the thinner
side), inventory q (base units, signed) and limit Q:

* half spread ``h = F x (base_spread_bps / 2 / 10^4 + vol_multiplier x sigma)``, with
  sigma the std of the last `vol_window` log returns of the closes (0 before that):
  wider when the market moves more, the market maker's main defence;
* reservation price ``r = F x (1 - skew_bps / 10^4 x q / Q)``: long inventory lowers
  both quotes (the bid is hit less, the ask is lifted more), short raises them, by
  ``skew_bps`` at the full limit;
* ``bid = r - h``, ``ask = r + h``, each for `quote_size` base units;
* hard limits: no bid when ``q + quote_size > Q``, no ask when ``q - quote_size < -Q``,
  so a full fill of any quote can never take the inventory beyond the limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import numpy as np
from pydantic import Field

from zvt_pipelines.model.money import decimal_from_float
from zvt_pipelines.model.orders import OrderType
from zvt_pipelines.strategies.base import (
    BaseCryptoStrategy,
    BookTop,
    MarketData,
    PortfolioView,
    PositionView,
    Signal,
    SignalKind,
    StrategyParams,
)
from zvt_pipelines.strategies.registry import register_strategy

BPS = Decimal("0.0001")


class MarketMakingParams(StrategyParams):
    fair_price: Literal["mid", "micro"] = "mid"
    base_spread_bps: Decimal = Field(Decimal(10), ge=0)
    vol_window: int = Field(60, ge=2)
    vol_multiplier: Decimal = Field(Decimal(1), ge=0)
    skew_bps: Decimal = Field(Decimal(5), ge=0)
    max_inventory: Decimal = Field(gt=0, description="hard cap on |inventory|, base units")
    quote_size: Decimal = Field(gt=0, description="base units per quote")


@dataclass(frozen=True)
class Quotes:
    """The two quotes (None where the inventory limit forbids a side)."""

    fair: Decimal
    reservation: Decimal
    bid: Decimal | None
    ask: Decimal | None
    size: Decimal


def make_quotes(
    book: BookTop, inventory: Decimal, sigma: Decimal, params: MarketMakingParams
) -> Quotes:
    """The module docstring's quotes for one book top."""
    fair = book.micro_price if params.fair_price == "micro" else book.mid
    half = fair * (params.base_spread_bps * BPS / 2 + params.vol_multiplier * sigma)
    reservation = fair * (1 - params.skew_bps * BPS * inventory / params.max_inventory)
    size = params.quote_size
    bid = reservation - half if inventory + size <= params.max_inventory else None
    ask = reservation + half if inventory - size >= -params.max_inventory else None
    if bid is not None and bid <= 0:
        bid = None
    return Quotes(fair, reservation, bid, ask, size)


def recent_volatility(close: np.ndarray, window: int) -> Decimal:
    """Population std of the last `window` log returns (0 with fewer returns)."""
    if len(close) <= window:
        return Decimal(0)
    returns = np.diff(np.log(np.asarray(close[-window - 1 :], dtype="float64")))
    return decimal_from_float(returns.std())


@register_strategy("market_making")
class MarketMakingStrategy(BaseCryptoStrategy):
    """Inventory-aware two-sided quoting on each instrument with a book."""

    params_model = MarketMakingParams
    rests_limit_orders = True
    params: MarketMakingParams

    def generate_signals(
        self, market_data: MarketData, portfolio: PortfolioView | None = None, **kwargs: Any
    ) -> list[Signal]:
        signals = []
        for instrument in self.instruments or market_data.instruments:
            book = market_data.order_book(instrument)
            if book is None:
                continue
            close = market_data.candles(instrument)["close"].to_numpy(dtype="float64")
            inventory = portfolio.quantity(instrument) if portfolio is not None else Decimal(0)
            quotes = make_quotes(
                book, inventory, recent_volatility(close, self.params.vol_window), self.params
            )
            why = f"quote around {quotes.fair} (inventory {inventory})"
            for kind, price in ((SignalKind.BUY, quotes.bid), (SignalKind.SELL, quotes.ask)):
                if price is not None:
                    signals.append(
                        self.signal(
                            instrument,
                            market_data.now,
                            kind,
                            why,
                            amount=quotes.size,
                            price=price,
                            order_type=OrderType.LIMIT,
                        )
                    )
        return signals

    def calculate_position_size(
        self, signal: Signal, portfolio: PortfolioView, **kwargs: Any
    ) -> Decimal:
        return self.params.quote_size

    def should_exit(self, position: PositionView, market_data: MarketData, **kwargs: Any) -> bool:
        """Inventory is managed by skew and limits; only the risk limits' stops close it."""
        return self.risk_exit(position, market_data.last_price(position.instrument))
