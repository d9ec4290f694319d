"""`zvt strategy`: list, deploy (sync), rebalance, pause, resume and emergency-stop strategies."""

from __future__ import annotations

import os

import typer

from zvt_pipelines.cli.common import app, fail, one_line, one_line_errors, settings

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


def _gate(strategies, reason: str | None = None):
    """The overfitting gate of the file's thresholds; MLflow is read only for an entry
    that carries an optimisation and is being deployed or retuned."""
    from zvt_pipelines.trading.overfitting_gate import OverfittingGate

    def lookup(run_id: str):
        from zvt_pipelines.tracking.optimizations import read_optimization

        return read_optimization(run_id)

    return OverfittingGate(strategies.research.overfitting, lookup, reason)


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
def sync(
    override_overfitting: bool = typer.Option(
        False,
        "--override-overfitting",
        help="Deploy optimised params that fail the overfitting thresholds (needs --reason).",
    ),
    reason: str | None = typer.Option(None, help="Why the override is justified (audited)."),
) -> None:
    """Record the strategies file: deploy new strategies, audit retuned and removed ones.

    Params carrying an `optimization` deploy only when its deflated Sharpe ratio and PBO
    pass the file's `research.overfitting` thresholds, or with an audited override.
    """
    from zvt_pipelines.trading.lifecycle import sync_strategies

    if override_overfitting != (reason is not None):
        fail("--override-overfitting needs --reason '...' (and --reason needs the override)")
    database, markets, strategies = _context()
    report = sync_strategies(
        database,
        list(strategies.strategies),
        actor=_actor(),
        markets=markets,
        source=str(settings().strategies_path),
        overfitting=_gate(strategies, reason if override_overfitting else None),
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
    sync_strategies(
        database, list(strategies.strategies), actor=_actor(), overfitting=_gate(strategies)
    )
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
    sync_strategies(
        database, list(strategies.strategies), actor=_actor(), overfitting=_gate(strategies)
    )
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
    from zvt_pipelines.trading.overfitting_gate import OverfittingRefused
    from zvt_pipelines.trading.services import stop_now

    database, markets, strategies = _context()
    entry = _entry(strategies, name)
    try:
        sync_strategies(
            database, list(strategies.strategies), actor=_actor(), overfitting=_gate(strategies)
        )
    except OverfittingRefused as exc:  # an emergency stop never waits on a research check
        typer.echo(f"warning: strategies file not synced: {one_line(str(exc))}", err=True)
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
