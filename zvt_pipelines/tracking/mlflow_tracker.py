"""Record backtests and optimisation sweeps as MLflow runs.

Where runs go: an explicit `tracking_uri`, else `MLFLOW_TRACKING_URI` from the given
environment, else `sqlite:///<ZVT_HOME>/mlflow.db`. For local stores (SQLite,
PostgreSQL, file) each experiment gets an `artifact_location` under
`<ZVT_HOME>/mlartifacts/` so artifacts never land in the working directory; a
tracking server (http/https) decides its own artifact store.

One experiment per strategy (`zvt/<strategy>`) unless named. A run holds:

* params: the strategy configuration (`strategy.*`), the engine settings (`engine.*`)
  and the data fingerprint (`data.*`), flattened with dotted keys, values cut to
  `PARAM_VALUE_LIMIT` characters (a cut value ends in a hash of the whole value);
* metrics: every metric of the result plus final equity, trades and fees;
* artifacts: the charts (PNG), the HTML report, `trades.csv`, `equity.csv`, `config.yaml`.

A sweep is a parent run; each trial is a child run tagged `mlflow.parentRunId` (the
tag the MLflow UI nests by). mlflow is imported inside the functions that use it:
importing it costs seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml

from zvt_pipelines.backtest.result import BacktestResult
from zvt_pipelines.errors import TrackingError
from zvt_pipelines.settings import Settings

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from zvt_pipelines.backtest.optimize import OptimizationResult, SearchSpace, Trial

PARAM_VALUE_LIMIT = 500
PARAM_KEY_LIMIT = 250
BATCH_PARAMS = 100
EXPERIMENT_PREFIX = "zvt/"
PARENT_TAG = "mlflow.parentRunId"
_KEY_ALLOWED = re.compile(r"[^A-Za-z0-9_\-. /]")


@dataclass(frozen=True)
class TrackingTarget:
    """Where runs are stored: the tracking URI and, for local stores, the artifact root."""

    tracking_uri: str
    artifact_root: Path | None

    @classmethod
    def resolve(
        cls, tracking_uri: str | None = None, env: Mapping[str, str] | None = None
    ) -> TrackingTarget:
        """Explicit URI, else `MLFLOW_TRACKING_URI`, else SQLite under `ZVT_HOME`."""
        env = os.environ if env is None else env
        settings = Settings.from_env(env)
        uri = tracking_uri or env.get("MLFLOW_TRACKING_URI") or settings.mlflow_uri
        remote = uri.startswith(("http://", "https://", "databricks"))
        return cls(uri, None if remote else settings.home / "mlartifacts")

    def client(self) -> MlflowClient:
        """A client bound to this store (the store's schema is migrated on first use)."""
        from mlflow import MlflowClient

        if self.tracking_uri.startswith("sqlite:///"):
            Path(self.tracking_uri.removeprefix("sqlite:///")).parent.mkdir(
                parents=True, exist_ok=True
            )
        return MlflowClient(tracking_uri=self.tracking_uri)


def experiment_name(strategy_name: str) -> str:
    """The default experiment of a strategy: ``zvt/<strategy>``."""
    return f"{EXPERIMENT_PREFIX}{strategy_name}"


def ensure_experiment(client: MlflowClient, name: str, target: TrackingTarget) -> str:
    """The id of experiment `name`, created (with its artifact location) if missing."""
    existing = client.get_experiment_by_name(name)
    if existing is not None:
        return existing.experiment_id
    location = None
    if target.artifact_root is not None:
        folder = target.artifact_root / re.sub(r"[^A-Za-z0-9_.-]", "_", name)
        folder.mkdir(parents=True, exist_ok=True)
        location = folder.resolve().as_uri()
    return client.create_experiment(name, artifact_location=location)


def _param_value(value: Any) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, list | tuple):
        text = json.dumps(list(value), default=str)
    else:
        text = str(value)
    if len(text) <= PARAM_VALUE_LIMIT:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    suffix = f"...[sha256:{digest}]"
    return text[: PARAM_VALUE_LIMIT - len(suffix)] + suffix


