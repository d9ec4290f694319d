"""`zvt quarantine`: list the orders set aside by a failed consistency check, and resolve one."""

from __future__ import annotations

import json
import os

import typer

from zvt_pipelines.cli.common import app, one_line_errors, settings

quarantine_app = typer.Typer(
    no_args_is_help=True, help="Quarantined orders: list them, resolve one (audited)."
)
app.add_typer(quarantine_app, name="quarantine")


def _database():
    from zvt_pipelines.storage.database import Database

    database = Database(settings().database_url)
    database.upgrade()
    return database


@quarantine_app.command("list")
@one_line_errors
def quarantine_list(
    strategy: str | None = typer.Option(None, "--strategy", help="Only this strategy's orders."),
    as_json: bool = typer.Option(False, "--json", help="One JSON array instead of a table."),
) -> None:
    """Quarantined orders: strategy, instrument, amount, recorded fills, status before, reason."""
    from zvt_pipelines.oms.quarantine import list_quarantined, plain

    rows = list_quarantined(_database(), strategy)
    if as_json:
        typer.echo(json.dumps([row.to_json() for row in rows], indent=2))
        return
    if not rows:
        typer.echo("no quarantined orders")
        return
    for row in rows:
        typer.echo(
            f"{row.client_order_id}  {row.strategy or '-'}  {row.venue}:{row.symbol} {row.side} "
            f"{plain(row.amount)} (fills {plain(row.recorded_fills)}, was {row.status_before or '?'}) "
            f"since {row.since:%Y-%m-%d %H:%M:%S}: {row.reason}"
        )


@quarantine_app.command("resolve")
@one_line_errors
def quarantine_resolve(
    client_order_id: str = typer.Argument(..., help="Client order id of the quarantined order."),
    action: str = typer.Option(
        ...,
        "--action",
        help="cancel (cancel at the venue, close) or accept (keep its fills, close).",
    ),
    reason: str = typer.Option(..., "--reason", help="Why; written to the audit log."),
) -> None:
    """Close a quarantined order by cancel or accept; the decision is audited."""
    from zvt_pipelines.oms.quarantine import resolve_quarantine

    database = _database()
    venues = _venues_of(database, client_order_id) if action == "cancel" else None
    report = resolve_quarantine(
        database,
        client_order_id,
        action,
        reason,
        actor=f"cli:{os.environ.get('USER', 'unknown')}",
        venues=venues,
    )
    note = f" ({report.venue_note})" if report.venue_note else ""
    typer.echo(f"{report.client_order_id}: {report.action.value} -> {report.status}{note}")


def _venues_of(database, client_order_id: str):
    """The venues of the order's strategy (to cancel at), or None when the strategy is not in
    the strategies file."""
    from datetime import UTC, datetime

    import sqlalchemy as sa

    from zvt_pipelines.markets import load_markets_config
    from zvt_pipelines.portfolio.accounts import account_balances, strategy_fills
    from zvt_pipelines.storage.models import CryptoOrder
    from zvt_pipelines.strategies import load_strategies_config
    from zvt_pipelines.venues.factory import trading_venues

    with database.transaction() as session:
        strategy = session.scalar(
            sa.select(CryptoOrder.strategy).where(CryptoOrder.client_order_id == client_order_id)
        )
    resolved = settings()
    entry = load_strategies_config(resolved.strategies_path).by_name().get(strategy or "")
    if entry is None:
        return None
    balances = account_balances(
        entry.instrument_ids(), entry.capital, strategy_fills(database, entry.name)
    )
    now = datetime.now(UTC)
    return trading_venues(load_markets_config(resolved.markets_path), balances, clock=lambda: now)
