"""One SQLite database file, used from Trio: one connection, one call at a time, in a thread.

- **WAL** journal: readers never block the writer, and a crash (even ``kill -9``) never leaves a
  half-written transaction visible.
- **synchronous=FULL**: each commit is fsynced before the call returns, so an acknowledged
  write survives a power loss too, not only a process crash (NORMAL would only lose the last
  commits on power loss, but xo-server's writes — users, ACLs, tokens, servers — are rare and
  small, so an fsync each is cheap, and "acknowledged means durable" is the simpler promise).
- **One connection, serialized**: every call runs in a worker thread
  (``trio.to_thread.run_sync``) under a capacity limiter of 1, so the connection is never used
  by two threads at once and there is exactly one writer. A cancelled caller still waits for
  its statement to finish (the thread is not abandoned), so the connection is never left in
  the middle of a transaction.
- Migrations (xo/store/migrations) run at open, each in its own transaction, recorded in
  ``PRAGMA user_version``.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import trio

from xo.store.migrations import Migration, load_migrations

log = logging.getLogger(__name__)

T = TypeVar("T")


class SchemaTooNew(RuntimeError):
    """The file was written by a newer version (its user_version is beyond our migrations)."""


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def apply_migrations(conn: sqlite3.Connection, migrations: list[Migration]) -> list[int]:
    """Bring the schema up to date; returns the versions applied."""
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    latest = migrations[-1].version if migrations else 0
    if current > latest:
        raise SchemaTooNew(
            f"database schema version {current} is newer than this program's ({latest})"
        )
    applied = []
    for migration in migrations:
        if migration.version <= current:
            continue
        try:
            # executescript commits anything pending first, so the BEGIN is part of the script.
            conn.executescript(
                f"BEGIN IMMEDIATE;\n{migration.sql}\nPRAGMA user_version = {migration.version};\nCOMMIT;"
            )
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        log.info("store: applied migration %04d_%s", migration.version, migration.name)
        applied.append(migration.version)
    return applied


class Database:
    """The connection and the thread discipline; SQL lives in xo/store/sqlite.py."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn: sqlite3.Connection | None = conn
        self._limiter = trio.CapacityLimiter(1)

    @classmethod
    async def open(cls, path: Path | str, migrations: list[Migration] | None = None) -> Database:
        migrations = load_migrations() if migrations is None else migrations
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)

        def open_and_migrate() -> sqlite3.Connection:
            conn = _connect(str(path))
            try:
                apply_migrations(conn, migrations)
            except BaseException:
                conn.close()
                raise
            return conn

        return cls(await trio.to_thread.run_sync(open_and_migrate))

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("the store is closed")
        return self._conn

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` in the worker thread (no transaction opened)."""
        conn = self.conn
        return await trio.to_thread.run_sync(fn, conn, limiter=self._limiter)

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` in one IMMEDIATE transaction: committed (durably) or rolled back."""
        conn = self.conn

        def transaction(conn: sqlite3.Connection) -> T:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

        return await trio.to_thread.run_sync(transaction, conn, limiter=self._limiter)

    async def aclose(self) -> None:
        if self._conn is None:
            return
        conn, self._conn = self._conn, None
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(conn.close, limiter=self._limiter)
