"""Strategy lifecycle: deploy, retune, pause, resume and stop, each change audited.

The strategies file is the source of truth for configuration; `strategy_status` keeps the
configuration last deployed (to tell what changed) and the trading status, which only
`set_status` changes. Every change writes an `audit_log` row (who, when, old, new) in the
same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from zvt_pipelines.errors import ConfigError
from zvt_pipelines.markets import MarketsConfig
from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.lifecycle_models import StrategyStatus
from zvt_pipelines.storage.models import AuditLog
from zvt_pipelines.strategies.config import flatten_keys
from zvt_pipelines.trading.overfitting_gate import OverfittingGate, gate_changes


class Status(StrEnum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    STOPPED = "STOPPED"


# Which status changes a user may ask for; STOPPED needs an explicit resume to trade again.
_ALLOWED = {
    (Status.ACTIVE, Status.PAUSED),
    (Status.PAUSED, Status.ACTIVE),
    (Status.ACTIVE, Status.STOPPED),
    (Status.PAUSED, Status.STOPPED),
    (Status.STOPPED, Status.ACTIVE),
}


@dataclass(frozen=True)
class SyncReport:
    """What a configuration sync found: strategies deployed, retuned and removed."""

    deployed: tuple[str, ...]
    retuned: dict[str, dict[str, tuple[Any, Any]]]
    removed: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return bool(self.deployed or self.retuned or self.removed)


def _audit(session: Any, actor: str, action: str, name: str, old: Any, new: Any) -> None:
    session.add(
        AuditLog(
            at=datetime.now(UTC),
            actor=actor,
            action=action,
            entity="strategy",
            entity_id=name,
            old=old,
            new=new,
        )
    )


def record_audit(
    db: Database, actor: str, action: str, name: str, old: Any = None, new: Any = None
) -> None:
    """One audit row about a strategy, in its own transaction."""
    with db.transaction() as session:
        _audit(session, actor, action, name, old, new)


def check_deployable(entries: list[Any], markets: MarketsConfig, source: str) -> None:
    """Refuse a strategy the markets file cannot serve: every enabled entry's venues must be
    defined there, its instruments collected there, and its leverage within each venue's
    `max_leverage`. The ConfigError names the strategies file, the strategy, key and value."""
    collected = set(markets.instruments)
    for entry in entries:
        if not entry.enabled:  # a disabled strategy never trades; it may name future venues
            continue
        where = f"{source}: strategy {entry.name!r}: key"
        for symbol in entry.symbols:
            venue = symbol.split(":", 1)[0]
            if venue not in markets.venues:
                raise ConfigError(
                    f"{where} 'symbols' = {symbol!r}: venue {venue!r} is not defined in the "
                    f"markets file (venues: {', '.join(markets.venues)})"
                )
            if symbol not in collected:
                raise ConfigError(
                    f"{where} 'symbols' = {symbol!r}: not among the markets file's instruments, "
                    "so no candles are collected for it"
                )
        leverage = entry.risk_limits.max_leverage
        for venue in entry.exchanges:
            cap = markets.venues[venue].max_leverage if venue in markets.venues else None
            if cap is not None and leverage > cap:
                raise ConfigError(
                    f"{where} 'risk_limits.max_leverage' = {leverage}: above venue {venue!r}'s "
                    f"max_leverage {cap}"
                )


def sync_strategies(
    db: Database,
    entries: list[Any],
    actor: str = "config",
    markets: MarketsConfig | None = None,
    source: str = "strategies file",
    overfitting: OverfittingGate | None = None,
) -> SyncReport:
    """Record the strategies of the current configuration: new ones deployed (ACTIVE),
    changed ones retuned (old/new of every changed key audited), missing ones stopped.

    With `markets`, entries the markets file cannot serve are refused first (see
    `check_deployable`) and nothing is recorded. Entries carrying an `optimization` pass
    the `overfitting` gate first (see `gate_changes`); an override is audited.
    """
    from zvt_pipelines.strategies.config import strategy_fingerprint

    if markets is not None:
        check_deployable(entries, markets, source)
    overrides = gate_changes(db, entries, overfitting)
    now = datetime.now(UTC)
    deployed, removed, retuned = [], [], {}
    with db.transaction() as session:
        rows = {row.name: row for row in session.scalars(sa.select(StrategyStatus))}
        current = {entry.name: entry for entry in entries}
        for override in overrides:
            _audit(session, actor, "overfitting_override", override["strategy"], None, override)
        for name, entry in current.items():
            config, fingerprint = entry.model_dump(mode="json"), strategy_fingerprint(entry)
            row = rows.get(name)
            if row is None:
                session.add(
                    StrategyStatus(
                        name=name,
                        status=Status.ACTIVE,
                        fingerprint=fingerprint,
                        config=config,
                        reason="deployed",
                        updated_by=actor,
                        updated_at=now,
                    )
                )
                _audit(session, actor, "strategy_deployed", name, None, config)
                deployed.append(name)
            elif row.fingerprint != fingerprint:
                before, after = flatten_keys(row.config), flatten_keys(config)
                changes = {
                    k: (before.get(k), after.get(k))
                    for k in sorted(before.keys() | after.keys())
                    if before.get(k) != after.get(k)
                }
                _audit(
                    session,
                    actor,
                    "strategy_retuned",
                    name,
                    {k: old for k, (old, _) in changes.items()},
                    {k: new for k, (_, new) in changes.items()},
                )
                row.config, row.fingerprint, row.updated_by, row.updated_at = (
                    config,
                    fingerprint,
                    actor,
                    now,
                )
                if row.status == Status.STOPPED and row.reason == "removed from configuration":
                    row.status, row.reason = Status.ACTIVE, "deployed again"
                retuned[name] = changes
        for name, row in rows.items():
            if name not in current and row.reason != "removed from configuration":
                _audit(
                    session,
                    actor,
                    "strategy_removed",
                    name,
                    {"status": row.status},
                    {"status": Status.STOPPED},
                )
                row.status, row.reason, row.updated_by, row.updated_at = (
                    Status.STOPPED,
                    "removed from configuration",
                    actor,
                    now,
                )
                removed.append(name)
    return SyncReport(tuple(deployed), retuned, tuple(removed))


def get_status(db: Database, name: str) -> Status | None:
    """The strategy's status, or None if it was never deployed."""
    with db.transaction() as session:
        row = session.get(StrategyStatus, name)
        return None if row is None else Status(row.status)


