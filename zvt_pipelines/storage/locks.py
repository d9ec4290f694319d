"""One lock per strategy, held by whoever decides and sends that strategy's orders.

Two processes (the schedule, the drift sensor, the CLI, a second daemon) that rebalance the
same strategy at once would both pass the "already sent" check and both send. The lock makes
check-and-send one critical section per strategy across processes and machines:

- PostgreSQL: a session advisory lock (`pg_try_advisory_lock`) on a key derived from the
  strategy name, on a connection of its own; the server releases it when that connection
  ends, so a killed process never leaves it held.
- SQLite (one machine by nature): an exclusive `flock` on a file beside the database file,
  one file per strategy; the kernel releases it when the process dies. SQLite's own write
  lock (`BEGIN IMMEDIATE`) cannot serve: the holder's order writes go through other
  connections and would wait on it.

Waiting polls with a short sleep and gives up with `StrategyLocked` after `timeout` seconds.
The lock is reentrant within a thread: a step that holds it may call another that takes it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from zvt_pipelines.errors import ZvtError
from zvt_pipelines.storage.database import Database

POLL_SECONDS = 0.05
DEFAULT_TIMEOUT = 600.0
_MEMORY_LOCKS: dict[str, threading.Lock] = {}
_HELD: dict[tuple[str, str], int] = {}  # (database url, strategy) -> holding thread's id


class StrategyLocked(ZvtError):
    """Another process held the strategy's lock for longer than the caller would wait."""


def lock_key(strategy: str) -> int:
    """The signed 64-bit advisory-lock key of a strategy (stable across processes and hosts)."""
    digest = hashlib.sha256(f"zvt-strategy:{strategy}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def strategy_lock(db: Database, strategy: str, timeout: float = DEFAULT_TIMEOUT) -> Iterator[None]:
    """Hold the strategy's lock for the body of the `with`; raises StrategyLocked on timeout."""
    key = (db.url, strategy)
    if _HELD.get(key) == threading.get_ident():  # taken further up this thread's stack
        yield
        return
    with _acquire(db, strategy, timeout):
        _HELD[key] = threading.get_ident()
        try:
            yield
        finally:
            del _HELD[key]


@contextmanager
def _acquire(db: Database, strategy: str, timeout: float) -> Iterator[None]:
    if db.dialect == "postgresql":
        with _advisory_lock(db, strategy, timeout):
            yield
        return
    database = db.engine.url.database
    if db.dialect == "sqlite" and database and database != ":memory:":
        with _file_lock(Path(database), strategy, timeout):
            yield
        return
    lock = _MEMORY_LOCKS.setdefault(strategy, threading.Lock())  # one process owns the database
    if not lock.acquire(timeout=timeout):
        raise StrategyLocked(f"strategy {strategy!r}: still locked after {timeout:g} s")
    try:
        yield
    finally:
        lock.release()


@contextmanager
def _advisory_lock(db: Database, strategy: str, timeout: float) -> Iterator[None]:
    key = lock_key(strategy)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        take = sa.text("SELECT pg_try_advisory_lock(:key)")
        deadline = time.monotonic() + timeout
        while not conn.execute(take, {"key": key}).scalar():
            if time.monotonic() >= deadline:
                raise StrategyLocked(
                    f"strategy {strategy!r}: still locked by another process after {timeout:g} s"
                )
            time.sleep(POLL_SECONDS)
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key})


@contextmanager
def _file_lock(database: Path, strategy: str, timeout: float) -> Iterator[None]:
    folder = database.with_name(database.name + ".locks")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(strategy.encode()).hexdigest()[:32]}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StrategyLocked(
                        f"strategy {strategy!r}: still locked by another process after "
                        f"{timeout:g} s (lock file {path})"
                    ) from None
                time.sleep(POLL_SECONDS)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
