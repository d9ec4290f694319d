"""Orders in the trading database: the bus subscriber that records every update, and the loader.

`OrderRecorder` writes each `OrderUpdate` in one transaction: the `crypto_orders` row is
upserted by client order id, each fill inserted into `crypto_executions` at most once per
(venue, execution id), and cancels, rejects and expiries get an `audit_log` row. Replaying
an update is therefore harmless, which is what restart reconciliation relies on.
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

from zvt_pipelines.model.orders import Fill, Liquidity, OrderStatus, OrderType, Side, TimeInForce
from zvt_pipelines.oms.events import EventBus, OrderUpdate
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


class OrderRecorder:
    """Subscribes to `OrderUpdate` on a bus and records each one atomically.

    On PostgreSQL an update's statements travel pre-rendered as one multi-statement simple
    query on an autocommit connection: PostgreSQL runs such a query as a single
    transaction (all or nothing), and it costs one round trip instead of four (BEGIN,
    upsert, insert, COMMIT). SQLAlchemy's per-execute work cost as much as the database's
    (see benchmarks/oms_throughput.py). Other databases take the plain SQLAlchemy path.
    """

    def __init__(self, db: Database, actor: str = "oms") -> None:
        self.db, self.actor = db, actor
        insert = pg_insert if db.dialect == "postgresql" else sqlite_insert
        upsert = insert(_ORDERS).values({c: sa.bindparam(c) for c in _ORDER_COLUMNS})
        self._upsert_order = upsert.on_conflict_do_update(
            index_elements=["client_order_id"],
            set_={name: upsert.excluded[name] for name in _UPDATED_COLUMNS},
        )
        self._insert_execution = (
            insert(_EXECUTIONS)
            .values({c: sa.bindparam(c) for c in _EXECUTION_COLUMNS})
            .on_conflict_do_nothing(index_elements=["venue", "execution_id"])
        )
        self._insert_audit = sa.insert(_AUDIT).values({c: sa.bindparam(c) for c in _AUDIT_COLUMNS})
        self._conn: sa.Connection | None = None
        self._pg_templates: tuple[str, str, str] | None = None
        self._pg_scripts: dict[tuple[int, int], str] = {}
        if db.dialect == "postgresql":
            self._pg_templates = tuple(  # type: ignore[assignment]
                _RETURNING.sub("", str(stmt.compile(dialect=db.engine.dialect)))
                for stmt in (self._upsert_order, self._insert_execution, self._insert_audit)
            )

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
        """Write one update (order row, new fills, audit rows) in one transaction."""
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
        conn = self._connection()
        try:
            if self._pg_templates is not None:
                self._write_postgres(conn, row, executions, audits)
                return
            with conn.begin():
                conn.execute(self._upsert_order, row)
                for execution in executions:
                    conn.execute(self._insert_execution, execution)
                for entry in audits:
                    conn.execute(self._insert_audit, entry)
        except sa.exc.DBAPIError:
            self.close()
            raise

    def _write_postgres(
        self, conn: sa.Connection, row: dict, executions: list[dict], audits: list[dict]
    ) -> None:
        """All statements of one update as one simple query: one round trip, one transaction."""
        key = (len(executions), len(audits))
        script = self._pg_scripts.get(key)
        if script is None:
            upsert, execution, audit_row = self._pg_templates  # type: ignore[misc]
            parts = [upsert]
            parts += [_PARAM.sub(rf"%(e{i}_\1)s", execution) for i in range(key[0])]
            parts += [_PARAM.sub(rf"%(a{i}_\1)s", audit_row) for i in range(key[1])]
            script = self._pg_scripts[key] = ";\n".join(parts)
        params = {**row, "params": json.dumps(row["params"])}
        for i, execution in enumerate(executions):
            params.update({f"e{i}_{k}": v for k, v in execution.items()})
        for i, entry in enumerate(audits):
            entry = {**entry, "old": json.dumps(entry["old"]), "new": json.dumps(entry["new"])}
            params.update({f"a{i}_{k}": v for k, v in entry.items()})
        conn.exec_driver_sql(script, params)


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


def load_active_orders(db: Database, venue: str | None = None) -> list[Order]:
    """Orders not in a terminal status (FILLED included: it may still need settling), with their fills."""
    query = sa.select(CryptoOrder).where(CryptoOrder.status.not_in([s.value for s in TERMINAL]))
    if venue is not None:
        query = query.where(CryptoOrder.venue == venue)
    with db.transaction() as session:
        rows = session.scalars(query.order_by(CryptoOrder.id)).all()
        ids = [r.client_order_id for r in rows]
        executions = session.scalars(
            sa.select(CryptoExecution)
            .where(CryptoExecution.client_order_id.in_(ids))
            .order_by(CryptoExecution.executed_at, CryptoExecution.id)
        ).all()
    fills: dict[str, list[Fill]] = {}
    for e in executions:
        fills.setdefault(e.client_order_id, []).append(
            Fill(e.execution_id, e.client_order_id, e.venue, e.symbol, Side(e.side), e.amount,
                 e.price, e.fee, e.fee_currency or "", Liquidity(e.liquidity or "taker"), e.executed_at)
        )  # fmt: skip
    return [_order_from_row(r, fills.get(r.client_order_id, [])) for r in rows]


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
