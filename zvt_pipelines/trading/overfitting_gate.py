"""The overfitting gate: an optimised parameter set is deployed only when its
optimisation's deflated Sharpe ratio and PBO pass the strategies file's thresholds.

A strategy entry names the optimisation its params came from (`optimization: RUN_ID`,
the MLflow parent run of `zvt optimize`). When such an entry is deployed or retuned, the
gate reads that record (through a lookup the caller supplies, so this layer never imports
MLflow), checks the entry's params are the optimisation's best, and refuses with one line
naming both figures and both thresholds, unless an override reason is given; overrides
are returned for the audit log.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from zvt_pipelines.errors import ConfigError
from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.lifecycle_models import StrategyStatus
from zvt_pipelines.strategies.research_config import OverfittingThresholds


class OverfittingRefused(ConfigError):
    """An optimised parameter set failed the overfitting thresholds and no override was given."""


@dataclass(frozen=True)
class OptimizationRecord:
    """What the gate needs from a recorded optimisation (figures None when not recorded)."""

    run_id: str
    strategy: str | None
    deflated_sharpe: float | None
    pbo: float | None
    best_params: dict[str, str] = field(default_factory=dict)  # as recorded: strings


def _shown(value: float | None) -> str:
    return "missing" if value is None or not math.isfinite(value) else f"{value:.4f}"


@dataclass(frozen=True)
class OverfittingGate:
    """Thresholds, a lookup of optimisation records by id and an optional override reason."""

    thresholds: OverfittingThresholds
    lookup: Callable[[str], OptimizationRecord]
    override_reason: str | None = None

    def __post_init__(self) -> None:
        if self.override_reason is not None and not self.override_reason.strip():
            raise ConfigError("--reason '': an overfitting override needs a reason")

    def failure(self, record: OptimizationRecord) -> str | None:
        """One line naming both figures and thresholds when either fails, else None."""
        limits = self.thresholds
        dsr, pbo = record.deflated_sharpe, record.pbo
        dsr_ok = dsr is not None and math.isfinite(dsr) and dsr >= limits.min_deflated_sharpe
        pbo_ok = pbo is not None and math.isfinite(pbo) and pbo <= limits.max_pbo
        if dsr_ok and pbo_ok:
            return None
        return (
            f"deflated_sharpe {_shown(dsr)} {'>=' if dsr_ok else 'fails'} min_deflated_sharpe "
            f"{limits.min_deflated_sharpe}, pbo {_shown(pbo)} {'<=' if pbo_ok else 'fails'} "
            f"max_pbo {limits.max_pbo}"
        )

    def check(self, entries: list[Any]) -> list[dict[str, Any]]:
        """Check the entries about to be deployed or retuned; raise `OverfittingRefused` on
        a failure without override. Returns one audit record per overridden failure."""
        overrides = []
        for entry in entries:
            run_id = getattr(entry, "optimization", None)
            if run_id is None or not entry.enabled:
                continue
            where = f"strategy {entry.name!r}: optimization {run_id!r}"
            record = self.lookup(run_id)
            if record.strategy is not None and record.strategy != entry.type:
                raise ConfigError(f"{where}: optimised {record.strategy!r}, not {entry.type!r}")
            for key, best in sorted(record.best_params.items()):
                if str(entry.params.get(key)) != best:
                    raise ConfigError(
                        f"{where}: key 'params.{key}' = {entry.params.get(key)!r} is not the "
                        f"optimisation's best ({best})"
                    )
            failure = self.failure(record)
            if failure is None:
                continue
            if self.override_reason is None:
                raise OverfittingRefused(
                    f"{where}: refused, overfit: {failure} (deploy anyway with "
                    "--override-overfitting --reason '...')"
                )
            overrides.append(
                {
                    "strategy": entry.name,
                    "optimization": run_id,
                    "deflated_sharpe": record.deflated_sharpe,
                    "pbo": record.pbo,
                    **self.thresholds.model_dump(),
                    "failure": failure,
                    "reason": self.override_reason,
                }
            )
        return overrides


def gate_changes(
    db: Database, entries: list[Any], gate: OverfittingGate | None
) -> list[dict[str, Any]]:
    """Gate the optimised entries that a sync would deploy or retune (fingerprint not yet
    recorded); unchanged ones were gated when they were deployed. Without a gate such an
    entry is refused: a deploy path that cannot read optimisations must not skip the check.
    Returns the overrides to audit."""
    from zvt_pipelines.strategies.config import strategy_fingerprint

    optimised = [e for e in entries if getattr(e, "optimization", None) and e.enabled]
    if not optimised:
        return []
    with db.transaction() as session:
        rows = session.execute(sa.select(StrategyStatus.name, StrategyStatus.fingerprint))
        known = {name: fingerprint for name, fingerprint in rows}
    changing = [e for e in optimised if known.get(e.name) != strategy_fingerprint(e)]
    if changing and gate is None:
        entry = changing[0]
        raise ConfigError(
            f"strategy {entry.name!r}: key 'optimization' = {entry.optimization!r}: this path "
            "cannot check the optimisation for overfitting; deploy it with `zvt strategy sync`"
        )
    return gate.check(changing) if changing else []
