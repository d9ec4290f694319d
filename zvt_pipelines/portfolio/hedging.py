"""Cross-currency hedging: bring each currency's share of equity back inside a target.

Balances per venue and currency are valued in a base currency through a `PriceGraph`
(stablecoins at their quoted price, never at par). For a currency whose weight
``w = value / equity`` breaks its target, the hedge moves value between it and a hedge
currency (the base by default) on spot markets ``X/Y`` the venues list:

* the wanted weight ``t`` is the cap (``±max_weight``) or the explicit target weight;
* the gap ``g = t·E − V`` (base-currency value to add; negative: to take away) is closed
  net of the taker fee ``f`` that trading costs the equity: a leg moving value ``Δ`` leaves
  ``V + Δ`` held and ``E − f·|Δ|`` in equity, so ``Δ = g / (1 + t·f·sign(g))``;
* the amount is in the market's base units, snapped to its amount step (ccxt TICK_SIZE
  precision) upwards, so the hedge lands inside the target rather than one step short,
  but never beyond what the venue's balance can pay (that cap is snapped down);
* a leg below the market's minimum amount or minimum cost is skipped, with the reason.

Every price is the graph's (mid) price and fees are charged in the market's quote currency;
the spread a market order crosses is not modelled. A hedge currency other than the base
gains the exposure the hedge removes; it is checked in its own turn only if it comes later
in alphabetical order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from zvt_pipelines.errors import ConfigError
from zvt_pipelines.model.money import to_decimal
from zvt_pipelines.model.orders import OrderType, Side
from zvt_pipelines.oms.manager import OrderManager
from zvt_pipelines.oms.order import Order
from zvt_pipelines.portfolio.currency import PriceGraph

ZERO = Decimal(0)

Balances = Mapping[str, Mapping[str, Decimal]]
"""Venue id -> currency -> total balance."""

Markets = Mapping[str, Mapping[str, Mapping[str, Any]]]
"""Venue id -> symbol -> ccxt market dict (what `load_markets` returns)."""


@dataclass(frozen=True)
class CurrencyExposure:
    """One currency's net balance over every venue, its value in the base and share of equity."""

    currency: str
    amount: Decimal
    value: Decimal
    weight: Decimal


@dataclass(frozen=True)
class ExposureReport:
    """Every currency held, valued in `base`; `equity` is the sum of the values."""

    base: str
    equity: Decimal
    exposures: Mapping[str, CurrencyExposure]


def currency_exposures(balances: Balances, prices: PriceGraph, base: str) -> ExposureReport:
    """Value every currency's net balance in `base` along the graph's conversion path.

    Raises NoConversionPath for a held currency the quotes do not link to `base`, and
    ConfigError when the equity is not positive (weights would mean nothing).
    """
    amounts: dict[str, Decimal] = {}
    for venue, currencies in balances.items():
        for currency, amount in currencies.items():
            if not isinstance(amount, Decimal):
                raise ConfigError(f"balance {venue}/{currency}={amount!r}: must be a Decimal")
            amounts[currency] = amounts.get(currency, ZERO) + amount
    values = {
        currency: prices.convert(amount, currency, base)
        for currency, amount in sorted(amounts.items())
        if amount != 0
    }
    equity = sum(values.values(), ZERO)
    if equity <= 0:
        raise ConfigError(f"equity {equity} {base}: must be positive to weigh exposures")
    exposures = {
        currency: CurrencyExposure(currency, amounts[currency], value, value / equity)
        for currency, value in values.items()
    }
    return ExposureReport(base, equity, exposures)


@dataclass(frozen=True)
class ExposureTarget:
    """Where each non-base currency's weight (value / equity) must lie.

    `weights` pins a currency to an explicit weight, allowed to drift by `tolerance` either
    way before a hedge trades it back to the weight itself. Every other currency is held to
    ``−max_weight ≤ w ≤ max_weight`` (and hedged to the nearer bound); with `max_weight` None
    they are left alone.
    """

    max_weight: Decimal | None = None
    weights: Mapping[str, Decimal] = field(default_factory=dict)
    tolerance: Decimal = ZERO

    def __post_init__(self) -> None:
        named = {"max_weight": self.max_weight, "tolerance": self.tolerance}
        named |= {f"weights[{c}]": w for c, w in self.weights.items()}
        for name, value in named.items():
            if value is not None and not (isinstance(value, Decimal) and value.is_finite()):
                raise ConfigError(f"exposure target {name}={value!r}: must be a finite Decimal")
        if self.max_weight is not None and self.max_weight < 0:
            raise ConfigError(f"exposure target max_weight={self.max_weight}: must be >= 0")
        if self.tolerance < 0:
            raise ConfigError(f"exposure target tolerance={self.tolerance}: must be >= 0")

    def goal(self, currency: str, weight: Decimal) -> Decimal | None:
        """The weight to hedge `currency` back to, or None while `weight` is on target."""
        if currency in self.weights:
            wanted = self.weights[currency]
            return wanted if abs(weight - wanted) > self.tolerance else None
        if self.max_weight is None or abs(weight) <= self.max_weight:
            return None
        return self.max_weight if weight > 0 else -self.max_weight


