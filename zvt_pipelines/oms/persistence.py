"""Orders in the trading database: the bus subscriber that records every update, and the loader.

`OrderRecorder` writes each `OrderUpdate` in one transaction. The first update of an order
(previous status NEW) INSERTs its `crypto_orders` row, so a second order under a client
order id already recorded fails on the unique constraint (`DuplicateClientOrderId`) before
it can be sent; every later update is an UPDATE of that row. Each fill is inserted into
`crypto_executions` at most once per (venue, execution id), and cancels, rejects and
expiries get an `audit_log` row. Replaying a later update is therefore harmless, which is
what restart reconciliation relies on.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from zvt_pipelines.errors import StorageError, ZvtError
from zvt_pipelines.model.orders import Fill, Liquidity, OrderStatus, OrderType, Side, TimeInForce
from zvt_pipelines.oms.messages import EventBus, OrderUpdate
from zvt_pipelines.oms.order import TERMINAL, Order, OrderCanceled, OrderExpired, OrderRejected
from zvt_pipelines.storage.database import Database
from zvt_pipelines.storage.models import AuditLog, CryptoExecution, CryptoOrder

_AUDITED = {
    OrderRejected: "order_rejected",
    OrderCanceled: "order_canceled",
    OrderExpired: "order_expired",
}
_ORDERS = CryptoOrder.__table__
_EXECUTIONS = CryptoExecution.__table__
_AUDIT = AuditLog.__table__
_ORDER_COLUMNS = (
    "client_order_id", "venue_order_id", "venue", "symbol", "side", "order_type", "time_in_force",
    "amount", "price", "stop_price", "status", "filled", "average_price", "fee", "fee_currency",
    "strategy", "parent_client_order_id", "linked_client_order_id", "params", "reason",
    "created_at", "updated_at",
)  # fmt: skip
_EXECUTION_COLUMNS = (
    "execution_id", "client_order_id", "venue", "symbol", "side", "amount", "price", "fee",
    "fee_currency", "liquidity", "executed_at",
)  # fmt: skip
_AUDIT_COLUMNS = ("at", "actor", "action", "entity", "entity_id", "old", "new")
_RETURNING = re.compile(r"\s+RETURNING\s+.*$", re.DOTALL)
_PARAM = re.compile(r"%\((\w+)\)s")
_UPDATED_COLUMNS = (
    "venue_order_id", "status", "filled", "average_price", "fee", "fee_currency",
    "linked_client_order_id", "reason", "updated_at",
)  # fmt: skip
# Statuses a stored order can no longer leave through order events (QUARANTINED waits for
# an operator, see oms/quarantine.py).
_INACTIVE = [s.value for s in TERMINAL] + [OrderStatus.QUARANTINED.value]


class DuplicateClientOrderId(StorageError):
    """A new order reuses a client order id the database already holds: refused, never sent."""


class OrderNotRecorded(StorageError):
    """A later update of an order whose row the database does not hold."""


class OrderRecorder:
    """Subscribes to `OrderUpdate` on a bus and records each one atomically.

    On PostgreSQL an update's statements travel pre-rendered as one multi-statement simple
    query on an autocommit connection: PostgreSQL runs such a query as a single
    transaction (all or nothing), and it costs one round trip instead of four (BEGIN,
    write, insert, COMMIT). SQLAlchemy's per-execute work cost as much as the database's
    (see benchmarks/oms_throughput.py). Other databases take the plain SQLAlchemy path.
    """

    def __init__(self, db: Database, actor: str = "oms") -> None:
        self.db, self.actor = db, actor
        insert = pg_insert if db.dialect == "postgresql" else sqlite_insert
        self._insert_order = sa.insert(_ORDERS).values({c: sa.bindparam(c) for c in _ORDER_COLUMNS})
        changes = {c: sa.bindparam(f"new_{c}") for c in _UPDATED_COLUMNS}
        by_id = _ORDERS.c.client_order_id == sa.bindparam("order_id")
        self._update_order = sa.update(_ORDERS).where(by_id).values(changes)
        # a held (NEW) emulated order leaves NEW once, whoever releases it first
        self._release_order = (
            sa.update(_ORDERS)
            .where(by_id, _ORDERS.c.status == OrderStatus.NEW.value)
            .values(changes)
        )
        self._insert_execution = (
            insert(_EXECUTIONS)
            .values({c: sa.bindparam(c) for c in _EXECUTION_COLUMNS})
            .on_conflict_do_nothing(index_elements=["venue", "execution_id"])
        )
        self._insert_audit = sa.insert(_AUDIT).values({c: sa.bindparam(c) for c in _AUDIT_COLUMNS})
        self._conn: sa.Connection | None = None
        self._pg_templates: dict[str, str] | None = None
        self._pg_scripts: dict[tuple[str, int, int], str] = {}
        if db.dialect == "postgresql":
            statements = {
                "insert": self._insert_order,
                "update": self._update_order,
                "execution": self._insert_execution,
                "audit": self._insert_audit,
            }
            self._pg_templates = {
                name: _RETURNING.sub("", str(stmt.compile(dialect=db.engine.dialect)))
                for name, stmt in statements.items()
            }

    def _connection(self) -> sa.Connection:
        """The recorder's own connection, kept open: a pool checkout (and its liveness ping)
        per update would cost a round trip each. Reopened after a failure."""
        if self._conn is None or self._conn.invalidated or self._conn.closed:
            self._conn = self.db.engine.connect()
            if self._pg_templates is not None:
                self._conn = self._conn.execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    def close(self) -> None:
        """Return the connection to the pool."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def attach(self, bus: EventBus) -> OrderRecorder:
        """Start recording the updates published on `bus`."""
        bus.subscribe(OrderUpdate, self.record)
        return self

    def record(self, update: OrderUpdate) -> None:
        """Write one update (order row, new fills, audit rows) in one transaction.

        The order's first update inserts its row; raises DuplicateClientOrderId when the id
        is taken (the one exception: a held emulated order, stored NEW, being released).
        """
        order = update.order
        row = {name: getattr(order, name) for name in _ORDER_COLUMNS}
        for name in ("side", "order_type", "time_in_force", "status"):
            row[name] = row[name].value
        executions = [_execution_row(fill) for fill in update.fills]
        audits = [
            {
                "at": event.ts,
                "actor": self.actor,
                "action": _AUDITED[type(event)],
                "entity": "crypto_orders",
                "entity_id": order.client_order_id,
                "old": {"status": update.previous_status.value},
                "new": {"status": order.status.value, "reason": event.reason},
            }
            for event in update.events
            if type(event) in _AUDITED
        ]
        creating = update.previous_status is OrderStatus.NEW
        try:
            self._write("insert" if creating else "update", row, executions, audits)
        except sa.exc.IntegrityError as exc:
            self.close()
            if not creating:
                raise
            self._write_release(row, executions, audits, bool(update.events), exc)
        except sa.exc.DBAPIError:
            self.close()
            raise

    def _write(self, kind: str, row: dict, executions: list[dict], audits: list[dict]) -> None:
        """Insert or update the order row, then its fills and audit rows, in one transaction."""
        conn = self._connection()
        if self._pg_templates is not None:
            self._write_postgres(conn, kind, row, executions, audits)
            return
        with conn.begin():
            if kind == "insert":
                conn.execute(self._insert_order, row)
            elif conn.execute(self._update_order, _changes(row)).rowcount != 1:
                raise OrderNotRecorded(_not_recorded(row))
            for execution in executions:
                conn.execute(self._insert_execution, execution)
            for entry in audits:
                conn.execute(self._insert_audit, entry)

    def _write_release(
        self,
        row: dict,
        executions: list[dict],
        audits: list[dict],
        has_events: bool,
        error: sa.exc.IntegrityError,
    ) -> None:
        """After a failed insert: release a held NEW row, or refuse the duplicate id."""
        with self.db.engine.begin() as conn:
            stored = conn.execute(
                sa.select(_ORDERS.c.status).where(
                    _ORDERS.c.client_order_id == row["client_order_id"]
                )
            ).scalar()
            if stored is None:
                raise error  # the insert failed for another reason (e.g. a fill's foreign key)
            released = has_events and conn.execute(self._release_order, _changes(row)).rowcount
            if not released:
                raise DuplicateClientOrderId(
                    f"client order id {row['client_order_id']!r}: already recorded (status "
                    f"{stored}); a second order under it is refused"
                ) from None
            for execution in executions:
                conn.execute(self._insert_execution, execution)
            for entry in audits:
                conn.execute(self._insert_audit, entry)

    def _write_postgres(
        self, conn: sa.Connection, kind: str, row: dict, executions: list[dict], audits: list[dict]
    ) -> None:
        """All statements of one update as one simple query: one round trip, one transaction.

        An update goes last, so the query's row count is its own: zero means no such order.
        """
        key = (kind, len(executions), len(audits))
        script = self._pg_scripts.get(key)
        if script is None:
            templates = self._pg_templates  # type: ignore[union-attr]
            parts = [_PARAM.sub(rf"%(e{i}_\1)s", templates["execution"]) for i in range(key[1])]
            parts += [_PARAM.sub(rf"%(a{i}_\1)s", templates["audit"]) for i in range(key[2])]
            parts = (
                [templates["insert"], *parts] if kind == "insert" else [*parts, templates["update"]]
            )
            script = self._pg_scripts[key] = ";\n".join(parts)
        inserting = kind == "insert"
        params = {**row, "params": json.dumps(row["params"])} if inserting else _changes(row)
        for i, execution in enumerate(executions):
            params.update({f"e{i}_{k}": v for k, v in execution.items()})
        for i, entry in enumerate(audits):
            entry = {**entry, "old": json.dumps(entry["old"]), "new": json.dumps(entry["new"])}
            params.update({f"a{i}_{k}": v for k, v in entry.items()})
        result = conn.exec_driver_sql(script, params)
        if kind == "update" and result.rowcount != 1:
            raise OrderNotRecorded(_not_recorded(row))


