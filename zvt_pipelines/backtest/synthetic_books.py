"""The venues of an event-driven backtest: paper venues whose books are synthesised from candles.

Each backtest venue is the live `PaperVenue` (matching engine, Decimal balances, ccxt
shapes) over a `FixedMarketData` whose one-level book the replay sets before every
execution: ``bid = price x (1 - half_spread)``, ``ask = price x (1 + half_spread)``, each
side holding ``depth_fraction x bar volume`` base units. Orders go through the live
`OrderManager`, so validation, events and fills are the live ones.

Linear perpetuals (a market with ``contract: True``) are traded as on a live paper venue:
the position is the signed base balance (a short is a negative balance, its sale proceeds
sit in the quote balance), so equity is still ``quote + base x mark``, and the paper
venue's margin check replaces the spot funds check. Here the mark is the mid of the last
synthetic book. A venue may list either spot markets or perpetuals of one base, never
both (they would share the base balance).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from zvt_pipelines.errors import ConfigError
from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.model.money import to_decimal
from zvt_pipelines.strategies.base import BookTop
from zvt_pipelines.venues.paper import FixedMarketData, PaperVenue, spot_market

ZERO = Decimal(0)
BPS = Decimal(10_000)


@dataclass(frozen=True)
class VenueFees:
    """Fees of one venue in basis points of the notional, charged in the quote currency."""

    taker_bps: Decimal = Decimal(10)
    maker_bps: Decimal = Decimal(10)

    def __post_init__(self) -> None:
        for name in ("taker_bps", "maker_bps"):
            value = to_decimal(getattr(self, name))
            if not ZERO <= value < BPS:
                raise ConfigError(f"venue fee {name} {value}: expected bps in [0, 10000)")
            object.__setattr__(self, name, value)


@dataclass(frozen=True)
class MarketRules:
    """Precision and limits of every replayed market, and how deep the synthetic book is.

    The defaults are finer than any real venue so that rounding does not hide the
    strategy; set them to the venue's to see its effect. `min_notional` is in each
    market's quote currency. `leverage` is the perpetuals' margin (1 = fully collateralised).
    """

    amount_step: Decimal = Decimal("1e-8")
    price_tick: Decimal = Decimal("1e-8")
    min_notional: Decimal = Decimal(1)
    depth_fraction: Decimal = Decimal(1)
    leverage: Decimal = Decimal(1)

    def __post_init__(self) -> None:
        for name in ("amount_step", "price_tick", "depth_fraction", "leverage"):
            value = to_decimal(getattr(self, name))
            if value <= 0:
                raise ConfigError(f"market rule {name} {value}: must be positive")
            object.__setattr__(self, name, value)
        object.__setattr__(self, "min_notional", to_decimal(self.min_notional))


def market_dict(instrument: InstrumentId, rules: MarketRules) -> dict[str, Any]:
    """The ccxt market dict of a replayed instrument (a linear swap when it has a settle)."""
    market = spot_market(
        f"{instrument.base}/{instrument.quote}",
        str(rules.price_tick),
        str(rules.amount_step),
        str(rules.min_notional),
    )
    if instrument.settle is None:
        return market
    return {
        **market,
        "symbol": instrument.symbol,
        "type": "swap",
        "spot": False,
        "swap": True,
        "contract": True,
        "linear": True,
        "settle": instrument.settle,
        "contractSize": Decimal(1),
    }


def book_top(price: Decimal, half_spread_bps: Decimal, depth: Decimal, tick: Decimal) -> BookTop:
    """One-level book around `price`: bid rounded down and ask up to the tick."""
    offset = price * half_spread_bps / BPS
    bid = ((price - offset) / tick).to_integral_value(rounding=ROUND_FLOOR) * tick
    ask = ((price + offset) / tick).to_integral_value(rounding=ROUND_CEILING) * tick
    return BookTop(bid=max(bid, tick), ask=max(ask, tick), bid_size=depth, ask_size=depth)


class BacktestVenue(PaperVenue):
    """A `PaperVenue` over a settable one-level book, with linear perpetuals (module docstring)."""

    def __init__(
        self,
        venue_id: str,
        instruments: list[InstrumentId],
        balances: Mapping[str, Decimal],
        fees: VenueFees,
        rules: MarketRules,
        clock: Any,
    ) -> None:
        bases: dict[str, bool] = {}
        for instrument in instruments:
            if bases.setdefault(instrument.base, instrument.settle is None) != (
                instrument.settle is None
            ):
                raise ConfigError(
                    f"venue {venue_id}: lists both a spot market and a perpetual of "
                    f"{instrument.base}; give the perpetual its own venue id"
                )
        markets = {i.symbol: market_dict(i, rules) for i in instruments}
        super().__init__(
            FixedMarketData(venue_id, markets),
            balances,
            venue_id=venue_id,
            maker_bps=fees.maker_bps,
            taker_bps=fees.taker_bps,
            clock=clock,
            leverage=rules.leverage,
        )
        self.rules = rules
        self.marks: dict[str, Decimal] = {}

    def set_book(self, symbol: str, top: BookTop) -> None:
        """Replace the book of `symbol` by `top` (an empty side when its size is 0)."""
        self.market_data.set_book(
            symbol,
            [(str(top.bid), str(top.bid_size))] if top.bid_size > 0 else [],
            [(str(top.ask), str(top.ask_size))] if top.ask_size > 0 else [],
        )
        self.marks[symbol] = top.mid

    def mark_price(self, symbol: str) -> Decimal:
        """The mid of the last book set (the synthetic book is one level)."""
        return self.marks.get(symbol, ZERO)

    def book_funding(self, currency: str, amount: Decimal) -> None:
        """Credit (or debit, when negative) a funding payment to the quote balance."""
        self.total[currency] = self.total.get(currency, ZERO) + amount
