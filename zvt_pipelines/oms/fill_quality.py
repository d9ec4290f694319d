"""Execution quality per order (slippage, fill rate, latency, cost) and summaries per strategy or venue.

Sign convention: slippage and cost are positive when the execution was worse for the trader than
the benchmark -- a buy filled above it, a sell filled below it:

    slippage_bps = side.sign * (average fill price - benchmark) / benchmark * 10_000

The benchmarks are the arrival price (the mid when the order was decided) and the market's VWAP
over the order's life. `total_cost` is the implementation shortfall against arrival plus fees,
in the quote currency: `side.sign * (average price - arrival) * filled + fees`. Fees in the base
currency are valued at their fill's price; fees in any other currency are not counted (convert
them first). Per-order figures are Decimal; the summary frames are float64 analytics.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from decimal import Decimal, localcontext

import pandas as pd

from zvt_pipelines.errors import InvalidOrder
from zvt_pipelines.model.instrument import symbol_currencies
from zvt_pipelines.model.money import MONEY_CONTEXT, decimal_from_float
from zvt_pipelines.model.orders import Fill, Side

ZERO = Decimal(0)
BPS = Decimal(10_000)


@dataclass(frozen=True)
class OrderExecution:
    """What is known of one order after the fact: intent, benchmarks and its fills."""

    client_order_id: str
    strategy: str
    venue: str
    symbol: str
    side: Side
    amount: Decimal
    arrival_price: Decimal
    submitted_at: datetime
    fills: tuple[Fill, ...]
    interval_vwap: Decimal | None = None


@dataclass(frozen=True)
class OrderQuality:
    """Execution quality of one order; price-based figures are None when nothing filled."""

    client_order_id: str
    strategy: str
    venue: str
    symbol: str
    side: Side
    requested: Decimal
    filled: Decimal
    fill_rate: Decimal
    average_price: Decimal | None
    arrival_price: Decimal
    slippage_arrival_bps: Decimal | None
    interval_vwap: Decimal | None
    slippage_vwap_bps: Decimal | None
    first_fill_latency: timedelta | None
    last_fill_latency: timedelta | None
    fees: Decimal
    total_cost: Decimal


def slippage_bps(side: Side, price: Decimal, benchmark: Decimal) -> Decimal:
    """Signed slippage of `price` against `benchmark` in basis points; positive = worse."""
    if benchmark <= 0:
        raise InvalidOrder(f"slippage benchmark {benchmark}: must be positive")
    with localcontext(MONEY_CONTEXT):
        return Side(side).sign * (price - benchmark) / benchmark * BPS


def fee_in_quote(fill: Fill) -> Decimal:
    """The fill's fee in its quote currency (base fees at the fill price; others count 0)."""
    base, quote = symbol_currencies(fill.symbol)
    if fill.fee_currency == quote:
        return fill.fee
    if fill.fee_currency == base:
        return fill.fee * fill.price
    return ZERO


def order_quality(execution: OrderExecution) -> OrderQuality:
    """Slippage vs arrival and interval VWAP, fill rate, latency, fees and total cost of one order."""
    if execution.amount <= 0:
        raise InvalidOrder(
            f"order {execution.client_order_id}: amount {execution.amount} must be positive"
        )
    for fill in execution.fills:
        if fill.client_order_id != execution.client_order_id:
            raise InvalidOrder(
                f"fill {fill.execution_id} belongs to {fill.client_order_id}, not {execution.client_order_id}"
            )
    side = Side(execution.side)
    with localcontext(MONEY_CONTEXT):
        filled = sum((f.amount for f in execution.fills), ZERO)
        notional = sum((f.amount * f.price for f in execution.fills), ZERO)
        fees = sum((fee_in_quote(f) for f in execution.fills), ZERO)
        average = notional / filled if filled else None
        times = sorted(f.timestamp for f in execution.fills)
        vwap = execution.interval_vwap
        return OrderQuality(
            client_order_id=execution.client_order_id,
            strategy=execution.strategy,
            venue=execution.venue,
            symbol=execution.symbol,
            side=side,
            requested=execution.amount,
            filled=filled,
            fill_rate=filled / execution.amount,
            average_price=average,
            arrival_price=execution.arrival_price,
            slippage_arrival_bps=(
                None if average is None else slippage_bps(side, average, execution.arrival_price)
            ),
            interval_vwap=vwap,
            slippage_vwap_bps=(
                None if average is None or vwap is None else slippage_bps(side, average, vwap)
            ),
            first_fill_latency=times[0] - execution.submitted_at if times else None,
            last_fill_latency=times[-1] - execution.submitted_at if times else None,
            fees=fees,
            total_cost=side.sign * (notional - execution.arrival_price * filled) + fees,
        )


def interval_vwap(candles: pd.DataFrame, start: datetime, end: datetime) -> Decimal | None:
    """Market VWAP over candles opening in [start, end), priced at the typical price (h+l+c)/3.

    None when those candles have no volume. Candle frames are float64; the result is the Decimal
    of the float.
    """
    window = candles[(candles["ts"] >= start) & (candles["ts"] < end)]
    volume = float(window["volume"].sum())
    if volume <= 0:
        return None
    typical = (window["high"] + window["low"] + window["close"]) / 3
    return decimal_from_float((typical * window["volume"]).sum() / volume)


def quality_frame(qualities: Iterable[OrderQuality]) -> pd.DataFrame:
    """One row per order: the OrderQuality fields as float64 (latencies in seconds)."""
    rows = []
    for quality in qualities:
        row = asdict(quality)
        row["side"] = str(quality.side)
        for name in ("first_fill_latency", "last_fill_latency"):
            row[name] = None if row[name] is None else row[name].total_seconds()
        for name, value in row.items():
            if isinstance(value, Decimal):
                row[name] = float(value)
            elif value is None:
                row[name] = float("nan")
        average = quality.average_price or ZERO
        row["filled_notional"] = float(quality.filled * average)
        rows.append(row)
    return pd.DataFrame(rows)


def summarise(frame: pd.DataFrame, by: str = "strategy") -> pd.DataFrame:
    """Aggregate a `quality_frame` per strategy or venue.

    Slippages are weighted by filled notional (orders with no fill carry no weight; NaN when a
    group filled nothing); fill rate is the mean over orders; latency the median first-fill latency.
    """
    if by not in ("strategy", "venue"):
        raise InvalidOrder(f"summarise by {by!r}: use 'strategy' or 'venue'")

    def weighted(group: pd.DataFrame, column: str) -> float:
        usable = group[group[column].notna()]
        weight = usable["filled_notional"].sum()
        return (
            float((usable[column] * usable["filled_notional"]).sum() / weight)
            if weight
            else float("nan")
        )

    summary = []
    for key, group in frame.groupby(by, sort=True):
        summary.append(
            {
                by: key,
                "orders": len(group),
                "filled_notional": float(group["filled_notional"].sum()),
                "fill_rate": float(group["fill_rate"].mean()),
                "slippage_arrival_bps": weighted(group, "slippage_arrival_bps"),
                "slippage_vwap_bps": weighted(group, "slippage_vwap_bps"),
                "median_latency_s": float(group["first_fill_latency"].median()),
                "fees": float(group["fees"].sum()),
                "total_cost": float(group["total_cost"].sum()),
            }
        )
    return pd.DataFrame(summary).set_index(by)
