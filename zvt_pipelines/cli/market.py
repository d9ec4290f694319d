"""`zvt demo`, `zvt ingest` and `zvt db`: market data and the trading database.

`zvt demo` runs the Dagster layer (`launch.py` beside `definitions.py`) in a child process
rooted at the project folder (see `settings.project_root`), so the core never imports it; the
other commands use the core only.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import typer

from zvt_pipelines.cli.common import (
    app,
    export_settings,
    fail,
    one_line_errors,
    parse_day,
    settings,
)
from zvt_pipelines.settings import project_root

db_app = typer.Typer(no_args_is_help=True, help="Trading database commands.")
app.add_typer(db_app, name="db")


@app.command()
@one_line_errors
def demo(
    days: int = typer.Option(3, help="How many complete UTC days (ending yesterday) to collect."),
    markets: Path | None = typer.Option(
        None, help="Markets file (default: ZVT_MARKETS or config/markets.yaml)."
    ),
) -> None:
    """Run the main job on embedded defaults: market data, strategies, orders, positions, analytics."""
    if not 1 <= days <= 31:
        fail(f"--days {days}: choose between 1 and 31")
    resolved = settings(markets)
    export_settings(resolved)
    os.environ.setdefault("DAGSTER_HOME", str(resolved.dagster_home))
    root = project_root()
    if not (root / "launch.py").is_file():
        fail(f"project root {str(root)!r} (ZVT_PROJECT_ROOT): no launch.py, the Dagster layer")
    typer.echo(f"zvt demo: state in {resolved.home}")
    typer.echo(f"loading the Dagster code location from {root} ...")
    paths = [str(root), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(paths),
        "ZVT_MARKETS": str(resolved.markets_path.resolve()),  # the child runs in `root`
        "ZVT_STRATEGIES": str(resolved.strategies_path.resolve()),
    }
    launched = subprocess.run(
        [sys.executable, "launch.py", "--days", str(days)], cwd=root, env=env, check=False
    )
    _summary(resolved)
    if launched.returncode != 0:
        fail(f"launch.py exited with status {launched.returncode}: a demo step failed (see above)")


def _summary(resolved: Any) -> None:
    from zvt_pipelines.portfolio.position_store import load_positions
    from zvt_pipelines.storage.database import Database
    from zvt_pipelines.storage.market_data import count_candles

    database = Database(resolved.database_url)
    typer.echo(f"\ntrading database {database.engine.url.render_as_string(hide_password=True)}")
    for timeframe in ("1m", "1h", "1d"):
        typer.echo(
            f"  market_ohlcv  {timeframe:>3}: {count_candles(database, timeframe=timeframe):>8} candles"
        )
    for position in load_positions(database):
        if position.quantity:
            typer.echo(
                f"  position {position.strategy:<22} {position.venue}:{position.symbol:<10} "
                f"{position.quantity:>14} unrealised {position.unrealized_pnl:.2f}"
            )
    typer.echo("\nWhere to look:")
    typer.echo(
        "  make ui      Dagster UI on http://127.0.0.1:3000: asset graph, partitions, runs, checks, backfills"
    )
    typer.echo(f"  make mlflow  MLflow UI on http://127.0.0.1:5000 (runs in {resolved.mlflow_uri})")
    typer.echo("  .venv/bin/zvt strategy list      strategies, status and drift")


@app.command()
@one_line_errors
def ingest(
    venue: str = typer.Option(
        ..., help="Venue name from the markets file, or the label to store a --file under."
    ),
    symbols: str = typer.Option(..., help="Comma-separated ccxt symbols, e.g. BTC/USDT,ETH/USDT."),
    start: str = typer.Option(..., help="First UTC day, YYYY-MM-DD."),
    end: str = typer.Option(..., help="Day after the last, YYYY-MM-DD (exclusive)."),
    timeframe: str = typer.Option("1m", help="Candle timeframe, e.g. 1m, 1h, 1d."),
    file: Path | None = typer.Option(
        None, help="Import this file (CSV, CSV.gz or Parquet) instead."
    ),
    funding: bool = typer.Option(
        False, "--funding", help="Funding rates of perpetuals instead of candles."
    ),
    markets: Path | None = typer.Option(
        None, help="Markets file (default: ZVT_MARKETS or config/markets.yaml)."
    ),
) -> None:
    """Download candles (or --funding rates) from a venue, or import a file, into the trading database.

    Every candle passes the quality gate of the Dagster candle asset first; one bad candle
    anywhere means nothing is written.
    """
    import pandas as pd

    from zvt_pipelines.ingest.candles import download_checked, store_range
    from zvt_pipelines.model.instrument import InstrumentId
    from zvt_pipelines.model.timeframe import timeframe_ms
    from zvt_pipelines.storage.database import Database

    first, after = parse_day(start, "--start"), parse_day(end, "--end")
    if after <= first:
        fail(f"--end {end!r}: must be after --start {start!r}")
    timeframe_ms(timeframe)
    wanted = [s.strip() for s in symbols.split(",") if s.strip()]
    instruments = [InstrumentId.parse(f"{venue}:{s}") for s in wanted]
    if file is not None and len(instruments) != 1:
        fail(f"--symbols {symbols!r}: a --file holds one symbol")
    resolved = settings(markets)
    if funding:
        database = Database(resolved.database_url)
        database.upgrade()
        _ingest_funding(database, venue, instruments, file, resolved, first, after)
        return
    source = _ingest_source(venue, file, resolved)
    window = pd.Timestamp(first, tz="UTC"), pd.Timestamp(after, tz="UTC")
    checked = [
        (instrument, download_checked(source, instrument, timeframe, *window))
        for instrument in instruments
    ]
    database = Database(resolved.database_url)
    database.upgrade()
    for instrument, frame in checked:
        summary = store_range(database, instrument, timeframe, frame, *window)
        typer.echo(
            f"{instrument} {timeframe}: {summary.rows} candles stored "
            f"({summary.first} .. {summary.last}), {summary.missing} missing"
        )


def _ingest_funding(
    database: Any,
    venue: str,
    instruments: list,
    file: Path | None,
    resolved: Any,
    first: Any,
    after: Any,
) -> None:
    import pandas as pd

    from zvt_pipelines.ingest.funding import download_funding, ingest_funding, read_funding_file

    start, end = pd.Timestamp(first, tz="UTC"), pd.Timestamp(after, tz="UTC")
    for instrument in instruments:
        if file is not None:
            frame = read_funding_file(file)
        else:
            frame = download_funding(
                _ingest_source(venue, None, resolved), instrument.symbol, start, end
            )
        rows = ingest_funding(database, frame, instrument, start, end)
        typer.echo(f"{instrument} funding: {rows} settlements stored")


def _ingest_source(venue: str, file: Path | None, resolved: Any) -> Any:
    if file is not None:
        from zvt_pipelines.venues.file_source import SingleFileSource

        return SingleFileSource(venue, file)
    from zvt_pipelines.markets import load_markets_config
    from zvt_pipelines.venues.factory import build_sources

    config = load_markets_config(resolved.markets_path)
    if venue not in config.venues:
        fail(
            f"--venue {venue!r}: not in {resolved.markets_path} (known: {', '.join(config.venues)})"
        )
    return build_sources(config)[venue]


@db_app.command("upgrade")
@one_line_errors
def db_upgrade() -> None:
    """Create or migrate the trading database (ZVT_DATABASE_URL, default SQLite under ZVT_HOME)."""
    from zvt_pipelines.storage.database import Database

    database = Database(settings(None).database_url)
    database.upgrade()
    url = database.engine.url.render_as_string(hide_password=True)
    typer.echo(f"{url}: at revision {database.current_revision()}")