def flatten_params(values: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested mappings as one level of dotted keys, values as strings MLflow accepts.

    Lists and tuples become JSON; values longer than `PARAM_VALUE_LIMIT` characters
    are cut and end in ``...[sha256:<16 hex>]`` of the full value; characters MLflow
    rejects in keys become ``_``.

    >>> flatten_params({"a": {"b": 1, "c": [1, 2]}}, "strategy")
    {'strategy.a.b': '1', 'strategy.a.c': '[1, 2]'}
    """
    flat: dict[str, str] = {}
    for key, value in values.items():
        name = _KEY_ALLOWED.sub("_", f"{prefix}.{key}" if prefix else str(key))
        if isinstance(value, Mapping):
            flat.update(flatten_params(value, name))
        else:
            flat[name[:PARAM_KEY_LIMIT]] = _param_value(value)
    return flat


def data_fingerprint(
    frame: pd.DataFrame, venue: str, symbol: str | Iterable[str], timeframe: str | None = None
) -> dict[str, Any]:
    """What data a backtest saw: venue, symbols, time range, bars and a content hash.

    ``sha256`` hashes the open times (int64 ms) and the float64 OHLCV columns in
    order, so two frames share a hash exactly when they hold the same candles.
    """
    symbols = [symbol] if isinstance(symbol, str) else list(symbol)
    digest = hashlib.sha256()
    digest.update(frame["ts"].astype("datetime64[ms, UTC]").astype("int64").to_numpy().tobytes())
    for column in ("open", "high", "low", "close", "volume"):
        digest.update(frame[column].to_numpy(dtype="float64").tobytes())
    fingerprint: dict[str, Any] = {
        "venue": venue,
        "symbols": ",".join(symbols),
        "start": frame["ts"].iloc[0].isoformat() if len(frame) else "",
        "end": frame["ts"].iloc[-1].isoformat() if len(frame) else "",
        "bars": len(frame),
        "sha256": digest.hexdigest(),
    }
    if timeframe is not None:
        fingerprint["timeframe"] = timeframe
    return fingerprint


def result_metrics(result: BacktestResult) -> dict[str, float]:
    """Every metric of the result plus `final_equity`, `trades` and `fees_paid`."""
    values = {name: float(value) for name, value in result.metrics.items()}
    values.update(
        final_equity=float(result.final_equity),
        trades=float(result.n_trades),
        fees_paid=float(result.fees_paid),
    )
    return values


def _log_values(
    client: MlflowClient,
    run_id: str,
    params: Mapping[str, str],
    metrics: Mapping[str, float],
    tags: Mapping[str, str] | None = None,
) -> None:
    from mlflow.entities import Metric, Param, RunTag

    stamp = int(pd.Timestamp.now(tz="UTC").timestamp() * 1000)
    param_list = [Param(k, v) for k, v in params.items()]
    for start in range(0, max(len(param_list), 1), BATCH_PARAMS):
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, stamp, 0) for k, v in metrics.items()] if start == 0 else [],
            params=param_list[start : start + BATCH_PARAMS],
            tags=[RunTag(k, v) for k, v in (tags or {}).items()] if start == 0 else [],
        )


def _write_artifacts(
    folder: Path,
    result: BacktestResult,
    *,
    title: str,
    flat_params: Mapping[str, str],
    config_yaml: str,
) -> None:
    from zvt_pipelines.backtest.report import write_report

    write_report(result, folder / "report", title=title, params=dict(flat_params))
    result.trades.to_csv(folder / "trades.csv", index=False)
    result.equity.rename("equity").to_frame().to_csv(folder / "equity.csv")
    (folder / "config.yaml").write_text(config_yaml, encoding="utf-8")


def _open_run(
    target: TrackingTarget,
    experiment: str,
    run_name: str | None,
    parent_run_id: str | None,
) -> tuple[MlflowClient, str]:
    from mlflow.exceptions import MlflowException

    try:
        client = target.client()
        experiment_id = ensure_experiment(client, experiment, target)
        tags = {PARENT_TAG: parent_run_id} if parent_run_id else {}
        run = client.create_run(experiment_id, run_name=run_name, tags=tags)
    except MlflowException as exc:
        raise TrackingError(f"MLflow store {target.tracking_uri!r}: {exc.message}") from exc
    return client, run.info.run_id


def track_backtest(
    result: BacktestResult,
    *,
    strategy_name: str,
    params: Mapping[str, Any],
    engine_settings: Mapping[str, Any],
    data_fingerprint: Mapping[str, Any],
    config_yaml: str | None = None,
    tracking_uri: str | None = None,
    env: Mapping[str, str] | None = None,
    experiment: str | None = None,
    parent_run_id: str | None = None,
    run_name: str | None = None,
    artifacts: bool = True,
) -> str:
    """Record one backtest as an MLflow run and return its run id.

    Parameters
    ----------
    result : the backtest to record
    strategy_name : names the default experiment ``zvt/<strategy_name>``
    params, engine_settings, data_fingerprint : logged under ``strategy.``, ``engine.``
        and ``data.`` (see `flatten_params`, `data_fingerprint`)
    config_yaml : the strategy's YAML as written by the user; without it the params
        and settings are dumped as YAML
    tracking_uri, env : see `TrackingTarget.resolve`
    experiment : overrides the experiment name
    parent_run_id : makes this run a child of a sweep (`start_sweep`)
    artifacts : False skips charts, report and CSVs (params and metrics only)
    """
    target = TrackingTarget.resolve(tracking_uri, env)
    flat = {
        **flatten_params(params, "strategy"),
        **flatten_params(engine_settings, "engine"),
        **flatten_params(data_fingerprint, "data"),
    }
    config = config_yaml or yaml.safe_dump(
        {
            "strategy": strategy_name,
            "params": json.loads(json.dumps(dict(params), default=str)),
            "engine": json.loads(json.dumps(dict(engine_settings), default=str)),
        },
        sort_keys=False,
    )
    client, run_id = _open_run(
        target, experiment or experiment_name(strategy_name), run_name, parent_run_id
    )
    status = "FAILED"
    try:
        _log_values(client, run_id, flat, result_metrics(result), {"zvt.strategy": strategy_name})
        if artifacts:
            with tempfile.TemporaryDirectory(prefix="zvt-run-") as tmp:
                folder = Path(tmp)
                _write_artifacts(
                    folder,
                    result,
                    title=f"{strategy_name} backtest",
                    flat_params=flat,
                    config_yaml=config,
                )
                client.log_artifacts(run_id, str(folder))
        status = "FINISHED"
    finally:
        client.set_terminated(run_id, status=status)
    return run_id


@dataclass
class Sweep:
    """An open optimisation sweep: a parent run whose trials become child runs.

    Pass `log_trial` as `optimize(..., on_trial=sweep.log_trial)`; call `finish` with
    the optimisation result to record the best trial on the parent and close it.
    """

    client: MlflowClient
    experiment_id: str
    run_id: str
    log_infeasible: bool = False

    def log_trial(self, trial: Trial) -> str | None:
        """Record one trial as a child run (params and score); returns its run id.

        Infeasible trials (never evaluated) are skipped unless `log_infeasible`.
        """
        if trial.score is None and not self.log_infeasible:
            return None
        client = self.client
        run = client.create_run(
            self.experiment_id,
            run_name=f"trial-{trial.number}",
            tags={PARENT_TAG: self.run_id, "zvt.trial_status": trial.status.value},
        )
        score = {} if trial.score is None else {"score": float(trial.score)}
        _log_values(client, run.info.run_id, flatten_params(trial.params, "strategy"), score)
        client.set_terminated(run.info.run_id, status="FINISHED")
        return run.info.run_id

    def finish(self, result: OptimizationResult | None = None, *, failed: bool = False) -> None:
        """Log the best params and score and every trial (`trials.csv`) on the parent run,
        then terminate it."""
        client = self.client
        if result is not None:
            with tempfile.TemporaryDirectory(prefix="zvt-sweep-") as tmp:
                table = Path(tmp) / "trials.csv"
                result.to_frame().to_csv(table, index=False)
                client.log_artifact(self.run_id, str(table))
        if result is not None and result.best is not None:
            best = {f"best.{k}": v for k, v in flatten_params(result.best.params).items()}
            values = {"best_score": float(result.best.score), "trials": float(len(result.trials))}
            # the overfitting gate reads these two back at deploy (trading/overfitting_gate.py)
            for figure in ("deflated_sharpe", "pbo"):
                if getattr(result, figure) is not None:
                    values[figure] = float(getattr(result, figure))
            _log_values(client, self.run_id, best, values)
        client.set_terminated(self.run_id, status="FAILED" if failed else "FINISHED")


def start_sweep(
    *,
    strategy_name: str,
    method: str,
    space: Mapping[str, Any],
    engine_settings: Mapping[str, Any],
    data_fingerprint: Mapping[str, Any],
    objective: str,
    tracking_uri: str | None = None,
    env: Mapping[str, str] | None = None,
    experiment: str | None = None,
    run_name: str | None = None,
) -> Sweep:
    """Open the parent run of an optimisation sweep (see `Sweep`).

    The parent's params are the search space (``space.``), method, objective, engine
    settings and data fingerprint; `Sweep.finish` adds ``best.*`` and ``best_score``.
    """
    target = TrackingTarget.resolve(tracking_uri, env)
    name = experiment or experiment_name(strategy_name)
    client, run_id = _open_run(target, name, run_name or f"sweep-{method}", None)
    flat = {
        **flatten_params({"method": method, "objective": objective}, "sweep"),
        **flatten_params(space, "space"),
        **flatten_params(engine_settings, "engine"),
        **flatten_params(data_fingerprint, "data"),
    }
    _log_values(client, run_id, flat, {}, {"zvt.strategy": strategy_name, "zvt.sweep": method})
    experiment_id = client.get_run(run_id).info.experiment_id
    return Sweep(client=client, experiment_id=experiment_id, run_id=run_id)


def tracked_optimize(
    objective: Callable[[dict[str, Any]], float],
    space: SearchSpace,
    *,
    strategy_name: str,
    objective_name: str,
    engine_settings: Mapping[str, Any],
    data_fingerprint: Mapping[str, Any],
    method: str = "grid",
    n_trials: int | None = None,
    seed: int = 0,
    direction: str = "maximize",
    child_runs: bool = True,
    tracking_uri: str | None = None,
    env: Mapping[str, str] | None = None,
    experiment: str | None = None,
) -> tuple[OptimizationResult, str]:
    """`optimize` inside a sweep: a parent run, one child run per evaluated trial.

    Each child run costs a few store writes (~40 ms on local SQLite), so a
    1,000-point grid adds most of a minute; ``child_runs=False`` keeps only the parent,
    whose `trials.csv` artifact lists every trial either way. Returns the optimisation
    result and the parent run id; the parent is marked FAILED (and the error
    re-raised) if the objective raises.
    """
    from zvt_pipelines.backtest.optimize import optimize

    sweep = start_sweep(
        strategy_name=strategy_name,
        method=method,
        space=space.describe(),
        engine_settings=engine_settings,
        data_fingerprint=data_fingerprint,
        objective=objective_name,
        tracking_uri=tracking_uri,
        env=env,
        experiment=experiment,
    )
    try:
        result = optimize(
            objective,
            space,
            method,
            n_trials,
            seed,
            direction,
            on_trial=sweep.log_trial if child_runs else None,
        )
    except BaseException:
        sweep.finish(failed=True)
        raise
    sweep.finish(result)
    return result, sweep.run_id
