"""Triangular arbitrage on one venue: a 3-cycle of conversions that ends with more than it began.

Each market BASE/QUOTE with best bid and ask gives two conversion edges, the fee (rate
`fee` of what is received) taken on every leg:

* QUOTE -> BASE by buying at the ask: ``rate = (1 / ask) x (1 - fee)``;
* BASE -> QUOTE by selling at the bid: ``rate = bid x (1 - fee)``.

A cycle ``start -> X -> Y -> start`` turns 1 unit of `start` into the product of its three
rates; it is an opportunity when the product exceeds ``1 + min_profit``.

Search: exhaustive over ordered pairs (X, Y) of currencies linked to `start` and to each
other, O(C^2) for C currencies, exact in Decimal. Bellman-Ford on ``-log(rate)`` would find
longer negative cycles too, but in floats and without the per-cycle detail; every cycle
of a venue's spot markets that matters in practice is a triangle through a quote currency.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import Field

from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.model.orders import OrderType, Side
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


@dataclass(frozen=True)
class Leg:
    """One conversion: trade `symbol` on `side` at `price`, turning `from_ccy` into `to_ccy`."""

    symbol: str
    side: Side
    price: Decimal
    from_ccy: str
    to_ccy: str
    rate: Decimal


@dataclass(frozen=True)
class TriangularCycle:
    """Three legs from `start` back to `start`; `rate` is the net multiplier after fees."""

    start: str
    legs: tuple[Leg, Leg, Leg]
    rate: Decimal

    @property
    def path(self) -> tuple[str, ...]:
        return (self.start, *(leg.to_ccy for leg in self.legs))


def conversion_edges(books: Mapping[str, BookTop], fee: Decimal) -> dict[tuple[str, str], Leg]:
    """Every (from, to) conversion the books offer, as a `Leg` (module docstring)."""
    edges = {}
    for symbol, book in books.items():
        base, _, quote = symbol.partition(":")[0].partition("/")
        edges[(quote, base)] = Leg(symbol, Side.BUY, book.ask, quote, base, (1 - fee) / book.ask)
        edges[(base, quote)] = Leg(symbol, Side.SELL, book.bid, base, quote, book.bid * (1 - fee))
    return edges


def find_triangular_cycles(
    books: Mapping[str, BookTop], start: str, fee: Decimal, min_profit: Decimal = ZERO
) -> list[TriangularCycle]:
    """All profitable 3-cycles from `start`, most profitable first."""
    edges = conversion_edges(books, fee)
    currencies = sorted({c for pair in edges for c in pair} - {start})
    cycles = []
    for first in currencies:
        for second in currencies:
            legs = (
                edges.get((start, first)),
                edges.get((first, second)),
                edges.get((second, start)),
            )
            if first == second or None in legs:
                continue
            rate = legs[0].rate * legs[1].rate * legs[2].rate
            if rate > 1 + min_profit:
                cycles.append(TriangularCycle(start, legs, rate))
    return sorted(cycles, key=lambda cycle: cycle.rate, reverse=True)


class TriangularParams(StrategyParams):
    start: str = Field("USDT", description="currency the cycle starts and ends in")
    fee: Decimal = Field(Decimal("0.001"), ge=0, lt=1, description="taker fee per leg")
    min_profit: Decimal = Field(Decimal(0), ge=0)


@register_strategy("arb_triangular")
class TriangularArbStrategy(BaseCryptoStrategy):
    """Trades the best triangular cycle among the instruments' books (one venue)."""

    params_model = TriangularParams
    params: TriangularParams

    def generate_signals(
        self, market_data: MarketData, portfolio: PortfolioView | None = None, **kwargs: Any
    ) -> list[Signal]:
        by_symbol: dict[str, InstrumentId] = {}
        books = {}
        for instrument in self.instruments:
            book = market_data.order_book(instrument)
            if book is not None:
                by_symbol[instrument.symbol] = instrument
                books[instrument.symbol] = book
        cycles = find_triangular_cycles(
            books, self.params.start, self.params.fee, self.params.min_profit
        )
        if not cycles:
            return []
        cycle = cycles[0]
        capital = self.amount_per_trade
        if portfolio is not None and self.instruments:
            capital = min(capital, portfolio.balance(self.instruments[0].venue, cycle.start))
        if capital <= 0:
            return []
        signals = []
        why = f"triangle {'->'.join(cycle.path)} x{cycle.rate:.6f}"
        held = capital
        for leg in cycle.legs:
            amount = held / leg.price if leg.side is Side.BUY else held
            kind = SignalKind.BUY if leg.side is Side.BUY else SignalKind.SELL
            signals.append(
                self.signal(
                    by_symbol[leg.symbol],
                    market_data.now,
                    kind,
                    why,
                    amount=amount,
                    price=leg.price,
                    order_type=OrderType.LIMIT,
                )
            )
            held *= leg.rate
        return signals

    def calculate_position_size(
        self, signal: Signal, portfolio: PortfolioView, **kwargs: Any
    ) -> Decimal:
        return signal.amount if signal.amount is not None else self.quote_amount_size(signal)

    def should_exit(self, position: PositionView, market_data: MarketData, **kwargs: Any) -> bool:
        """A completed cycle holds no position; nothing to stop out."""
        return False
