"""`zvt backtest` and `zvt optimize`: research on candle files, recorded in MLflow.

MLflow is imported only when a run is tracked, so `--no-track` stays fast.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import typer

from zvt_pipelines.cli.common import app, fail, one_line_errors, parse_time, settings
from zvt_pipelines.model.money import decimal_from_float

_FILE_NAME = re.compile(r"^(?P<venue>[a-z0-9]+)_(?P<base>[A-Z0-9]+)-(?P<quote>[A-Z0-9]+)")


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """`--param key=value` pairs; values read as YAML scalars (20 -> int, 0.5 -> float)."""
    import yaml

    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            fail(f"--param {pair!r}: expected key=value, e.g. fast=20")
        params[key.strip()] = yaml.safe_load(value)
    return params


def market_of(path: Path, venue: str | None, symbol: str | None) -> tuple[str, str]:
    """Venue and symbol of a candle file: given, or read from a name like binance_BTC-USDT_1h.csv.gz."""
    match = _FILE_NAME.match(path.name)
    guessed_venue = match["venue"] if match else "file"
    guessed_symbol = f"{match['base']}/{match['quote']}" if match else path.name.split(".")[0]
    return venue or guessed_venue, symbol or guessed_symbol


def load_frame(data: Path, start: str | None, end: str | None) -> Any:

    from zvt_pipelines.data.candles import read_candle_file

    first = parse_time(start, "--start") if start else None
    after = parse_time(end, "--end") if end else None
    frame = read_candle_file(data)
    if first is not None:
        frame = frame.loc[frame["ts"] >= first]
    if after is not None:
        frame = frame.loc[frame["ts"] < after]
    if frame.empty:
        fail(f"--data {str(data)!r}: no candles in the chosen range")
    return frame.reset_index(drop=True)


@app.command()
@one_line_errors
def backtest(
    strategy: str = typer.Option("sma_cross", help="A registered strategy (bar-level families)."),
    data: Path | None = typer.Option(
        None,
        help="bar engine: candle file timestamp,open,high,low,close,volume (CSV, .gz, Parquet).",
    ),
    param: list[str] = typer.Option([], help="Strategy parameter key=value; repeat for several."),
    fee_bps: float = typer.Option(10.0, help="Fee in bps of the notional of every fill."),
    slippage_bps: float = typer.Option(0.0, help="Fill price moved against the trader, in bps."),
    fill_price: str = typer.Option("open", help="Next bar's open, close or vwap."),
    cash: float = typer.Option(10_000.0, help="Starting cash in the quote currency."),
    start: str | None = typer.Option(None, help="First candle open time to use (UTC)."),
    end: str | None = typer.Option(None, help="Use candles opening before this time (UTC)."),
    venue: str | None = typer.Option(
        None, help="Venue for the data fingerprint (default: from the file name)."
    ),
    symbol: str | None = typer.Option(
        None, help="Symbol for the data fingerprint (default: from the file name)."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
    track: bool = typer.Option(True, "--track/--no-track", help="Record the run in MLflow."),
    engine: str = typer.Option(
        "bar", help="bar (fast, one instrument) or event (the live order path)."
    ),
    market: list[str] = typer.Option(
        [],
        help="event engine: INSTRUMENT=FILE, e.g. binance:BTC/USDT=binance_BTC-USDT_1h.csv.gz; repeat.",
    ),
    funding: list[str] = typer.Option(
        [], help="event engine: PERP_INSTRUMENT=FUNDING_FILE; repeat."
    ),
    half_spread_bps: float = typer.Option(
        0.0, help="event engine: half the synthetic spread, bps."
    ),
    holding: list[str] = typer.Option(
        [],
        help="event engine: starting inventory VENUE:CURRENCY=AMOUNT (e.g. kraken:BTC=0.5); repeat.",
    ),
) -> None:
    """Backtest a strategy on candle files: signal on bar t's close, fill at bar t+1."""
    if engine == "event":
        _event_backtest(
            strategy,
            param,
            market,
            funding,
            holding,
            fee_bps,
            half_spread_bps,
            cash,
            start,
            end,
            json_output,
            track,
        )
        return
    if engine != "bar":
        fail(f"--engine {engine!r}: choose bar or event")
    if data is None or not data.is_file():
        fail(
            f"--data {str(data) if data else None!r}: no such file (the bar engine needs one candle file)"
        )
    from zvt_pipelines.backtest.result import json_float
    from zvt_pipelines.backtest.settings import BacktestSettings

    params = parse_params(param)
    frame = load_frame(data, start, end)
    engine = BacktestSettings(
        cash=cash, fee_bps=fee_bps, slippage_bps=slippage_bps, fill_price=fill_price
    )
    if (
        strategy == "sma_cross"
        and set(params) <= {"fast", "slow"}
        and engine.slippage_bps == 0
        and fill_price == "open"
    ):
        from zvt_pipelines.backtest.contract import contract_summary, run_sma_cross
        from zvt_pipelines.strategies.sma_cross import SmaCrossParams

        defaults = SmaCrossParams.model_fields  # one source of defaults for both paths
        fast = int(params.get("fast", defaults["fast"].default))
        slow = int(params.get("slow", defaults["slow"].default))
        params = {"fast": fast, "slow": slow}
        result = run_sma_cross(frame, fast, slow, fee_bps, cash)
        summary = contract_summary(result, frame, fast, slow, fee_bps, cash)
    else:
        from zvt_pipelines.research.backtests import backtest_bar_strategy
        from zvt_pipelines.strategies import BarStrategy, get_strategy

        family = get_strategy(strategy)
        if not issubclass(family, BarStrategy):
            fail(
                f"--strategy {strategy!r}: not a bar-level family; backtest it on the simulated venue"
            )
        instance = family(params, label=strategy)
        result = backtest_bar_strategy(instance, frame, engine)
        summary = {
            "strategy": strategy,
            "params": instance.params.model_dump(mode="json"),
            "data": {
                "start": frame["ts"].iloc[0].isoformat(),
                "end": frame["ts"].iloc[-1].isoformat(),
                "bars": len(frame),
            },
            "final_equity": result.final_equity,
            "trades": result.n_trades,
            "fees": result.fees_paid,
            "metrics": {
                k: json_float(result.metrics[k])
                for k in ("sharpe", "sortino", "max_drawdown", "calmar", "var_95", "cvar_95")
            },
            "all_metrics": {k: json_float(v) for k, v in result.metrics.items()},
        }
        params = summary["params"]
    summary["mlflow_run_id"] = None
    if track:
        from zvt_pipelines.tracking import data_fingerprint, track_backtest

        market_venue, market_symbol = market_of(data, venue, symbol)
        summary["mlflow_run_id"] = track_backtest(
            result,
            strategy_name=strategy,
            params=params,
            engine_settings=dataclasses.asdict(engine),
            data_fingerprint={
                **data_fingerprint(frame, market_venue, market_symbol),
                "file": str(data),
            },
        )
    if json_output:
        typer.echo(json.dumps(summary))
        return
    typer.echo(f"{strategy} {summary['params']} on {data.name} ({summary['data']['bars']} bars)")
    typer.echo(
        f"  final equity {summary['final_equity']:.2f}  trades {summary['trades']}  fees {summary['fees']:.2f}"
    )
    for name, value in summary["metrics"].items():
        typer.echo(f"  {name:<13} {value if value is None else round(value, 6)}")
    if summary["mlflow_run_id"]:
        typer.echo(
            f"  MLflow run {summary['mlflow_run_id']} (mlflow ui --backend-store-uri {settings().mlflow_uri})"
        )