def set_status(db: Database, name: str, status: Status, actor: str, reason: str = "") -> Status:
    """Change a deployed strategy's status (audited); an impossible change is a ConfigError."""
    status = Status(status)
    with db.transaction() as session:
        row = session.get(StrategyStatus, name, with_for_update=True)
        if row is None:
            raise ConfigError(
                f"strategy {name!r}: not deployed (add it to the strategies file first)"
            )
        old = Status(row.status)
        if old == status:
            return old
        if (old, status) not in _ALLOWED:
            raise ConfigError(f"strategy {name!r}: cannot go from {old} to {status}")
        _audit(
            session,
            actor,
            f"strategy_{status.lower()}",
            name,
            {"status": old.value},
            {"status": status.value, "reason": reason},
        )
        row.status, row.reason, row.updated_by, row.updated_at = (
            status,
            reason,
            actor,
            datetime.now(UTC),
        )
    return old


def statuses(db: Database) -> dict[str, Status]:
    """Every deployed strategy's status."""
    with db.transaction() as session:
        return {row.name: Status(row.status) for row in session.scalars(sa.select(StrategyStatus))}


def audit_trail(db: Database, name: str) -> list[AuditLog]:
    """The audit rows of one strategy and its orders' cancels, oldest first."""
    with db.transaction() as session:
        query = sa.select(AuditLog).where(AuditLog.entity_id == name).order_by(AuditLog.id)
        return list(session.scalars(query))