def _changes(row: dict) -> dict[str, Any]:
    """Bind parameters of an UPDATE of the order's changing columns."""
    return {"order_id": row["client_order_id"], **{f"new_{c}": row[c] for c in _UPDATED_COLUMNS}}


def _not_recorded(row: dict) -> str:
    return (
        f"order {row['client_order_id']!r}: no row to update (status {row['status']}); "
        "its first update was never recorded"
    )


def _execution_row(fill: Fill) -> dict[str, Any]:
    return {
        "execution_id": fill.execution_id,
        "client_order_id": fill.client_order_id,
        "venue": fill.venue,
        "symbol": fill.symbol,
        "side": fill.side.value,
        "amount": fill.amount,
        "price": fill.price,
        "fee": fill.fee,
        "fee_currency": fill.fee_currency,
        "liquidity": fill.liquidity.value,
        "executed_at": fill.timestamp,
    }


def audit(
    db: Database,
    action: str,
    client_order_id: str,
    old: dict | None,
    new: dict | None,
    actor: str = "oms",
) -> None:
    """Write one audit row about an order (e.g. a reconciliation finding)."""
    with db.engine.begin() as conn:
        conn.execute(
            sa.insert(_AUDIT),
            {"at": datetime.now(UTC), "actor": actor, "action": action, "entity": "crypto_orders",
             "entity_id": client_order_id, "old": old, "new": new},
        )  # fmt: skip


