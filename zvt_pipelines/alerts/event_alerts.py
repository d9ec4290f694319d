"""Order-execution and system-error alerts built from plain event data."""

from __future__ import annotations

from datetime import datetime

from zvt_pipelines.alerts.alert import Alert, AlertType, Severity
from zvt_pipelines.errors import AlertConfigError


def order_filled(
    client_order_id: str, symbol: str, side: str, amount: float, price: float, at: datetime
) -> Alert:
    """An order filled completely."""
    return Alert(
        type=AlertType.ORDER_EXECUTION,
        severity=Severity.INFO,
        title=f"{side} {amount:g} {symbol} filled at {price:g}",
        body=f"Order {client_order_id} ({side} {amount:g} {symbol}) filled at {price:g}.",
        at=at,
        condition=f"filled/{client_order_id}",
        instrument=symbol,
        value=price,
        fields={"client_order_id": client_order_id, "side": side, "amount": amount},
    )


def order_partially_filled(
    client_order_id: str,
    symbol: str,
    side: str,
    filled: float,
    amount: float,
    price: float,
    at: datetime,
) -> Alert:
    """Part of an order filled; the condition carries the filled amount so each step is kept."""
    return Alert(
        type=AlertType.ORDER_EXECUTION,
        severity=Severity.INFO,
        title=f"{side} {symbol} partially filled {filled:g}/{amount:g}",
        body=f"Order {client_order_id}: {filled:g} of {amount:g} {symbol} filled, last at {price:g}.",
        at=at,
        condition=f"partial/{client_order_id}/{filled:g}",
        instrument=symbol,
        value=filled,
        threshold=amount,
        fields={"client_order_id": client_order_id, "side": side},
    )


def order_rejected(client_order_id: str, symbol: str, reason: str, at: datetime) -> Alert:
    """The venue or risk checks rejected an order."""
    return Alert(
        type=AlertType.ORDER_EXECUTION,
        severity=Severity.HIGH,
        title=f"order {client_order_id} on {symbol} rejected",
        body=f"Order {client_order_id} ({symbol}) was rejected: {reason}",
        at=at,
        condition=f"rejected/{client_order_id}",
        instrument=symbol,
        fields={"client_order_id": client_order_id, "reason": reason},
    )


def slippage_alert(
    client_order_id: str,
    symbol: str,
    side: str,
    expected_price: float,
    fill_price: float,
    at: datetime,
    *,
    limit_bps: float = 50.0,
) -> Alert | None:
    """The fill was worse than expected by more than `limit_bps` basis points (None if not)."""
    if expected_price <= 0:
        raise AlertConfigError(f"expected price {expected_price!r}: must be positive")
    if side not in ("buy", "sell"):
        raise AlertConfigError(f"side {side!r}: expected 'buy' or 'sell'")
    direction = 1.0 if side == "buy" else -1.0
    slippage_bps = direction * (fill_price - expected_price) / expected_price * 10_000
    if slippage_bps <= limit_bps:
        return None
    return Alert(
        type=AlertType.ORDER_EXECUTION,
        severity=Severity.HIGH if slippage_bps > 2 * limit_bps else Severity.WARNING,
        title=f"slippage {slippage_bps:.0f} bps on {side} {symbol}",
        body=f"Order {client_order_id} expected {expected_price:g}, filled {fill_price:g} "
        f"({slippage_bps:.1f} bps adverse; limit {limit_bps:g}).",
        at=at,
        condition=f"slippage/{client_order_id}",
        instrument=symbol,
        value=slippage_bps,
        threshold=limit_bps,
        fields={"client_order_id": client_order_id, "side": side},
    )


def system_error(
    source: str,
    message: str,
    at: datetime,
    *,
    run_id: str | None = None,
    link: str | None = None,
    severity: Severity = Severity.CRITICAL,
) -> Alert:
    """A job, sensor or service failed; `run_id` and `link` point at the failed run."""
    fields = {"source": source}
    if run_id:
        fields["run_id"] = run_id
    if link:
        fields["link"] = link
    body = f"{source} failed: {message}"
    if link:
        body += f"\n{link}"
    return Alert(
        type=AlertType.SYSTEM_ERROR,
        severity=severity,
        title=f"{source} failed" + (f" (run {run_id})" if run_id else ""),
        body=body,
        at=at,
        condition=f"error/{source}/{run_id or message[:80]}",
        fields=fields,
    )
