"""Currency conversion over a graph of market quotes, exact in Decimal, and stablecoin depeg exposure.

Every quote `BASE/QUOTE -> price` is an edge both ways: BASE to QUOTE multiplies by the price,
QUOTE to BASE divides by it. Prices are mid prices (`mid_price(bid, ask)` builds one from a
book top); no side is taken, so a conversion is a valuation, not an executable fill.

Stablecoins are never assumed to be worth 1: USDT, USDC and DAI are valued at whatever the
quotes say (e.g. `USDT/USD`), and `depeg_exposure` reports how far each one sits from par.
"""

from __future__ import annotations

import decimal
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from zvt_pipelines.errors import ConfigError, NoConversionPath

BASE_CURRENCIES = ("USD", "BTC", "ETH")
STABLECOINS = ("USDT", "USDC", "DAI")

# Intermediate currencies preferred when several paths have the fewest hops, best first;
# anything else ranks after these, alphabetically.
PREFERRED_HUBS = ("USD", "USDT", "USDC", "BTC", "ETH", "DAI")

# Products of quotes are exact at this precision (each price has far fewer digits); only the
# single final division of a path rounds, to these many significant digits.
DECIMAL_PRECISION = 60


def mid_price(bid: Decimal, ask: Decimal) -> Decimal:
    """The mid price `(bid + ask) / 2` of a book top; raise ConfigError on a crossed or bad book."""
    if bid <= 0 or ask <= 0 or bid > ask:
        raise ConfigError(f"book top bid={bid} ask={ask}: need 0 < bid <= ask")
    return (bid + ask) / 2


def _hub_rank(currency: str) -> tuple[int, str]:
    if currency in PREFERRED_HUBS:
        return PREFERRED_HUBS.index(currency), currency
    return len(PREFERRED_HUBS), currency


@dataclass(frozen=True)
class _Edge:
    to_ccy: str
    price: Decimal
    inverted: bool  # True: travelling QUOTE -> BASE, so the amount is divided by the price


class PriceGraph:
    """Currencies linked by market quotes; converts amounts along the cheapest path.

    Path choice: the fewest hops (each quote used is one hop, whichever way round). Among paths
    with equally few hops, the one whose currencies, compared hop by hop from the source, rank
    first in `PREFERRED_HUBS` order (then alphabetically) wins; e.g. with SOL/USDT, SOL/ETH,
    BTC/USDT and ETH/BTC quoted, SOL -> BTC goes SOL -> USDT -> BTC.
    """

    def __init__(self, quotes: Mapping[str, Decimal]) -> None:
        self._edges: dict[str, list[_Edge]] = {}
        for symbol, price in quotes.items():
            base, sep, quote = symbol.partition("/")
            if not sep or not base or not quote or base == quote:
                raise ConfigError(
                    f"quote symbol {symbol!r}: expected 'BASE/QUOTE', e.g. 'BTC/USDT'"
                )
            if not isinstance(price, Decimal):
                raise ConfigError(f"quote {symbol}={price!r}: price must be a Decimal")
            if not price.is_finite() or price <= 0:
                raise ConfigError(f"quote {symbol}={price}: price must be finite and > 0")
            self._edges.setdefault(base, []).append(_Edge(quote, price, inverted=False))
            self._edges.setdefault(quote, []).append(_Edge(base, price, inverted=True))
        for edges in self._edges.values():
            edges.sort(key=lambda edge: _hub_rank(edge.to_ccy))

    @property
    def currencies(self) -> frozenset[str]:
        """Every currency that appears in a quote."""
        return frozenset(self._edges)

    def _path_edges(self, from_ccy: str, to_ccy: str) -> list[_Edge]:
        if from_ccy not in self._edges or to_ccy not in self._edges:
            raise NoConversionPath(from_ccy, to_ccy)
        # Breadth-first search with neighbours in rank order: the first time a currency is
        # reached is along the fewest-hop path that is smallest in rank order.
        parent: dict[str, tuple[str, _Edge] | None] = {from_ccy: None}
        queue = deque([from_ccy])
        while queue:
            current = queue.popleft()
            if current == to_ccy:
                break
            for edge in self._edges[current]:
                if edge.to_ccy not in parent:
                    parent[edge.to_ccy] = (current, edge)
                    queue.append(edge.to_ccy)
        if to_ccy not in parent:
            raise NoConversionPath(from_ccy, to_ccy)
        edges: list[_Edge] = []
        step = parent[to_ccy]
        while step is not None:
            previous, edge = step
            edges.append(edge)
            step = parent[previous]
        return edges[::-1]

    def path(self, from_ccy: str, to_ccy: str) -> list[str]:
        """The currencies visited from `from_ccy` to `to_ccy`, both included."""
        if from_ccy == to_ccy:
            return [from_ccy]
        return [from_ccy, *(edge.to_ccy for edge in self._path_edges(from_ccy, to_ccy))]

    def rate(self, from_ccy: str, to_ccy: str) -> Decimal:
        """Units of `to_ccy` per one unit of `from_ccy` along the chosen path."""
        return self.convert(Decimal(1), from_ccy, to_ccy)

    def convert(self, amount: Decimal, from_ccy: str, to_ccy: str) -> Decimal:
        """Convert `amount` of `from_ccy` into `to_ccy`; raise NoConversionPath if unlinked.

        The amount is multiplied by every forward price and by nothing else, then divided once
        by the product of the inverted prices, so the result is exact whenever that single
        division is (and otherwise correct to `DECIMAL_PRECISION` significant digits).
        """
        if not isinstance(amount, Decimal):
            raise ConfigError(f"amount {amount!r}: must be a Decimal")
        if from_ccy == to_ccy:
            return amount
        edges = self._path_edges(from_ccy, to_ccy)
        with decimal.localcontext() as context:
            context.prec = DECIMAL_PRECISION
            numerator = amount
            denominator = Decimal(1)
            for edge in edges:
                if edge.inverted:
                    denominator *= edge.price
                else:
                    numerator *= edge.price
            return numerator / denominator


@dataclass(frozen=True)
class DepegExposure:
    """One stablecoin balance valued at market against its 1 USD par.

    `deviation` is price − 1; `value_vs_par` is balance × deviation (negative when trading
    below par: the value already lost against the peg); `value_at_risk` is the balance's
    market value, all of which is lost if the coin goes to zero.
    """

    currency: str
    balance: Decimal
    price_usd: Decimal
    deviation: Decimal
    market_value_usd: Decimal
    value_vs_par: Decimal
    value_at_risk: Decimal


def depeg_exposure(
    balances: Mapping[str, Decimal],
    prices: PriceGraph,
    stablecoins: tuple[str, ...] = STABLECOINS,
    reference: str = "USD",
) -> list[DepegExposure]:
    """Each stablecoin balance's deviation from par and the value it puts at risk, in `reference`.

    Stablecoins with no balance are left out; one held but not linked to `reference` by the
    quotes raises NoConversionPath (an unpriceable stablecoin is not quietly worth 1).
    """
    report = []
    for currency in stablecoins:
        balance = balances.get(currency)
        if balance is None or balance == 0:
            continue
        price = prices.rate(currency, reference)
        with decimal.localcontext() as context:
            context.prec = DECIMAL_PRECISION
            market_value = balance * price
            report.append(
                DepegExposure(
                    currency=currency,
                    balance=balance,
                    price_usd=price,
                    deviation=price - 1,
                    market_value_usd=market_value,
                    value_vs_par=market_value - balance,
                    value_at_risk=market_value,
                )
            )
    return report
