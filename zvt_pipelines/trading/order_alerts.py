"""Alerts about a rebalance's orders: fills, partial fills, rejections and large slippage."""

from __future__ import annotations

from datetime import datetime

from zvt_pipelines.alerts.alert import Alert
from zvt_pipelines.alerts.event_alerts import (
    order_filled,
    order_partially_filled,
    order_rejected,
    slippage_alert,
)
from zvt_pipelines.trading.rebalance import ExecutionReport

SLIPPAGE_LIMIT_BPS = 50.0


def execution_alerts(
    report: ExecutionReport, slippage_limit_bps: float = SLIPPAGE_LIMIT_BPS
) -> list[Alert]:
    """One alert per order outcome worth hearing about, stamped with the rebalance time."""
    at: datetime = report.as_of.to_pydatetime()
    alerts: list[Alert] = []
    for order in report.orders:
        symbol, side, client_id = order["instrument"], str(order["side"]), order["client_order_id"]
        status = order["status"]
        if status in ("REJECTED", "EXPIRED"):
            alerts.append(order_rejected(client_id, symbol, order["reason"] or status.lower(), at))
            continue
        if not order["filled"]:
            continue
        price = float(order["average_price"])
        if order["filled"] < order["amount"]:
            alerts.append(
                order_partially_filled(
                    client_id,
                    symbol,
                    side,
                    float(order["filled"]),
                    float(order["amount"]),
                    price,
                    at,
                )
            )
        else:
            alerts.append(order_filled(client_id, symbol, side, float(order["amount"]), price, at))
        if order.get("arrival"):
            slipped = slippage_alert(
                client_id,
                symbol,
                side,
                float(order["arrival"]),
                price,
                at,
                limit_bps=slippage_limit_bps,
            )
            if slipped is not None:
                alerts.append(slipped)
    return alerts
