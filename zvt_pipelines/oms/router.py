"""Smart order router: where to send an order across N venues, from their books, fees and balances.

For each venue the router reads the market (taker fee, amount step, min amount, min notional),
the order book and the free balance (quote for a buy, base for a sell), and prices every level
fee-included: a buy pays `price * (1 + taker)`, a sell receives `price * (1 - taker)`. It then
compares the cheapest single venue that can take the whole order with a split, built by a greedy
merge of all venues' levels from the best fee-adjusted price down, then rounded to each venue's
amount step and checked against its min amount and min notional (a venue whose share breaks a
minimum is dropped and the split recomputed). The cheaper of the two wins; ties go to one venue.
Every decision comes with a `RoutingReport` that says what each venue would cost and why any
venue was left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, localcontext

from zvt_pipelines.errors import InvalidOrder, NoRoute, VenueError
from zvt_pipelines.model.money import MONEY_CONTEXT, to_decimal
from zvt_pipelines.model.orders import Side
from zvt_pipelines.oms.sizing import TICK_SIZE, VenueRules, floor_to_step, market_rules
from zvt_pipelines.venues.base import Venue

ZERO = Decimal(0)


@dataclass(frozen=True)
class Level:
    """One order-book level of one venue, with its fee-adjusted price."""

    venue: str
    price: Decimal
    amount: Decimal
    effective_price: Decimal


@dataclass(frozen=True)
class Allocation:
    """The part of the order sent to one venue and what it is expected to cost.

    `total` is the quote paid fee included (buy) or received net of fees (sell); `worst_price`
    is the deepest level touched, a natural limit price for the child order.
    """

    venue: str
    amount: Decimal
    average_price: Decimal
    fee: Decimal
    total: Decimal
    worst_price: Decimal

    @property
    def effective_price(self) -> Decimal:
        """Total per unit, fee included."""
        return self.total / self.amount


@dataclass(frozen=True)
class VenueQuote:
    """One venue on its own: how much of the order it could take (depth, balance) and at what."""

    venue: str
    taker_fee: Decimal
    fillable: Decimal
    fill: Allocation | None
    can_fill_alone: bool
    limited_by: str | None


@dataclass(frozen=True)
class RoutingReport:
    """A routing decision: every venue considered, the ones excluded (and why), the chosen plan.

    `quotes` has each usable venue on its own; `excluded` the venues that could not be used at all
    (symbol not listed, no balance, empty book, venue error); `dropped_from_split` the venues whose
    share of a split broke their min amount or min notional. `decision` is 'single', 'split',
    'partial' (not all of the amount could be placed; see `unallocated`) or 'none'.
    """

    symbol: str
    side: Side
    amount: Decimal
    limit_price: Decimal | None
    quotes: dict[str, VenueQuote]
    excluded: dict[str, str]
    allocations: tuple[Allocation, ...]
    decision: str
    unallocated: Decimal
    single_venue_best: str | None
    dropped_from_split: dict[str, str]

    @property
    def expected_total(self) -> Decimal:
        """Quote paid (buy) or received (sell) over all allocations, fees included."""
        return sum((a.total for a in self.allocations), ZERO)

    @property
    def expected_average_price(self) -> Decimal | None:
        """Fee-inclusive average price of the allocated amount."""
        filled = sum((a.amount for a in self.allocations), ZERO)
        return self.expected_total / filled if filled else None


@dataclass
class _Book:
    venue: str
    rules: VenueRules
    levels: list[Level]
    budget: Decimal  # free quote (buy) or base (sell)


def walk(book: _Book, side: Side, amount: Decimal) -> tuple[Decimal, Allocation | None, str | None]:
    """Take up to `amount` from the venue's levels within its balance.

    Returns the amount taken, its allocation, and what stopped it short ('depth' or 'balance').
    """
    taken, notional, fee, worst = ZERO, ZERO, ZERO, ZERO
    budget = book.budget
    limited_by = None
    for level in book.levels:
        if taken == amount:
            break
        want = min(level.amount, amount - taken)
        # a buy spends quote (fee included), a sell spends base
        cost_per_unit = level.effective_price if side is Side.BUY else Decimal(1)
        affordable = budget / cost_per_unit
        if affordable < want:
            want, limited_by = affordable, "balance"
        if want <= 0:
            break
        taken += want
        notional += level.price * want
        fee += level.price * want * book.rules.taker_fee
        budget -= want * cost_per_unit
        worst = level.price
        if limited_by:
            break
    if taken < amount and limited_by is None:
        limited_by = "depth"
    if taken == 0:
        return ZERO, None, limited_by
    total = notional + fee if side is Side.BUY else notional - fee
    return taken, Allocation(book.venue, taken, notional / taken, fee, total, worst), limited_by


def _better(side: Side, a: Decimal, b: Decimal) -> bool:
    """True when total `a` is strictly better than `b` for the trader."""
    return a < b if side is Side.BUY else a > b


class SmartOrderRouter:
    """Routes orders over a set of venues (ccxt unified API), reading books, fees and balances."""

    def __init__(self, venues: Mapping[str, Venue], book_depth: int | None = 50) -> None:
        if not venues:
            raise InvalidOrder("router needs at least one venue")
        self.venues = dict(venues)
        self.book_depth = book_depth

    def route(
        self, symbol: str, side: Side, amount: Decimal, limit_price: Decimal | None = None
    ) -> RoutingReport:
        """Plan the order; raise NoRoute (with the report) when no venue can take any of it."""
        if amount <= 0:
            raise InvalidOrder(f"route amount {amount}: must be positive")
        side = Side(side)
        with localcontext(MONEY_CONTEXT):
            return self._route(symbol, side, amount, limit_price)

    def _route(
        self, symbol: str, side: Side, amount: Decimal, limit_price: Decimal | None
    ) -> RoutingReport:
        excluded: dict[str, str] = {}
        books: dict[str, _Book] = {}
        for name, venue in self.venues.items():
            try:
                book = self._read(name, venue, symbol, side, limit_price)
            except (VenueError, InvalidOrder) as exc:
                excluded[name] = f"venue error: {exc}"
                continue
            if isinstance(book, str):
                excluded[name] = book
            else:
                books[name] = book

        quotes = {name: self._quote(book, side, amount) for name, book in books.items()}
        alone = [q for q in quotes.values() if q.can_fill_alone and q.fill is not None]
        single = None
        for quote in alone:
            if single is None or _better(side, quote.fill.total, quotes[single].fill.total):
                single = quote.venue

        split, dropped = self._split(books, side, amount)
        split_complete = sum((a.amount for a in split), ZERO) == amount
        split_total = sum((a.total for a in split), ZERO)
        if single is not None and not (
            len(split) > 1
            and split_complete
            and _better(side, split_total, quotes[single].fill.total)
        ):
            allocations, decision = (quotes[single].fill,), "single"
        elif split:
            allocations = tuple(split)
            decision = "partial" if not split_complete else "split" if len(split) > 1 else "single"
        else:
            allocations, decision = (), "none"
        report = RoutingReport(
            symbol=symbol,
            side=side,
            amount=amount,
            limit_price=limit_price,
            quotes=quotes,
            excluded=excluded,
            allocations=allocations,
            decision=decision,
            unallocated=amount - sum((a.amount for a in allocations), ZERO),
            single_venue_best=single,
            dropped_from_split=dropped,
        )
        if not allocations:
            raise NoRoute(
                f"no venue can take any of {side} {amount} {symbol}: "
                + "; ".join(f"{k}: {v}" for k, v in excluded.items()),
                report,
            )
        return report

    def _read(
        self, name: str, venue: Venue, symbol: str, side: Side, limit_price: Decimal | None
    ) -> _Book | str:
        """The venue's fee-adjusted levels and budget, or the reason it cannot be used."""
        market = venue.load_markets().get(symbol)
        if market is None:
            return "symbol not listed"
        rules = market_rules(market, getattr(venue, "precisionMode", TICK_SIZE))
        base, quote = market.get("base"), market.get("quote")
        if base is None or quote is None:
            base, _, rest = symbol.partition("/")
            quote = rest.partition(":")[0]
        free = venue.fetch_balance().get("free") or {}
        budget = to_decimal(free.get(quote if side is Side.BUY else base) or 0)
        if budget <= 0:
            return f"insufficient balance: no free {quote if side is Side.BUY else base}"
        raw = venue.fetch_order_book(symbol, self.book_depth).get(
            "asks" if side is Side.BUY else "bids"
        )
        if not raw:
            return "empty book side"
        factor = 1 + rules.taker_fee if side is Side.BUY else 1 - rules.taker_fee
        levels = []
        for row in raw:
            price, size = to_decimal(row[0]), to_decimal(row[1])
            if limit_price is not None and (
                price > limit_price if side is Side.BUY else price < limit_price
            ):
                break
            if size > 0:
                levels.append(Level(name, price, size, price * factor))
        if not levels:
            return f"no level within limit price {limit_price}"
        return _Book(name, rules, levels, budget)

    def _quote(self, book: _Book, side: Side, amount: Decimal) -> VenueQuote:
        """The venue alone: its fillable amount (on its step) and the cost of that amount."""
        rules = book.rules
        taken, _, limited_by = walk(book, side, amount)
        fillable = floor_to_step(taken, rules.amount_step)
        fill = walk(book, side, fillable)[1] if fillable > 0 else None
        if fill is not None and (
            fillable < rules.min_amount or fill.average_price * fillable < rules.min_notional
        ):
            fill, limited_by = None, "minimum"
        return VenueQuote(
            book.venue,
            rules.taker_fee,
            fillable,
            fill,
            fillable == amount and fill is not None,
            limited_by,
        )

    def _split(
        self, books: dict[str, _Book], side: Side, amount: Decimal
    ) -> tuple[list[Allocation], dict[str, str]]:
        """Greedy merge of the venues' levels, rounded to steps and checked against minimums."""
        active = dict(books)
        dropped: dict[str, str] = {}
        while active:
            shares = self._greedy(active, side, amount)
            self._round_and_top_up(active, side, amount, shares)
            breaking = {}
            for name, share in shares.items():
                if share <= 0:
                    continue
                rules = active[name].rules
                alloc = walk(active[name], side, share)[1]
                if share < rules.min_amount:
                    breaking[name] = f"below min amount: share {share} < {rules.min_amount}"
                elif alloc.average_price * share < rules.min_notional:
                    breaking[name] = (
                        f"below min notional: share {share} worth "
                        f"{alloc.average_price * share} < {rules.min_notional}"
                    )
            if not breaking:
                allocations = [
                    walk(active[name], side, share)[1]
                    for name, share in shares.items()
                    if share > 0
                ]
                return sorted(allocations, key=lambda a: a.venue), dropped
            for name, reason in breaking.items():
                dropped[name] = reason
                del active[name]
        return [], dropped

    @staticmethod
    def _greedy(active: dict[str, _Book], side: Side, amount: Decimal) -> dict[str, Decimal]:
        """Unrounded shares: fill from the best fee-adjusted level of any venue, within balances."""
        levels = sorted(
            (level for book in active.values() for level in book.levels),
            key=lambda level: level.effective_price,
            reverse=side is Side.SELL,
        )
        budget = {name: book.budget for name, book in active.items()}
        shares = dict.fromkeys(active, ZERO)
        remaining = amount
        for level in levels:
            if remaining == 0:
                break
            unit = level.effective_price if side is Side.BUY else Decimal(1)
            take = min(level.amount, remaining, budget[level.venue] / unit)
            if take <= 0:
                continue
            shares[level.venue] += take
            budget[level.venue] -= take * unit
            remaining -= take
        return shares

    @staticmethod
    def _round_and_top_up(
        active: dict[str, _Book], side: Side, amount: Decimal, shares: dict[str, Decimal]
    ) -> None:
        """Round shares down to each venue's step, then give the rounding remainder, in whole
        steps, to the venues with the best next price that still have depth and balance."""
        capacity = {}
        for name, book in active.items():
            shares[name] = floor_to_step(shares[name], book.rules.amount_step)
            capacity[name] = floor_to_step(walk(book, side, amount)[0], book.rules.amount_step)

        def next_price(name: str) -> Decimal:
            depth = ZERO
            for level in active[name].levels:
                depth += level.amount
                if depth > shares[name]:
                    return level.effective_price
            return active[name].levels[-1].effective_price

        remaining = amount - sum(shares.values(), ZERO)
        order = sorted(active, key=next_price, reverse=side is Side.SELL)
        for name in order:
            if remaining <= 0:
                break
            extra = floor_to_step(
                min(remaining, capacity[name] - shares[name]), active[name].rules.amount_step
            )
            if extra > 0:
                shares[name] += extra
                remaining -= extra
