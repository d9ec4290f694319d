"""Shared pieces of the `zvt` commands: the app, one-line errors, argument parsing."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date
from functools import wraps
from pathlib import Path
from typing import Any

import typer

from zvt_pipelines.errors import ZvtError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="zvt-pipelines: crypto trading and portfolio management as Dagster pipelines.",
)


def fail(message: str) -> None:
    """Print a one-line error and exit with status 2."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def one_line_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the core's typed errors into one-line messages instead of tracebacks."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ZvtError as exc:
            fail(str(exc))

    return wrapper


def parse_day(value: str, option: str) -> date:
    """A YYYY-MM-DD option value, or a one-line error naming the option."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option} {value!r}: expected a date as YYYY-MM-DD")
        raise  # unreachable: fail() exits


def settings(markets: Path | None = None) -> Any:
    """Resolved settings, with `--markets` (when given) in place of ZVT_MARKETS."""
    from dataclasses import replace

    from zvt_pipelines.settings import Settings

    resolved = Settings.from_env()
    if markets is None:
        return resolved
    if not markets.is_file():
        fail(f"--markets {str(markets)!r}: no such file")
    return replace(resolved, markets_path=markets.resolve())


def export_settings(resolved: Any) -> None:
    """Hand the resolved locations to layers that read the environment themselves (the
    Dagster definitions, the MLflow tracker) in this process."""
    os.environ["ZVT_HOME"] = str(resolved.home)
    os.environ["ZVT_MARKETS"] = str(resolved.markets_path)
