"""The risk sensor: after each positions update, evaluate the risk limits and alert new breaches.

Why a plain sensor polling `crypto_positions.updated_at`, not an asset sensor: the upstream
`strategy_positions` is dynamically partitioned and an `@asset_sensor` / multi-asset sensor
owns its cursor (the event-log id it last saw), while this sensor must remember its own state
between ticks: the positions version it last evaluated and the active breach keys. Polling the
table also catches every writer of positions (the Dagster rebalance, the CLI, a notebook) at
the cost of one `max()`/`count()` query per tick.

Cursor (JSON): ``{"positions": "<max updated_at>|<rows>", "active": {breach key: severity}}``.
A tick with an unchanged positions version does nothing. Otherwise every breach is evaluated;
those whose key was not active (or whose severity rose) go out once through the alert
dispatcher, raised at the positions time so a replayed tick is deduplicated by the alert
store; the active set becomes the current breaches, so a breach that clears and returns is
sent again. Each new version also requests one `portfolio_analytics` run (run key = version).

The portfolio is that of `portfolio.report.portfolio_entries` (a disabled strategy that never
traded is left out). A failing evaluation is stored and sent as a CRITICAL system alert and
then fails the tick (`sensors.guard`): a dead risk monitor is an outage.
"""

import json

import dagster as dg

from assets.portfolio import portfolio_analytics
from resources.alerting import AlertingResource
from resources.database import TradingDatabase
from resources.strategies import StrategiesResource
from sensors.guard import alert_on_failure
from zvt_pipelines.alerts.alert import Severity
from zvt_pipelines.portfolio.breaches import RiskThresholds, evaluate_breaches, new_breaches
from zvt_pipelines.portfolio.overview import build_report
from zvt_pipelines.storage.positions import positions_version


def check_breaches(
    cursor: str | None,
    database: TradingDatabase,
    strategies: StrategiesResource,
    alerting: AlertingResource,
    thresholds: RiskThresholds,
) -> tuple[str, str | None, list[str]]:
    """One evaluation: (new cursor, positions version if it changed, keys of breaches sent)."""
    state = json.loads(cursor) if cursor else {"positions": None, "active": {}}
    db = database.get()
    found = positions_version(db)
    if found is None or found[0] == state["positions"]:
        return json.dumps(state, sort_keys=True), None, []
    version, as_of = found
    entries = strategies.entries()
    report = build_report(db, entries, as_of)
    limits = {entry.name: entry.risk_limits.daily_loss_limit for entry in entries}
    breaches = evaluate_breaches(report, limits, as_of.to_pydatetime(), thresholds)
    to_send, active = new_breaches(breaches, state["active"])
    with alerting.dispatcher() as dispatcher:
        for breach in to_send:
            dispatcher.submit(breach.alert(as_of.to_pydatetime()))
    new_state = {"positions": version, "active": active}
    return json.dumps(new_state, sort_keys=True), version, [b.key for b in to_send]


def build_risk_sensor(
    thresholds: RiskThresholds | None = None, name: str = "portfolio_risk_breaches"
) -> dg.SensorDefinition:
    """The risk sensor with these limits (the defaults of `RiskThresholds` when None)."""
    limits = thresholds or RiskThresholds()

    @dg.sensor(
        name=name,
        job=portfolio_analytics,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="After each positions update: alert new risk-limit breaches once, and "
        "run portfolio_analytics.",
    )
    @alert_on_failure(name, Severity.CRITICAL)
    def risk_sensor(
        context: dg.SensorEvaluationContext,
        database: TradingDatabase,
        strategies: StrategiesResource,
        alerting: AlertingResource,
    ):
        cursor, version, sent = check_breaches(
            context.cursor, database, strategies, alerting, limits
        )
        context.update_cursor(cursor)
        if version is None:
            return dg.SkipReason("positions unchanged since the last evaluation")
        context.log.info(f"positions {version}: {len(sent)} new breach(es) sent {sent}")
        return dg.RunRequest(run_key=f"portfolio_analytics:{version}")

    return risk_sensor


portfolio_risk_breaches = build_risk_sensor()
RISK_SENSORS = [portfolio_risk_breaches]