@dataclass(frozen=True)
class HedgeProposal:
    """One market order that moves `value` (in the base currency) into `currency` (out if < 0).

    `amount` is in the market's base units on its amount step; `price` is the graph's price
    of the market (quote per base) the amount was sized at.
    """

    venue: str
    symbol: str
    side: Side
    amount: Decimal
    price: Decimal
    currency: str
    value: Decimal
    reason: str

    @property
    def notional(self) -> Decimal:
        """Amount × price, in the market's quote currency."""
        return self.amount * self.price


@dataclass(frozen=True)
class SkippedHedge:
    """A hedge leg not proposed because the market's limits refuse it."""

    venue: str
    symbol: str
    currency: str
    amount: Decimal
    reason: str


@dataclass(frozen=True)
class HedgePlan:
    """Exposures before, the proposed orders, the legs skipped, and exposures projected after
    the proposals fill at the graph's prices with their taker fees."""

    before: ExposureReport
    proposals: tuple[HedgeProposal, ...]
    skipped: tuple[SkippedHedge, ...]
    after: ExposureReport


def _decimal(value: Any) -> Decimal:
    return to_decimal(value)


def _snap(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    """`value` on the grid of `step` (ccxt TICK_SIZE precision), rounded as asked."""
    return (value / step).to_integral_value(rounding=rounding) * step


def _market_limit(market: Mapping[str, Any], kind: str) -> Decimal | None:
    minimum = ((market.get("limits") or {}).get(kind) or {}).get("min")
    return None if minimum is None else _decimal(minimum)


def _candidates(
    balances: Balances, markets: Markets, currency: str, hedge_into: Sequence[str], reduce: bool
) -> list[tuple[str, Mapping[str, Any]]]:
    """(venue, market) pairs that trade `currency` against a hedge currency,
    in `hedge_into` order, then by the spent currency's balance on the venue (largest first),
    then by venue id; only venues holding some of the currency to be spent."""
    found = []
    for rank, hedge in enumerate(hedge_into):
        if hedge == currency:
            continue
        spent = currency if reduce else hedge
        for venue, venue_markets in markets.items():
            held = balances.get(venue, {}).get(spent, ZERO)
            if held <= 0:
                continue
            for symbol in (f"{currency}/{hedge}", f"{hedge}/{currency}"):
                market = venue_markets.get(symbol)
                if market is not None and market.get("active") is not False:
                    found.append(((rank, -held, venue), venue, market))
                    break
    found.sort(key=lambda row: row[0])
    return [(venue, market) for _, venue, market in found]


def _book(balances: dict[str, dict[str, Decimal]], proposal: HedgeProposal, fee: Decimal) -> None:
    """Apply a proposal's fill at its price to projected balances (fee in the quote currency)."""
    base_ccy, quote_ccy = proposal.symbol.split("/")
    held = balances.setdefault(proposal.venue, {})
    sign = proposal.side.sign
    held[base_ccy] = held.get(base_ccy, ZERO) + sign * proposal.amount
    held[quote_ccy] = held.get(quote_ccy, ZERO) - sign * proposal.notional - proposal.notional * fee


def propose_hedges(
    balances: Balances,
    prices: PriceGraph,
    base: str,
    target: ExposureTarget,
    markets: Markets,
    hedge_into: Sequence[str] | None = None,
) -> HedgePlan:
    """Market orders that bring every non-base currency's weight inside `target`.

    Currencies are taken in alphabetical order, each against the balances projected after
    the proposals before it. A currency that must shrink is sold (or, where it is a market's
    quote, spent buying the hedge currency) on venues that hold it; one that must grow is
    bought with a hedge currency the venue holds. `hedge_into` lists the currencies to hedge
    into, preferred first (default: the base alone). See the module docstring for the sizing.
    """
    if base in target.weights:
        raise ConfigError(f"exposure target weights[{base}]: the base currency is the residual")
    hedge_into = tuple(hedge_into or (base,))
    before = currency_exposures(balances, prices, base)
    projected = {venue: dict(currencies) for venue, currencies in balances.items()}
    proposals: list[HedgeProposal] = []
    skipped: list[SkippedHedge] = []
    for currency in sorted(set(before.exposures) | set(target.weights)):
        if currency == base:
            continue
        report = currency_exposures(projected, prices, base)
        exposure = report.exposures.get(currency)
        weight = exposure.weight if exposure is not None else ZERO
        goal = target.goal(currency, weight)
        if goal is None:
            continue
        value = exposure.value if exposure is not None else ZERO
        gap = goal * report.equity - value
        direction = 1 if gap > 0 else -1
        reason = f"{currency} weight {weight:.6f} of equity, target {goal}"
        for venue, market in _candidates(projected, markets, currency, hedge_into, gap < 0):
            if gap * direction <= 0:
                break
            legs = _leg(projected[venue], prices, base, currency, market, gap, goal)
            if legs is None:
                continue
            amount, side, price, moved, fee = legs
            symbol = market["symbol"]
            too_small = _below_limits(market, amount, price)
            if too_small is not None:
                skipped.append(SkippedHedge(venue, symbol, currency, amount, too_small))
                continue
            proposal = HedgeProposal(venue, symbol, side, amount, price, currency, moved, reason)
            proposals.append(proposal)
            _book(projected, proposal, fee)
            gap -= moved + goal * fee * abs(moved)
    after = currency_exposures(projected, prices, base)
    return HedgePlan(before, tuple(proposals), tuple(skipped), after)


def _leg(
    held: Mapping[str, Decimal],
    prices: PriceGraph,
    base: str,
    currency: str,
    market: Mapping[str, Any],
    gap: Decimal,
    goal: Decimal,
) -> tuple[Decimal, Side, Decimal, Decimal, Decimal] | None:
    """(amount, side, price, value moved into `currency`, fee) of one leg on `market`, or None
    when the venue's balance pays for less than one step.

    Market ``X/Y`` at graph price ``q``: one unit of X moves the value of 1 X when the
    currency is X, and the value of ``q`` units of Y when it is Y.
    """
    base_ccy, quote_ccy = market["base"], market["quote"]
    price = prices.rate(base_ccy, quote_ccy)
    fee = _decimal(market.get("taker") or 0)
    step = _decimal(market["precision"]["amount"])
    # one division at most per conversion, so e.g. 60000 USDT -> BTC at 60000 is exactly 1
    unit_value = prices.convert(Decimal(1) if currency == base_ccy else price, currency, base)
    need = gap / (1 + goal * fee * (1 if gap > 0 else -1))
    amount = _snap(abs(need) / unit_value, step, ROUND_CEILING)
    # shrinking the market's base currency, or growing its quote currency, is a sale
    selling = (currency == base_ccy) == (gap < 0)
    spendable = held.get(base_ccy, ZERO) if selling else held.get(quote_ccy, ZERO)
    cap = spendable if selling else spendable / (price * (1 + fee))
    amount = min(amount, _snap(cap, step, ROUND_FLOOR))
    if amount <= 0:
        return None
    moved = amount * unit_value * (1 if gap > 0 else -1)
    return amount, Side.SELL if selling else Side.BUY, price, moved, fee


def _below_limits(market: Mapping[str, Any], amount: Decimal, price: Decimal) -> str | None:
    min_amount, min_cost = _market_limit(market, "amount"), _market_limit(market, "cost")
    if min_amount is not None and amount < min_amount:
        return f"amount {amount} below the minimum {min_amount} of {market['symbol']}"
    if min_cost is not None and amount * price < min_cost:
        return f"notional {amount * price} below the minimum {min_cost} of {market['symbol']}"
    return None


def place_hedges(
    proposals: Sequence[HedgeProposal], manager: OrderManager, strategy: str = "hedge"
) -> list[Order]:
    """Submit each proposal as a market order through the OMS (its graph price as the
    reference price for the pre-trade checks); the orders in their resulting status."""
    orders = []
    for proposal in proposals:
        order = manager.new_order(
            proposal.venue,
            proposal.symbol,
            proposal.side,
            OrderType.MARKET,
            proposal.amount,
            strategy=strategy,
        )
        orders.append(manager.submit(order, reference_price=proposal.price))
    return orders