def _pairs(values: list[str], option: str) -> dict[Any, Path]:
    from zvt_pipelines.model.instrument import InstrumentId

    pairs = {}
    for value in values:
        instrument, sep, path = value.partition("=")
        if not sep:
            fail(
                f"{option} {value!r}: expected INSTRUMENT=FILE, e.g. binance:BTC/USDT=candles.csv.gz"
            )
        if not Path(path).is_file():
            fail(f"{option} {value!r}: no such file {path!r}")
        pairs[InstrumentId.parse(instrument)] = Path(path)
    return pairs


def _event_backtest(
    strategy: str,
    param: list[str],
    market: list[str],
    funding: list[str],
    holding: list[str],
    fee_bps: float,
    half_spread_bps: float,
    cash: float,
    start: str | None,
    end: str | None,
    json_output: bool,
    track: bool,
) -> None:
    """The event-driven path: any family, several instruments and venues, funding."""
    from decimal import Decimal

    import pandas as pd

    from zvt_pipelines.backtest.event_driven import run_backtest
    from zvt_pipelines.backtest.result import json_float
    from zvt_pipelines.backtest.synthetic_books import VenueFees
    from zvt_pipelines.data.candles import read_candle_file
    from zvt_pipelines.ingest.funding import read_funding_file
    from zvt_pipelines.strategies import get_strategy

    files = _pairs(market, "--market")
    if not files:
        fail("--market: the event engine needs at least one INSTRUMENT=FILE")
    candles = {instrument: read_candle_file(path) for instrument, path in files.items()}
    rates = {
        i: read_funding_file(p).rename(columns={"rate": "funding_rate"})
        for i, p in _pairs(funding, "--funding").items()
    }
    first = max(frame["ts"].iloc[0] for frame in candles.values())
    last = min(frame["ts"].iloc[-1] for frame in candles.values())
    window_start = pd.Timestamp(start, tz="UTC") if start else first
    window_end = pd.Timestamp(end, tz="UTC") if end else last + pd.Timedelta(microseconds=1)
    # like the bar engine, the strategy sees only [start, end): its indicators warm up inside
    candles = {
        i: f.loc[(f["ts"] >= window_start) & (f["ts"] < window_end)].reset_index(drop=True)
        for i, f in candles.items()
    }
    holdings: dict[str, dict[str, Decimal]] = {}
    for value in holding:
        where, sep, amount = value.partition("=")
        venue, colon, currency = where.partition(":")
        try:
            quantity = Decimal(amount)
        except ArithmeticError:
            quantity = None
        if not (sep and colon and venue and currency) or quantity is None or quantity < 0:
            fail(f"--holding {value!r}: expected VENUE:CURRENCY=AMOUNT, e.g. kraken:BTC=0.5")
        holdings.setdefault(venue, {})[currency] = quantity
    params = parse_params(param)
    family = get_strategy(strategy)
    instance = family(params, label=strategy, instruments=list(candles))
    result = run_backtest(
        instance,
        candles,
        window_start,
        window_end,
        decimal_from_float(cash),
        funding=rates or None,
        fees=VenueFees(decimal_from_float(fee_bps), decimal_from_float(fee_bps)),
        half_spread_bps=decimal_from_float(half_spread_bps),
        initial_holdings=holdings or None,
    )
    summary = {
        "strategy": strategy,
        "engine": "event",
        "params": instance.params.model_dump(mode="json"),
        "markets": {str(i): str(p) for i, p in files.items()},
        "data": {"start": str(window_start), "end": str(window_end)},
        "final_equity": result.final_equity,
        "trades": result.n_trades,
        "fees": result.fees_paid,
        "funding_income": float(result.funding_income),
        "metrics": {
            k: json_float(result.metrics.get(k, float("nan")))
            for k in ("sharpe", "sortino", "max_drawdown", "calmar", "var_95", "cvar_95")
        },
        "mlflow_run_id": None,
    }
    if track:
        from zvt_pipelines.backtest.replay import Replay
        from zvt_pipelines.tracking import track_backtest

        summary["mlflow_run_id"] = track_backtest(
            result,
            strategy_name=strategy,
            params=summary["params"],
            engine_settings={
                "engine": "event",
                "fee_bps": fee_bps,
                "half_spread_bps": half_spread_bps,
                "cash": cash,
            },
            data_fingerprint=Replay(candles).fingerprint(),
        )
    if json_output:
        typer.echo(json.dumps(summary, default=str))
        return
    typer.echo(
        f"{strategy} (event engine) on {', '.join(summary['markets'])}: final equity "
        f"{summary['final_equity']:.2f}, trades {summary['trades']}, fees {summary['fees']:.2f}, "
        f"funding {summary['funding_income']:.2f}"
    )
    for name, value in summary["metrics"].items():
        typer.echo(f"  {name:<13} {value if value is None else round(value, 6)}")


