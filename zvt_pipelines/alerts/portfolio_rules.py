"""Portfolio-health alerts from plain numbers, so any portfolio code can feed them.

Each function returns an Alert when its limit is breached, else None. A `warn` limit gives
WARNING severity, the `critical` limit CRITICAL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from zvt_pipelines.alerts.alert import Alert, AlertType, Severity
from zvt_pipelines.errors import AlertConfigError


def _level(value: float, warn: float, critical: float) -> Severity | None:
    if not 0 < warn <= critical:
        raise AlertConfigError(
            f"limits warn={warn!r}, critical={critical!r}: need 0 < warn <= critical"
        )
    if value >= critical:
        return Severity.CRITICAL
    if value >= warn:
        return Severity.WARNING
    return None


def _limit_alert(
    kind: str,
    value: float,
    at: datetime,
    warn: float,
    critical: float,
    describe: Callable[[float], tuple[str, str]],
    **extra: Any,
) -> Alert | None:
    """A PORTFOLIO_RISK alert when `value` reaches a limit; `describe(limit)` gives its
    title and body. The condition is `<kind>/<severity>`, so a rise to critical is new."""
    severity = _level(value, warn, critical)
    if severity is None:
        return None
    limit = critical if severity is Severity.CRITICAL else warn
    title, body = describe(limit)
    return Alert(
        type=AlertType.PORTFOLIO_RISK,
        severity=severity,
        title=title,
        body=body,
        at=at,
        condition=f"{kind}/{severity.name.lower()}",
        value=value,
        threshold=limit,
        **extra,
    )


def drawdown_alert(
    equity: float,
    peak_equity: float,
    at: datetime,
    *,
    warn: float = 0.10,
    critical: float = 0.20,
    scope: str = "portfolio",
) -> Alert | None:
    """Equity has fallen `warn` / `critical` (fractions) below its running peak."""
    if peak_equity <= 0:
        raise AlertConfigError(f"peak equity {peak_equity!r}: must be positive")
    drawdown = 1.0 - equity / peak_equity
    return _limit_alert(
        "drawdown",
        drawdown,
        at,
        warn,
        critical,
        lambda limit: (
            f"{scope} drawdown {drawdown:.1%}",
            f"{scope} equity {equity:,.2f} is {drawdown:.2%} below its peak {peak_equity:,.2f} "
            f"(limit {limit:.0%}).",
        ),
        instrument=None,
        fields={"scope": scope, "equity": equity, "peak": peak_equity},
    )


def concentration_alert(
    weights: Mapping[str, float],
    at: datetime,
    *,
    warn: float = 0.25,
    critical: float = 0.40,
    total: float | None = None,
) -> list[Alert]:
    """One alert per instrument whose share of the portfolio exceeds the limit.

    `weights` are exposures (any unit, signed); shares are |w| / `total` (e.g. equity, so cash
    counts), or |w| / sum |w| (gross exposure) when `total` is None.
    """
    gross = sum(abs(w) for w in weights.values())
    basis = gross if total is None else total
    if basis <= 0 or gross == 0:
        return []
    basis_name = "gross exposure" if total is None else "equity"
    alerts = []
    for instrument, weight in sorted(weights.items()):
        share = abs(weight) / basis
        alert = _limit_alert(
            "concentration",
            share,
            at,
            warn,
            critical,
            lambda limit, instrument=instrument, share=share: (
                f"{instrument} is {share:.1%} of the portfolio",
                f"{instrument} holds {share:.2%} of {basis_name} (limit {limit:.0%}).",
            ),
            instrument=instrument,
            positions=(instrument,),
            fields={"gross_exposure": gross, "basis": basis_name, "basis_value": basis},
        )
        if alert is not None:
            alerts.append(alert)
    return alerts


def leverage_alert(
    gross_exposure: float, equity: float, at: datetime, *, warn: float = 2.0, critical: float = 3.0
) -> Alert | None:
    """Gross exposure divided by equity exceeds the leverage limit (no equity is critical)."""
    leverage = float("inf") if equity <= 0 else gross_exposure / equity
    return _limit_alert(
        "leverage",
        leverage,
        at,
        warn,
        critical,
        lambda limit: (
            f"leverage {leverage:.2f}x",
            f"Gross exposure {gross_exposure:,.2f} on equity {equity:,.2f} is {leverage:.2f}x "
            f"(limit {limit:g}x).",
        ),
    )


def margin_alert(
    margin_used: float,
    margin_available: float,
    at: datetime,
    *,
    warn: float = 0.7,
    critical: float = 0.9,
) -> Alert | None:
    """Margin utilisation (used / (used + available)) exceeds the limit."""
    total = margin_used + margin_available
    utilisation = 1.0 if total <= 0 else margin_used / total
    return _limit_alert(
        "margin",
        utilisation,
        at,
        warn,
        critical,
        lambda limit: (
            f"margin utilisation {utilisation:.0%}",
            f"Margin used {margin_used:,.2f} of {total:,.2f} ({utilisation:.1%}; limit {limit:.0%}).",
        ),
    )


def underperformance_alert(
    strategy: str,
    strategy_return: float,
    benchmark_return: float,
    at: datetime,
    *,
    tolerance: float = 0.05,
    window: str = "30d",
) -> Alert | None:
    """The strategy trails its benchmark by more than `tolerance` over `window`."""
    gap = benchmark_return - strategy_return
    if gap <= tolerance:
        return None
    return Alert(
        type=AlertType.PORTFOLIO_RISK,
        severity=Severity.WARNING,
        title=f"strategy {strategy} trails its benchmark by {gap:.1%}",
        body=f"Over {window}, {strategy} returned {strategy_return:+.2%} against the benchmark's "
        f"{benchmark_return:+.2%} (tolerance {tolerance:.0%}).",
        at=at,
        condition=f"underperformance/{strategy}/{window}",
        value=-gap,
        threshold=-tolerance,
        fields={"strategy": strategy, "window": window},
    )