def load_active_orders(
    db: Database, venue: str | None = None, *, strategy: str | None = None
) -> list[Order]:
    """Orders not in a terminal status (FILLED included: it may still need settling), with
    their fills; only `venue`'s and only `strategy`'s when given.

    A row that fails the order's consistency checks (a fill above the amount, a duplicate
    or foreign fill, an impossible value) is quarantined (see `oms/quarantine.py`) and left
    out, so one bad order never stops the loading of the others.
    """
    query = sa.select(CryptoOrder).where(CryptoOrder.status.not_in(_INACTIVE))
    if venue is not None:
        query = query.where(CryptoOrder.venue == venue)
    if strategy is not None:
        query = query.where(CryptoOrder.strategy == strategy)
    with db.transaction() as session:
        rows = session.scalars(query.order_by(CryptoOrder.id)).all()
        ids = [r.client_order_id for r in rows]
        executions = session.scalars(
            sa.select(CryptoExecution)
            .where(CryptoExecution.client_order_id.in_(ids))
            .order_by(CryptoExecution.executed_at, CryptoExecution.id)
        ).all()
    by_order: dict[str, list[CryptoExecution]] = {}
    for e in executions:
        by_order.setdefault(e.client_order_id, []).append(e)
    orders = []
    for row in rows:
        try:
            fills = [_fill_from_row(e) for e in by_order.get(row.client_order_id, [])]
            orders.append(_order_from_row(row, fills))
        except (ZvtError, ValueError) as exc:
            from zvt_pipelines.oms.quarantine import quarantine_order

            quarantine_order(db, row.client_order_id, str(exc))
    return orders


def _fill_from_row(e: CryptoExecution) -> Fill:
    return Fill(
        e.execution_id, e.client_order_id, e.venue, e.symbol, Side(e.side), e.amount, e.price,
        e.fee, e.fee_currency or "", Liquidity(e.liquidity or "taker"), e.executed_at,
    )  # fmt: skip


def _order_from_row(row: CryptoOrder, fills: list[Fill]) -> Order:
    params = row.params or {}
    trailing_amount = params.get("trailing_amount")
    trailing_percent = params.get("trailing_percent")
    order = Order(
        client_order_id=row.client_order_id,
        venue=row.venue,
        symbol=row.symbol,
        side=Side(row.side),
        order_type=OrderType(row.order_type),
        amount=row.amount,
        created_at=row.created_at,
        price=row.price,
        stop_price=row.stop_price,
        time_in_force=TimeInForce(row.time_in_force),
        trailing_amount=Decimal(trailing_amount) if trailing_amount else None,
        trailing_percent=Decimal(trailing_percent) if trailing_percent else None,
        strategy=row.strategy,
        linked_client_order_id=row.linked_client_order_id,
        parent_client_order_id=row.parent_client_order_id,
        status=OrderStatus(row.status),
        venue_order_id=row.venue_order_id,
        reason=row.reason,
        updated_at=row.updated_at,
    )
    order.restore_fills(fills)
    return order
