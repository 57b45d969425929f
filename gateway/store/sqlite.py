"""The embedded store: SQLite in WAL mode, through aiosqlite.

aiosqlite runs each sqlite3 call on the connection's own thread, so the event loop
never blocks on disk. SQLite allows one writer at a time, so transactions are
serialised by an `asyncio.Lock` and opened with ``BEGIN IMMEDIATE``: a writer
takes the lock up front instead of failing half-way with "database is locked".
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from pathlib import Path

import aiosqlite

from gateway.errors import StoreError, StoreUnavailable, UniqueViolation
from gateway.store.base import Params, Row


@contextmanager
def _translated() -> Iterator[None]:
    """Turn sqlite3 exceptions into the store's own."""
    try:
        yield
    except sqlite3.IntegrityError as exc:
        message = str(exc)
        if message.startswith("UNIQUE constraint failed"):
            raise UniqueViolation(message, constraint=message.partition(": ")[2]) from exc
        raise StoreError(message) from exc
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise StoreUnavailable(str(exc)) from exc
        raise StoreError(str(exc)) from exc
    except (sqlite3.Error, ValueError) as exc:
        # aiosqlite raises ValueError when used after close.
        raise StoreError(str(exc)) from exc


def split_statements(script: str) -> list[str]:
    """Split an SQL script into complete statements (trigger bodies stay whole)."""
    statements, pending = [], ""
    # Try each ";" as an end: complete_statement() knows when one sits inside a
    # string, a comment or a trigger body. (Splitting by line missed "a; b;".)
    for piece in re.split(r"(?<=;)", script):
        pending += piece
        if sqlite3.complete_statement(pending):
            if pending.strip():
                statements.append(pending.strip())
            pending = ""
    if pending.strip() and not all(
        ln.strip().startswith("--") or not ln.strip() for ln in pending.splitlines()
    ):
        raise StoreError(f"incomplete SQL statement at end of script: {pending.strip()[:80]!r}")
    return statements


class SQLiteConnection:
    """A transaction on the shared SQLite connection."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    async def execute(self, sql: str, params: Params | None = None) -> int:
        with _translated():
            cursor = await self._db.execute(sql, params or {})
            # sqlite3 says -1 for statements that change no rows by nature (DDL,
            # SELECT); the interface says 0, as PostgreSQL's command status does.
            return max(cursor.rowcount, 0)

    async def execute_many(self, sql: str, params: Sequence[Params]) -> None:
        with _translated():
            await self._db.executemany(sql, params)

    async def fetch_one(self, sql: str, params: Params | None = None) -> Row | None:
        with _translated():
            async with self._db.execute(sql, params or {}) as cursor:
                row = await cursor.fetchone()
        return None if row is None else dict(row)

    async def fetch_all(self, sql: str, params: Params | None = None) -> list[Row]:
        with _translated():
            async with self._db.execute(sql, params or {}) as cursor:
                rows = await cursor.fetchall()
        return [dict(row) for row in rows]

    async def execute_script(self, script: str) -> None:
        # sqlite3.executescript() would COMMIT first and break the transaction.
        for statement in split_statements(script):
            await self.execute(statement)


class SQLiteStore:
    """The embedded store; create it with `SQLiteStore.open`."""

    backend = "sqlite"

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self._lock = asyncio.Lock()
        self._closed = False
        self.path = path

    @classmethod
    async def open(
        cls, path: Path, *, synchronous: str = "full", busy_timeout_ms: int = 5000
    ) -> SQLiteStore:
        """Open (creating if needed) the database file at `path`, in WAL mode."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with _translated():
            # isolation_level=None: we issue BEGIN/COMMIT ourselves.
            db = await aiosqlite.connect(path, isolation_level=None)
        try:
            with _translated():
                db.row_factory = sqlite3.Row
                # The first statement is where a file that is no database fails.
                await db.execute("PRAGMA journal_mode=WAL")
                sync = "FULL" if synchronous == "full" else "NORMAL"
                await db.execute(f"PRAGMA synchronous={sync}")
                await db.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
                await db.execute("PRAGMA foreign_keys=ON")
                # Deleted and overwritten content is zeroed in the file, so purged
                # personal data leaves no bytes behind (gateway/retention/).
                await db.execute("PRAGMA secure_delete=ON")
        except BaseException:
            # Else its thread and its sqlite3 connection outlive the failed open.
            await db.close()
            raise
        return cls(db, path)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SQLiteConnection]:
        async with self._lock:
            await self._begin()
            try:
                yield SQLiteConnection(self._db)
            except BaseException:
                with _translated():
                    await self._db.execute("ROLLBACK")
                raise
            with _translated():
                await self._db.execute("COMMIT")

    async def _begin(self) -> None:
        """BEGIN IMMEDIATE, leaving no transaction open if the caller is cancelled.

        aiosqlite runs the statement on its thread even when the awaiting task is
        cancelled (say, the audit sealer at shutdown): the BEGIN would then stay open
        and the next transaction fail ("cannot start a transaction within a transaction").
        """
        begin = asyncio.ensure_future(self._db.execute("BEGIN IMMEDIATE"))
        try:
            with _translated():
                await asyncio.shield(begin)
        except asyncio.CancelledError:
            with suppress(Exception):
                await begin
                await self._db.execute("ROLLBACK")
            raise

    @asynccontextmanager
    async def migration_lock(self) -> AsyncIterator[None]:
        """Nothing to take: each migration re-checks the ledger under BEGIN IMMEDIATE.

        That write lock is file-wide, so a second process opening the same file
        waits (up to ``busy_timeout_ms``) for the first's migration, then sees it
        applied.
        """
        yield

    async def truncate_wal(self) -> bool:
        """Checkpoint the WAL into the database and truncate it to zero bytes.

        False if a reader kept it from finishing (try again later); old page images,
        purged personal data among them, stay in the WAL until this succeeds.
        """
        async with self._lock:
            with _translated():
                async with self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)") as cursor:
                    row = await cursor.fetchone()
        return row is not None and row[0] == 0

    async def ping(self) -> None:
        if self._closed:
            raise StoreUnavailable("the store is closed")
        try:
            with _translated():
                async with self._db.execute("SELECT 1") as cursor:
                    await cursor.fetchone()
        except StoreError as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        async with self._lock:
            with _translated():
                await self._db.close()
