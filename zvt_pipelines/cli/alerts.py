"""`zvt alerts`: send a test alert on a channel, list stored alerts and their delivery, check
the channel configuration."""

from __future__ import annotations

import typer

from zvt_pipelines.cli.common import app, one_line_errors, settings

alerts_app = typer.Typer(no_args_is_help=True, help="Alerts: test a channel, list stored alerts.")
app.add_typer(alerts_app, name="alerts")


def _database():
    from zvt_pipelines.storage.database import Database

    database = Database(settings().database_url)
    database.upgrade()
    return database


@alerts_app.command("test")
@one_line_errors
def alerts_test(
    channel: str = typer.Option(
        ..., "--channel", help="email, slack, discord, sms, webhook or push."
    ),
) -> None:
    """Send one test alert on CHANNEL (configured from ZVT_* environment variables)."""
    from zvt_pipelines.alerts.services import send_test_alert

    report = send_test_alert(_database(), channel)
    if report.failed:
        typer.echo(
            f"error: test alert {report.alert_id} not delivered on {channel}: {report.failed}",
            err=True,
        )
        raise typer.Exit(1)
    typer.echo(f"test alert {report.alert_id} delivered on {channel}")


@alerts_app.command("list")
@one_line_errors
def alerts_list(limit: int = typer.Option(20, help="How many of the newest alerts.")) -> None:
    """The newest stored alerts with their delivery status per channel."""
    from zvt_pipelines.alerts.services import format_alert_rows, list_alerts

    typer.echo(format_alert_rows(list_alerts(_database(), limit)))


@alerts_app.command("check")
@one_line_errors
def alerts_check(
    as_json: bool = typer.Option(False, "--json", help="Print the check as JSON."),
) -> None:
    """Check the alert channels (ZVT_* variables) against the routing; exit 1 when no channel
    is configured, so a critical alert would reach nobody."""
    import json

    from zvt_pipelines.alerts.services import check_alerting

    check = check_alerting()
    if as_json:
        typer.echo(json.dumps(check.to_json(), indent=2))
    else:
        for warning in check.warnings:
            typer.echo(f"warning: {warning}", err=True)
        typer.echo(f"configured channels: {', '.join(check.configured) or 'none'}")
        typer.echo(f"critical alerts go to: {', '.join(check.critical_targets) or 'nobody'}")
    if not check.ok:
        raise typer.Exit(1)