@app.command()
@one_line_errors
def optimize(
    data: Path = typer.Option(..., help="Candle file to optimise the SMA-cross strategy on."),
    method: str = typer.Option("grid", help="grid, genetic or bayesian."),
    fast: str = typer.Option("5:50:5", help="Fast SMA window range min:max:step."),
    slow: str = typer.Option("20:200:10", help="Slow SMA window range min:max:step."),
    trials: int = typer.Option(
        100, help="Trials for genetic and bayesian (a grid tries every point)."
    ),
    metric: str = typer.Option(
        "final_equity", help="What to maximise: final_equity or any backtest metric."
    ),
    fee_bps: float = typer.Option(10.0, help="Fee in bps of the notional of every fill."),
    cash: float = typer.Option(10_000.0, help="Starting cash."),
    seed: int = typer.Option(0, help="Seed of the genetic and bayesian searches."),
    child_runs: bool = typer.Option(
        True, "--child-runs/--no-child-runs", help="One MLflow child run per trial."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
    track: bool = typer.Option(True, "--track/--no-track", help="Record the sweep in MLflow."),
) -> None:
    """Optimise the SMA-cross windows (fast < slow); every trial can be an MLflow child run."""
    if not data.is_file():
        fail(f"--data {str(data)!r}: no such file")
    if method not in ("grid", "genetic", "bayesian"):
        fail(f"--method {method!r}: choose grid, genetic or bayesian")
    from zvt_pipelines.backtest.optimize import IntParam, SearchSpace, SmaCrossObjective
    from zvt_pipelines.backtest.optimize import optimize as run_optimize
    from zvt_pipelines.backtest.result import json_float
    from zvt_pipelines.backtest.settings import BacktestSettings

    ranges = {
        name: _range(option, text)
        for name, option, text in (("fast", "--fast", fast), ("slow", "--slow", slow))
    }
    frame = load_frame(data, None, None)
    engine = BacktestSettings(cash=cash, fee_bps=fee_bps)
    space = SearchSpace(
        tuple(IntParam(name, *bounds) for name, bounds in ranges.items()),
        constraint=lambda p: p["fast"] < p["slow"],
    )
    objective = SmaCrossObjective(frame, engine, metric=metric)
    n_trials = None if method == "grid" else trials
    run_id = None
    if track:
        from zvt_pipelines.tracking import data_fingerprint, tracked_optimize

        market_venue, market_symbol = market_of(data, None, None)
        result, run_id = tracked_optimize(
            objective,
            space,
            strategy_name="sma_cross",
            objective_name=metric,
            engine_settings=dataclasses.asdict(engine),
            data_fingerprint=data_fingerprint(frame, market_venue, market_symbol),
            method=method,
            n_trials=n_trials,
            seed=seed,
            child_runs=child_runs,
        )
    else:
        result = run_optimize(objective, space, method, n_trials, seed)
    best = result.best
    out = {
        "method": method,
        "metric": metric,
        "trials": len(result.trials),
        "best": None if best is None else {"params": best.params, "score": best.score},
        **{  # NaN (undefined) prints as null
            name: None if value is None else json_float(value)
            for name, value in (("deflated_sharpe", result.deflated_sharpe), ("pbo", result.pbo))
        },
        "mlflow_run_id": run_id,
    }
    if json_output:
        typer.echo(json.dumps(out))
        return
    typer.echo(f"{method} search over {out['trials']} trials on {data.name}: best {out['best']}")
    typer.echo(f"  deflated Sharpe ratio {out['deflated_sharpe']}  PBO {out['pbo']}")
    if run_id:
        typer.echo(f"  MLflow parent run {run_id}")


def _range(option: str, text: str) -> tuple[int, int, int]:
    try:
        low, high, step = (int(part) for part in text.split(":"))
    except ValueError:
        fail(f"{option} {text!r}: expected min:max:step, e.g. 5:50:5")
        raise
    if not 1 <= low <= high or step < 1:
        fail(f"{option} {text!r}: need 1 <= min <= max and step >= 1")
    return low, high, step
