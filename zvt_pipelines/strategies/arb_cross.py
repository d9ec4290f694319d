"""Cross-exchange arbitrage: buy where the pair is cheap, sell where it is dear, at once.

For two venues quoting the same pair, buying on venue A at its ask and selling on venue B
at its bid earns, per base unit and net of both taker fees (charged in quote on notional):

    edge = bid_B x (1 - fee_B) - ask_A x (1 + fee_A)

An opportunity exists when ``edge > min_profit x ask_A``. No transfers are assumed: the
buy is paid from A's quote balance and the sell delivers from B's base balance, so

    amount = min(ask_size_A, bid_size_B, quote_A / (ask_A (1 + fee_A)), base_B, max_amount)

Both legs are emitted together as LIMIT signals at the touched prices (IOC in spirit:
the OMS should cancel what does not fill at once).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import Field

from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.model.orders import OrderType
from zvt_pipelines.strategies.base import (
    ZERO,
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


class CrossArbParams(StrategyParams):
    taker_fees: dict[str, Decimal] = Field(description="venue -> taker fee rate, e.g. 0.001")
    min_profit: Decimal = Field(Decimal(0), ge=0, description="net edge / buy price required")
    max_amount: Decimal | None = Field(None, gt=0, description="cap on base units per trade")


@dataclass(frozen=True)
class CrossOpportunity:
    """A buy on `buy` and a sell on `sell` of `amount` base units; `profit` in quote."""

    buy: InstrumentId
    sell: InstrumentId
    buy_price: Decimal
    sell_price: Decimal
    amount: Decimal
    edge: Decimal
    profit: Decimal


def best_cross_opportunity(
    books: Mapping[InstrumentId, BookTop],
    taker_fees: Mapping[str, Decimal],
    portfolio: PortfolioView,
    min_profit: Decimal = ZERO,
    max_amount: Decimal | None = None,
) -> CrossOpportunity | None:
    """The most profitable fundable venue pair (module docstring), or None."""
    best = None
    for buy, buy_book in books.items():
        for sell, sell_book in books.items():
            if buy == sell or (buy.base, buy.quote) != (sell.base, sell.quote):
                continue
            fee_buy, fee_sell = taker_fees[buy.venue], taker_fees[sell.venue]
            edge = sell_book.bid * (1 - fee_sell) - buy_book.ask * (1 + fee_buy)
            if edge <= min_profit * buy_book.ask:
                continue
            limits = [
                buy_book.ask_size,
                sell_book.bid_size,
                portfolio.balance(buy.venue, buy.quote) / (buy_book.ask * (1 + fee_buy)),
                portfolio.balance(sell.venue, sell.base),
            ]
            if max_amount is not None:
                limits.append(max_amount)
            amount = min(limits)
            if amount <= 0:
                continue
            found = CrossOpportunity(
                buy, sell, buy_book.ask, sell_book.bid, amount, edge, edge * amount
            )
            if best is None or found.profit > best.profit:
                best = found
    return best


@register_strategy("arb_cross")
class CrossExchangeArbStrategy(BaseCryptoStrategy):
    """Same pair on several venues; trades the best fee-beating, fundable spread."""

    params_model = CrossArbParams
    params: CrossArbParams

    def generate_signals(
        self, market_data: MarketData, portfolio: PortfolioView | None = None, **kwargs: Any
    ) -> list[Signal]:
        books = {}
        for instrument in self.instruments:
            book = market_data.order_book(instrument)
            if book is not None:
                books[instrument] = book
        found = best_cross_opportunity(
            books,
            self.params.taker_fees,
            portfolio or PortfolioView(equity=ZERO),
            self.params.min_profit,
            self.params.max_amount,
        )
        if found is None:
            return []
        why = f"cross arb {found.buy.venue}->{found.sell.venue} edge {found.edge}/unit"
        common = {"amount": found.amount, "order_type": OrderType.LIMIT}
        return [
            self.signal(
                found.buy, market_data.now, SignalKind.BUY, why, price=found.buy_price, **common
            ),
            self.signal(
                found.sell, market_data.now, SignalKind.SELL, why, price=found.sell_price, **common
            ),
        ]

    def calculate_position_size(
        self, signal: Signal, portfolio: PortfolioView, **kwargs: Any
    ) -> Decimal:
        return signal.amount if signal.amount is not None else self.quote_amount_size(signal)

    def should_exit(self, position: PositionView, market_data: MarketData, **kwargs: Any) -> bool:
        """Arbitrage legs are closed by the opposite trade, never by a stop."""
        return False
