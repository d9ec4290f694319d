"""Risk-limit breaches of a portfolio report, each with a stable key.

A breach's key names the limit and the slice it applies to (``kind:scope:name``, e.g.
``drawdown:strategy:btc_sma``) and stays the same while the condition lasts, so a caller that
remembers the active keys can alert once when a breach appears (or grows more severe) and
again only after it has cleared. The thresholds reuse the rules of `alerts.portfolio_rules`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import pandas as pd

from zvt_pipelines.alerts import portfolio_rules
from zvt_pipelines.alerts.alert import Alert, AlertType, Severity
from zvt_pipelines.portfolio.book_loader import to_float
from zvt_pipelines.portfolio.overview import PortfolioReport
from zvt_pipelines.portfolio.performance_table import PORTFOLIO


@dataclass(frozen=True)
class RiskThresholds:
    """Limits as fractions (drawdown, shares, VaR of equity, return gap) or multiples (leverage).

    Concentration is each asset's exposure as a share of the portfolio's equity (cash
    included: 100 USDT of BTC in a 100,000 USDT book is 0.1 %, not 100 %); the underperformance
    benchmark is each strategy's equal-weight index of the assets it trades.
    """

    drawdown_warn: float = 0.10
    drawdown_critical: float = 0.20
    concentration_warn: float = 0.60
    concentration_critical: float = 0.90
    leverage_warn: float = 2.0
    leverage_critical: float = 3.0
    margin_warn: float = 0.7
    margin_critical: float = 0.9
    var_limit: float = 0.10
    underperformance_tolerance: float = 0.05
    underperformance_benchmark: str = "equal weight"


@dataclass(frozen=True)
class Breach:
    """One limit that is broken now: a stable key, how badly, and what to tell a human."""

    key: str
    severity: Severity
    value: float
    threshold: float
    title: str
    message: str

    def alert(self, at: datetime) -> Alert:
        """The breach as a portfolio-risk alert raised at `at` (the key is its condition)."""
        return Alert(
            type=AlertType.PORTFOLIO_RISK,
            severity=self.severity,
            title=self.title,
            body=self.message,
            at=at,
            condition=f"{self.key}/{self.severity.name.lower()}",
            value=self.value,
            threshold=self.threshold,
            fields={"breach": self.key},
        )


def _from_alert(key: str, alert: Alert | None) -> Breach | None:
    if alert is None:
        return None
    return Breach(key, alert.severity, alert.value, alert.threshold, alert.title, alert.body)


def peak_equity(equity: float, drawdown: float, capital: float) -> float:
    """The running peak behind a drawdown (``drawdown = equity / peak − 1``, so
    ``peak = equity / (1 + drawdown)``); after a total loss (drawdown −100 %, equity 0) the
    peak cannot be recovered from the ratio and the capital stands in for it."""
    if 1.0 + drawdown > 0:
        return equity / (1.0 + drawdown)
    return capital


def _drawdowns(
    performance: pd.DataFrame, at: datetime, limits: RiskThresholds
) -> list[Breach | None]:
    found = []
    for row in performance.itertuples(index=False):
        if row.scope not in ("strategy", "portfolio") or row.days == 0:
            continue
        if not math.isfinite(row.drawdown):
            continue
        equity = to_float(row.total_value)
        peak = peak_equity(equity, row.drawdown, to_float(row.capital))
        if peak <= 0:
            continue  # never had money: no drawdown to speak of
        alert = portfolio_rules.drawdown_alert(
            equity,
            peak,
            at,
            warn=limits.drawdown_warn,
            critical=limits.drawdown_critical,
            scope=f"{row.scope} {row.name}",
        )
        found.append(_from_alert(f"drawdown:{row.scope}:{row.name}", alert))
    return found


def _daily_losses(
    performance: pd.DataFrame, daily_loss_limits: Mapping[str, Decimal]
) -> list[Breach | None]:
    found = []
    for row in performance.itertuples(index=False):
        limit = daily_loss_limits.get(row.name) if row.scope == "strategy" else None
        if limit is None or row.daily_pnl > -limit:
            continue
        found.append(
            Breach(
                f"daily_loss:strategy:{row.name}",
                Severity.CRITICAL,
                to_float(row.daily_pnl),
                -to_float(limit),
                f"strategy {row.name} hit its daily loss limit",
                f"{row.name} lost {-row.daily_pnl:,.2f} today (limit {limit:,.2f}); "
                "its risk state halts new risk until the next day.",
            )
        )
    return found


def _risk(report: PortfolioReport, at: datetime, limits: RiskThresholds) -> list[Breach | None]:
    risk = report.risk
    found: list[Breach | None] = []
    for alert in portfolio_rules.concentration_alert(
        risk.exposures.to_dict(),
        at,
        warn=limits.concentration_warn,
        critical=limits.concentration_critical,
        total=risk.equity if risk.equity > 0 else None,
    ):
        found.append(_from_alert(f"concentration:asset:{alert.instrument}", alert))
    if risk.gross_exposure > 0:
        alert = portfolio_rules.leverage_alert(
            risk.gross_exposure,
            risk.equity,
            at,
            warn=limits.leverage_warn,
            critical=limits.leverage_critical,
        )
        found.append(_from_alert(f"leverage:portfolio:{PORTFOLIO}", alert))
    if risk.margin_used > 0:
        alert = portfolio_rules.margin_alert(
            risk.margin_used,
            max(risk.equity - risk.margin_used, 0.0),
            at,
            warn=limits.margin_warn,
            critical=limits.margin_critical,
        )
        found.append(_from_alert(f"margin:portfolio:{PORTFOLIO}", alert))
    var = risk.var_of("historical", 1)
    if risk.equity > 0 and var / risk.equity > limits.var_limit:
        share = var / risk.equity
        found.append(
            Breach(
                f"var:portfolio:{PORTFOLIO}",
                Severity.HIGH,
                share,
                limits.var_limit,
                f"1-day VaR is {share:.1%} of equity",
                f"Historical 1-day VaR {var:,.2f} on equity {risk.equity:,.2f} is {share:.2%} "
                f"(limit {limits.var_limit:.0%}).",
            )
        )
    return found


def _underperformance(
    attribution: pd.DataFrame, at: datetime, limits: RiskThresholds
) -> list[Breach | None]:
    rows = attribution.loc[attribution["benchmark"] == limits.underperformance_benchmark]
    return [
        _from_alert(
            f"underperformance:strategy:{row.strategy}",
            portfolio_rules.underperformance_alert(
                row.strategy,
                row.return_after_fees,
                row.benchmark_return,
                at,
                tolerance=limits.underperformance_tolerance,
                window=f"{row.periods} periods",
            ),
        )
        for row in rows.itertuples(index=False)
    ]


def evaluate_breaches(
    report: PortfolioReport,
    daily_loss_limits: Mapping[str, Decimal],
    at: datetime,
    thresholds: RiskThresholds | None = None,
) -> list[Breach]:
    """Every broken limit of `report`, sorted by key.

    Drawdown (strategies and portfolio, from their current drawdown), daily loss (each
    strategy's `daily_pnl` against its `daily_loss_limits` entry), concentration per asset,
    leverage, margin utilisation (leveraged positions only), historical 1-day VaR over equity,
    and each strategy's after-fee return trailing its benchmark by more than the tolerance.
    """
    limits = thresholds or RiskThresholds()
    found = [
        *_drawdowns(report.performance, at, limits),
        *_daily_losses(report.performance, daily_loss_limits),
        *_risk(report, at, limits),
        *_underperformance(report.attribution, at, limits),
    ]
    return sorted((b for b in found if b is not None), key=lambda b: b.key)


def new_breaches(
    breaches: list[Breach], active: Mapping[str, str]
) -> tuple[list[Breach], dict[str, str]]:
    """Which breaches to send given the active keys of the last check (key -> severity name).

    A breach is new when its key was not active or its severity rose; one that persists at
    the same or a lower severity is not. Returns (to send, the new active mapping).
    """
    to_send = [
        b for b in breaches if b.key not in active or Severity.parse(active[b.key]) < b.severity
    ]
    return to_send, {b.key: b.severity.name.lower() for b in breaches}
