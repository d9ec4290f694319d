"""`zvt strategy`: list, deploy (sync), rebalance, pause, resume and emergency-stop strategies."""

from __future__ import annotations

import os

import typer

from zvt_pipelines.cli.common import app, fail, one_line_errors, settings

strategy_app = typer.Typer(
    no_args_is_help=True, help="Strategies: deploy, rebalance, pause, resume, stop."
)
app.add_typer(strategy_app, name="strategy")


def _context():
    from zvt_pipelines.markets import load_markets_config
    from zvt_pipelines.storage.database import Database
    from zvt_pipelines.strategies import load_strategies_config

    resolved = settings()
    database = Database(resolved.database_url)
    database.upgrade()
    return (
        database,
        load_markets_config(resolved.markets_path),
        load_strategies_config(resolved.strategies_path),
    )


def _entry(strategies, name: str):
    entries = strategies.by_name()
    if name not in entries:
        fail(f"strategy {name!r}: not in the strategies file (known: {', '.join(entries)})")
    return entries[name]


def _actor() -> str:
    return f"cli:{os.environ.get('USER', 'unknown')}"


@strategy_app.command("list")
@one_line_errors
def list_strategies() -> None:
    """Strategies in the file with their status and drift."""
    from zvt_pipelines.trading.drift import strategy_drift
    from zvt_pipelines.trading.lifecycle import statuses

    database, _, strategies = _context()
    status, drift = statuses(database), strategy_drift(database)
    typer.echo(f"{'name':<24} {'type':<16} {'enabled':<8} {'status':<10} {'drift':>7}  symbols")
    for entry in strategies.strategies:
        value = f"{float(drift[entry.name].value):.2%}" if entry.name in drift else "-"
        typer.echo(
            f"{entry.name:<24} {entry.type:<16} {str(entry.enabled):<8} "
            f"{status.get(entry.name, 'new'):<10} {value:>7}  {', '.join(entry.symbols)}"
        )


@strategy_app.command("sync")
@one_line_errors
def sync() -> None:
    """Record the strategies file: deploy new strategies, audit retuned and removed ones."""
    from zvt_pipelines.trading.lifecycle import sync_strategies

    database, markets, strategies = _context()
    report = sync_strategies(
        database,
        list(strategies.strategies),
        actor=_actor(),
        markets=markets,
        source=str(settings().strategies_path),
    )
    typer.echo(
        f"deployed {list(report.deployed)}; retuned {list(report.retuned)}; removed {list(report.removed)}"
    )


@strategy_app.command("rebalance")
@one_line_errors
def rebalance(name: str = typer.Argument(..., help="Strategy name.")) -> None:
    """Rebalance one strategy now on its venues (paper venues by default)."""
    from zvt_pipelines.trading.lifecycle import Status, get_status, sync_strategies
    from zvt_pipelines.trading.services import rebalance_now

    database, markets, strategies = _context()
    entry = _entry(strategies, name)
    sync_strategies(database, list(strategies.strategies), actor=_actor())
    if get_status(database, name) is not Status.ACTIVE or not entry.enabled:
        fail(
            f"strategy {name!r}: not active (status {get_status(database, name)}, enabled {entry.enabled})"
        )
    report = rebalance_now(database, markets, entry)
    typer.echo(f"{name} at {report.as_of}: {len(report.orders)} orders, fees {report.fees}")
    for order in report.orders:
        typer.echo(
            f"  {order['instrument']} {order['side']} {order['amount']} -> {order['status']} {order['reason']}"
        )


def _set(name: str, status: str, reason: str) -> None:
    from zvt_pipelines.trading.lifecycle import set_status, sync_strategies

    database, _, strategies = _context()
    _entry(strategies, name)
    sync_strategies(database, list(strategies.strategies), actor=_actor())
    old = set_status(database, name, status, _actor(), reason)
    typer.echo(f"{name}: {old} -> {status}")


@strategy_app.command("pause")
@one_line_errors
def pause(name: str = typer.Argument(..., help="Strategy name.")) -> None:
    """Stop trading a strategy until `zvt strategy resume` (orders already placed stay)."""
    _set(name, "PAUSED", "paused from the CLI")


@strategy_app.command("resume")
@one_line_errors
def resume(name: str = typer.Argument(..., help="Strategy name.")) -> None:
    """Trade a paused or stopped strategy again."""
    _set(name, "ACTIVE", "resumed from the CLI")


@strategy_app.command("stop")
@one_line_errors
def stop(
    name: str = typer.Argument(..., help="Strategy name."),
    flatten: bool = typer.Option(
        False, "--flatten", help="Also close every position with market orders."
    ),
) -> None:
    """EMERGENCY STOP: halt the strategy, cancel its open orders on every venue, flatten if asked.

    Exit status 0 when every step was done, 1 when some could not be (each is listed).
    """
    from zvt_pipelines.trading.lifecycle import sync_strategies
    from zvt_pipelines.trading.services import stop_now

    database, markets, strategies = _context()
    entry = _entry(strategies, name)
    sync_strategies(database, list(strategies.strategies), actor=_actor())
    report = stop_now(database, markets, entry, flatten, _actor())
    typer.echo(
        f"{name}: STOPPED; canceled {len(report.canceled)} orders ({len(report.not_found)} unknown to the "
        f"venue), flattened {len(report.flattened)} positions, {len(report.quarantined)} quarantined "
        "orders asked to cancel; see the audit log"
    )
    for step in report.quarantined:
        typer.echo(f"  quarantined {step['order']}: {step['outcome']}")
    if not report.complete:
        for step in report.failed:
            what = f" {step['what']}" if step.get("what") else ""
            typer.echo(f"error: could not {step['step']}{what}: {step['reason']}", err=True)
        raise typer.Exit(1)
