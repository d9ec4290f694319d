"""A strategy's paper accounts, rebuilt from the fills in the database.

Each strategy trades from its own account on every venue it uses, funded with
`capital` in the quote currency of its first instrument there. Balances are never
stored: they are the capital plus the signed sum of the strategy's fills, so they can
never disagree with `crypto_executions`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa

from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.model.orders import Fill, Liquidity, Side
from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.models import CryptoExecution, CryptoOrder

ZERO = Decimal(0)


def strategy_fills(db: Database, strategy: str, before: datetime | None = None) -> list[Fill]:
    """Every fill of the strategy's orders (optionally only those before `before`), oldest first."""
    query = (
        sa.select(CryptoExecution)
        .join(CryptoOrder, CryptoOrder.client_order_id == CryptoExecution.client_order_id)
        .where(CryptoOrder.strategy == strategy)
        .order_by(CryptoExecution.executed_at, CryptoExecution.id)
    )
    if before is not None:
        query = query.where(CryptoExecution.executed_at < before)
    with db.transaction() as session:
        rows = session.scalars(query).all()
        return [
            Fill(
                execution_id=row.execution_id,
                client_order_id=row.client_order_id,
                venue=row.venue,
                symbol=row.symbol,
                side=Side(row.side),
                amount=row.amount,
                price=row.price,
                fee=row.fee,
                fee_currency=row.fee_currency or row.symbol.split("/")[1].split(":")[0],
                liquidity=Liquidity(row.liquidity or "taker"),
                timestamp=row.executed_at,
            )
            for row in rows
        ]


def starting_balances(
    instruments: list[InstrumentId], capital: Decimal
) -> dict[str, dict[str, Decimal]]:
    """`capital` in the quote currency of the first instrument on each venue."""
    balances: dict[str, dict[str, Decimal]] = {}
    for instrument in instruments:
        balances.setdefault(instrument.venue, {instrument.quote: capital})
    return balances


def account_balances(
    instruments: list[InstrumentId], capital: Decimal, fills: list[Fill]
) -> dict[str, dict[str, Decimal]]:
    """Balances per venue and currency: starting capital plus every fill (fees included)."""
    balances: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for venue, start in starting_balances(instruments, capital).items():
        balances[venue].update(start)
    for fill in fills:
        base, quote = fill.symbol.split("/")[0], fill.symbol.split("/")[1].split(":")[0]
        account = balances[fill.venue]
        sign = fill.side.sign
        account[base] = account.get(base, ZERO) + sign * fill.amount
        account[quote] = account.get(quote, ZERO) - sign * fill.notional
        account[fill.fee_currency] = account.get(fill.fee_currency, ZERO) - fill.fee
    return {venue: dict(currencies) for venue, currencies in balances.items()}


def account_equity(
    balances: dict[str, dict[str, Decimal]], prices: dict[InstrumentId, Decimal]
) -> Decimal:
    """Value of all balances in quote currency: base holdings at the given prices.

    A currency with no price among `prices` (e.g. a fee paid in a third asset) counts as
    zero; the strategy's own instruments always have one.
    """
    by_venue_base = {(i.venue, i.base): (i.quote, p) for i, p in prices.items()}
    total = ZERO
    for venue, currencies in balances.items():
        quotes = {i.quote for i in prices if i.venue == venue}
        for currency, amount in currencies.items():
            if currency in quotes:
                total += amount
            elif (venue, currency) in by_venue_base:
                total += amount * by_venue_base[(venue, currency)][1]
    return total
