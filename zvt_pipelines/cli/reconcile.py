"""`zvt reconcile`: bring strategies' orders and fills in line with their venues, on demand.

What a rebalance does first anyway (`trading/reconciliation.py`), for one strategy or all
of them, printing what was repaired and what needs a human. A strategy that cannot be
reconciled (a venue missing from the markets file, a venue down) is reported and the
others are still reconciled; the command then exits with status 2. Without `--strategy`
the strategies enabled in the strategies file are reconciled.
"""

from __future__ import annotations

import json

import typer

from zvt_pipelines.cli.common import app, fail, one_line_errors, settings


@app.command("reconcile")
@one_line_errors
def reconcile_command(
    strategy: str | None = typer.Option(
        None, "--strategy", help="Only this strategy (default: every enabled one in the file)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the reports as JSON."),
) -> None:
    """Reconcile open orders, fills since the last sync and balances with the venues."""
    from zvt_pipelines.errors import ZvtError
    from zvt_pipelines.markets import load_markets_config
    from zvt_pipelines.storage.database import Database
    from zvt_pipelines.strategies import load_strategies_config
    from zvt_pipelines.trading.services import reconcile_now

    resolved = settings()
    database = Database(resolved.database_url)
    database.upgrade()
    markets = load_markets_config(resolved.markets_path)
    entries = load_strategies_config(resolved.strategies_path).by_name()
    if strategy is not None and strategy not in entries:
        fail(f"--strategy {strategy!r}: not in the strategies file (known: {', '.join(entries)})")
    names = [strategy] if strategy is not None else [n for n, e in entries.items() if e.enabled]
    reports, failures = [], {}
    for name in names:
        try:
            reports.append(reconcile_now(database, markets, entries[name]))
        except ZvtError as exc:
            failures[name] = str(exc)
    if as_json:
        failed = [{"strategy": name, "error": error} for name, error in failures.items()]
        typer.echo(json.dumps([r.to_dict() for r in reports] + failed, indent=2))
    else:
        _print(reports)
        for name, error in failures.items():
            typer.echo(f"{name}: not reconciled: {error}")
    if failures:
        fail(
            f"{len(failures)} of {len(names)} strategies could not be reconciled: {', '.join(failures)}"
        )


def _print(reports: list) -> None:
    """Each report's summary line, then what it closed, what needs a human, and balances."""
    for report in reports:
        typer.echo(report.summary())
        for cid in report.unknown:
            typer.echo(f"  closed {cid}: the venue does not know it")
        for orphan in report.orphans:
            typer.echo(
                f"  ORPHAN on {orphan['venue']}: open order {orphan['client_order_id']} "
                f"({orphan['side']} {orphan['amount']} {orphan['symbol']}) has no database row"
            )
        for trade in report.unbooked_trades:
            typer.echo(
                f"  UNBOOKED trade {trade['trade_id']} on {trade['venue']}: {trade['side']} "
                f"{trade['amount']} {trade['symbol']} @ {trade['price']} "
                f"(order {trade['venue_order_id']})"
            )
        for venue, currencies in report.balances.items():
            for currency, pair in currencies.items():
                typer.echo(
                    f"  balance {venue} {currency}: venue {pair['venue']}, "
                    f"booked by the strategy {pair['booked']}"
                )
