"""One wrapper that keeps a sensor from dying silently.

`alert_on_failure` wraps a sensor's evaluation function: when it raises, the failure is
stored as a system alert and sent through the alert channels (throttled by a stable dedup
key per sensor and exception type, so a sensor failing every minute pages once per cooldown
and the repeats arrive as a digest), and then the exception is re-raised. Re-raising keeps
the Dagster UI honest: the tick shows as failed with the error, and the cursor is not
advanced past work the sensor never did. If the alert itself cannot be stored or sent (the
database is down), that is logged and the original error still reaches Dagster.

The wrapper adds an `alerting` resource parameter when the sensor has none, so it applies to
any sensor: `@dg.sensor(...)` over `@alert_on_failure("name")` over the function.
"""

from __future__ import annotations

import functools
import inspect
import logging
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from resources.alerting import AlertingResource
from zvt_pipelines.alerts.alert import Alert, AlertType, Severity

log = logging.getLogger(__name__)
MAX_BODY = 1500
ALERTING = "alerting"


def failure_alert(
    sensor: str, error: BaseException, at: datetime, severity: Severity = Severity.HIGH
) -> Alert:
    """The system alert of one failed evaluation of `sensor`; its dedup key is stable."""
    detail = "".join(traceback.format_exception_only(error)).strip()
    return Alert(
        type=AlertType.SYSTEM_ERROR,
        severity=severity,
        title=f"sensor {sensor} failed: {type(error).__name__}",
        body=f"sensor {sensor} failed and did nothing this tick: {detail}"[:MAX_BODY],
        at=at,
        condition=f"sensor/{sensor}/{type(error).__name__}",
        fields={"source": f"sensor {sensor}", "error": type(error).__name__},
    )


def report_failure(
    alerting: AlertingResource,
    sensor: str,
    error: BaseException,
    severity: Severity = Severity.HIGH,
) -> None:
    """Store and send the failure alert; a failure to do so is logged, never raised."""
    try:
        with alerting.dispatcher() as dispatcher:
            dispatcher.submit(failure_alert(sensor, error, datetime.now(UTC), severity))
    except Exception:  # noqa: BLE001 - the sensor's own error must still reach Dagster
        log.exception("could not store or send the failure alert of sensor %s", sensor)


def alert_on_failure(
    sensor: str, severity: Severity = Severity.HIGH
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a sensor function: on an exception, alert (see module docstring) and re-raise."""

    def wrap(evaluate: Callable[..., Any]) -> Callable[..., Any]:
        # resolved annotations: Dagster reads them off the wrapper, whose module differs
        signature = inspect.signature(evaluate, eval_str=True)
        takes_alerting = ALERTING in signature.parameters

        @functools.wraps(evaluate)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            alerting = kwargs.get(ALERTING) if takes_alerting else kwargs.pop(ALERTING)
            try:
                return evaluate(*args, **kwargs)
            except Exception as error:
                report_failure(alerting, sensor, error, severity)
                raise

        if not takes_alerting:
            extra = inspect.Parameter(
                ALERTING, inspect.Parameter.KEYWORD_ONLY, annotation=AlertingResource
            )
            signature = signature.replace(parameters=[*signature.parameters.values(), extra])
        guarded.__signature__ = signature  # type: ignore[attr-defined]
        guarded.__annotations__ = {
            name: p.annotation
            for name, p in signature.parameters.items()
            if p.annotation is not inspect.Parameter.empty
        }
        return guarded

    return wrap
