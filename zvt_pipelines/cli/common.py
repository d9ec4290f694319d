"""Shared pieces of the `zvt` commands: the app, one-line errors, argument parsing.

A user's mistake (a bad file, option, configuration or database URL) is one `error: ...` line
on stderr and exit status 2; anything unexpected is one line and status 1. The global
`--debug` flag (or `ZVT_DEBUG=1`) lets the exception through with its traceback.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import date
from functools import wraps
from pathlib import Path
from typing import Any

import click
import typer

from zvt_pipelines.errors import ZvtError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="zvt-pipelines: crypto trading and portfolio management as Dagster pipelines.",
)


_debug = {"on": False}


@app.callback()
def main(
    debug: bool = typer.Option(
        False, "--debug", help="Show the Python traceback of an error (also ZVT_DEBUG=1)."
    ),
) -> None:
    """zvt-pipelines: crypto trading and portfolio management as Dagster pipelines."""
    _debug["on"] = debug or os.environ.get("ZVT_DEBUG") == "1"
    _warnings_to_stderr()


class _WarningLines(logging.Handler):
    """Echo each record as a `warning:` line on the current stderr (resolved at emit time,
    so a test runner that swaps stderr per invocation still sees it)."""

    def emit(self, record: logging.LogRecord) -> None:
        typer.echo(f"warning: {one_line(record.getMessage())}", err=True)


def _warnings_to_stderr() -> None:
    """The core's logged warnings (data gaps, sorted rows, timestamp units) as `warning:` lines."""
    logger = logging.getLogger("zvt_pipelines")
    if not any(isinstance(handler, _WarningLines) for handler in logger.handlers):
        logger.addHandler(_WarningLines(level=logging.WARNING))


def one_line(message: str) -> str:
    """A message folded onto one line (YAML and driver errors span several)."""
    return " / ".join(line.strip() for line in str(message).splitlines() if line.strip())


def fail(message: str, status: int = 2) -> None:
    """Print a one-line error and exit with `status` (2: the user's mistake)."""
    typer.echo(f"error: {one_line(message)}", err=True)
    raise typer.Exit(status)


def one_line_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn errors into one-line messages instead of tracebacks (unless `--debug`).

    The core's typed errors and OS errors (files, permissions) are the user's to fix: exit 2.
    Anything else is a bug: one line naming its type, exit 1.
    """

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, click.exceptions.Exit, click.ClickException):
            raise
        except (ZvtError, OSError) as exc:
            if _debug["on"]:
                raise
            fail(str(exc) or type(exc).__name__)
        except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
            if _debug["on"]:
                raise
            fail(
                f"unexpected {type(exc).__name__}: {exc} (a bug; rerun with --debug for the traceback)",
                status=1,
            )

    return wrapper


def parse_day(value: str, option: str) -> date:
    """A YYYY-MM-DD option value, or a one-line error naming the option."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option} {value!r}: expected a date as YYYY-MM-DD")
        raise  # unreachable: fail() exits


def parse_time(value: str, option: str) -> Any:
    """A UTC time option value (a date or an ISO time; naive means UTC) as a pandas
    Timestamp, or a one-line error naming the option."""
    import pandas as pd

    try:
        stamp = pd.Timestamp(value)
    except ValueError:
        fail(
            f"{option} {value!r}: expected a UTC date or time, e.g. 2024-01-01 or 2024-01-01T12:00"
        )
        raise  # unreachable: fail() exits
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


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
