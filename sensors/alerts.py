"""Alert sensors: failed runs of this code location, price/volume rules on new candles, and
the upkeep that sends digests and retries undelivered alerts.

Each is wrapped by `sensors.guard.alert_on_failure`, so its own failure is alerted too.
All send through the `alerting` resource's dispatcher, which stores every alert before
delivery; an occurrence already stored is never sent again, so a re-evaluated tick or run
does not alert twice.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from resources.alerting import AlertingResource
from resources.database import TradingDatabase
from resources.markets import MarketsResource
from sensors.guard import alert_on_failure
from zvt_pipelines.alerts.dispatcher import DispatchReport
from zvt_pipelines.alerts.event_alerts import system_error
from zvt_pipelines.alerts.market_watch import scan_market
from zvt_pipelines.model.instrument import InstrumentId

MAX_ERROR = 1500


def _error_chain(error) -> str:  # noqa: ANN001 - dagster's serialisable error info
    """The error's message followed by each cause's, so the root cause is in the alert."""
    parts = []
    while error is not None:
        parts.append(error.message.strip())
        error = error.cause
    return " <- caused by: ".join(parts)


def run_failure_report(
    context: dg.RunFailureSensorContext, alerting: AlertingResource
) -> DispatchReport:
    """Build and send the alert of one failed run: job name, run id, error and a link to the run."""
    run = context.dagster_run
    errors = [
        f"step {event.step_key}: {_error_chain(event.step_failure_data.error)}"
        for event in context.get_step_failure_events()
        if event.step_failure_data and event.step_failure_data.error
    ]
    message = "\n".join(errors) or (context.failure_event.message or "run failed")
    record = context.instance.get_run_record_by_id(run.run_id)
    ended = record.end_time if record is not None and record.end_time else None
    at = datetime.fromtimestamp(ended, UTC) if ended else datetime.now(UTC)
    alert = system_error(
        f"job {run.job_name}",
        message[:MAX_ERROR],
        at,
        run_id=run.run_id,
        link=alerting.run_link(run.run_id),
    )
    with alerting.dispatcher() as dispatcher:
        return dispatcher.submit(alert)


@dg.run_failure_sensor(
    name="alert_on_run_failure",
    description="Sends every failed run of this code location (job, run id, error, link) as an alert.",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
@alert_on_failure("alert_on_run_failure")
def alert_on_run_failure(context: dg.RunFailureSensorContext, alerting: AlertingResource) -> None:
    report = run_failure_report(context, alerting)
    context.log.info(
        f"run {context.dagster_run.run_id} failure alert: delivered {report.delivered}, "
        f"failed {sorted(report.failed)}, queued {report.queued}"
    )


def scan_markets(
    cursor: str | None,
    database: TradingDatabase,
    markets: MarketsResource,
    alerting: AlertingResource,
) -> tuple[str, list[DispatchReport]]:
    """Evaluate the market rules on candles newer than the cursor; (new cursor, reports).

    The cursor is JSON `{instrument: last bar ISO time}` for the markets file's base timeframe.
    """
    positions = json.loads(cursor) if cursor else {}
    config = markets.config()
    rules = alerting.market_rules()
    reports = []
    db = database.get()
    with alerting.dispatcher() as dispatcher:
        for text in config.instruments:
            instrument = InstrumentId.parse(text)
            since = pd.Timestamp(positions[text]) if text in positions else None
            alerts, last = scan_market(
                db,
                instrument.venue,
                instrument.symbol,
                config.timeframe,
                rules.build(),
                rules.warmup,
                since,
            )
            reports += [dispatcher.submit(alert) for alert in alerts]
            if last is not None:
                positions[text] = last.isoformat()
    return json.dumps(positions, sort_keys=True), reports


@dg.sensor(
    name="market_data_alerts",
    description="Price-move and volume-spike rules on newly stored candles (cursor per instrument).",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
)
@alert_on_failure("market_data_alerts")
def market_data_alerts(
    context: dg.SensorEvaluationContext,
    database: TradingDatabase,
    markets: MarketsResource,
    alerting: AlertingResource,
) -> dg.SkipReason:
    cursor, reports = scan_markets(context.cursor, database, markets, alerting)
    context.update_cursor(cursor)
    sent = sum(1 for r in reports if r.alert_id is not None)
    return dg.SkipReason(f"{sent} market alert(s) stored and sent; this sensor starts no runs")


@dg.sensor(
    name="alert_delivery_upkeep",
    description="Sends the queued alert digests and retries undelivered alerts (each once).",
    minimum_interval_seconds=900,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
@alert_on_failure("alert_delivery_upkeep")
def alert_delivery_upkeep(
    context: dg.SensorEvaluationContext, alerting: AlertingResource
) -> dg.SkipReason:
    with alerting.dispatcher() as dispatcher:
        digests = dispatcher.flush()
        retried = dispatcher.retry_undelivered()
    sent = sum(len(r.delivered) for r in digests)
    return dg.SkipReason(
        f"{sent} digest(s) sent; {len(retried.delivered)} retried alert(s) delivered, "
        f"{len(retried.failed)} still failing"
    )


ALERT_SENSORS = [alert_on_run_failure, market_data_alerts, alert_delivery_upkeep]
