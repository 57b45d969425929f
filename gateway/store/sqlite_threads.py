"""One sqlite3 connection on a thread of its own, and the statements it runs there.

sqlite3 blocks, so a call that may wait runs on the connection's thread and the
event loop awaits it. One hop per statement: the statement, its row count and its
rows come back together (aiosqlite needs two or three hops for the same). A call
cancelled while it waits still runs on the thread; the thread runs calls in order,
so a later ROLLBACK always follows the statement it undoes.

`InlineConnection` runs statements on the event loop's own thread instead: for the
writer inside an open write batch (WAL mode), where a statement touches only pages
in memory and its WAL frames are written (not synced) — microseconds, far less
than a hop, which under load waits a whole turn of a busy event loop while the
writer lock is held. What can wait on the disk or on another process (BEGIN
IMMEDIATE, COMMIT, checkpoints, migration scripts) still hops.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from gateway.errors import StoreError, StoreUnavailable, UniqueViolation
from gateway.store.base import Params, Row

T = TypeVar("T")


@contextmanager
def translated() -> Iterator[None]:
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
    except sqlite3.Error as exc:
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


class ThreadedDatabase:
    """A sqlite3 connection used only from its own thread; `call` runs work there."""

    def __init__(self, name: str) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._db: sqlite3.Connection | None = None

    async def open(self, path: Path, pragmas: Sequence[str]) -> None:
        """Connect to `path` and run `pragmas`; on failure the thread is ended too."""

        def connect() -> None:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves.
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            db.row_factory = sqlite3.Row
            try:
                for pragma in pragmas:
                    db.execute(pragma)  # the first is where a non-database fails
            except BaseException:
                db.close()
                raise
            self._db = db

        try:
            await self.call(connect)
        except BaseException:
            self._thread.shutdown(wait=True)
            raise

    async def call(self, work: Callable[[], T]) -> T:
        """Run `work` on the connection's thread, sqlite3 errors translated."""
        future = asyncio.get_running_loop().run_in_executor(self._thread, work)
        with translated():
            return await future

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError("the store is closed")
        return self._db

    def execute(self, sql: str, params: Params | None) -> int:
        """On the thread: run one statement, return the rows it changed (0, never -1)."""
        # sqlite3 says -1 for statements that change no rows by nature (DDL,
        # SELECT); the interface says 0, as PostgreSQL's command status does.
        return max(self.db.execute(sql, params or {}).rowcount, 0)

    def fetch_all(self, sql: str, params: Params | None) -> list[Row]:
        return [dict(row) for row in self.db.execute(sql, params or {}).fetchall()]

    def fetch_one(self, sql: str, params: Params | None) -> Row | None:
        row = self.db.execute(sql, params or {}).fetchone()
        return None if row is None else dict(row)

    async def close(self) -> None:
        def close() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None

        try:
            await self.call(close)
        finally:
            self._thread.shutdown(wait=True)


class InlineConnection:
    """The `Connection` interface over a `ThreadedDatabase`, run on the caller's thread.

    Only for statements inside the writer's open batch, with the writer lock held
    (so nothing runs on the connection's thread meanwhile), and for the quick
    reader, which is used on the loop's thread alone; see the module docstring.
    """

    def __init__(self, database: ThreadedDatabase) -> None:
        self._database = database

    async def execute(self, sql: str, params: Params | None = None) -> int:
        with translated():
            return self._database.execute(sql, params)

    async def execute_many(self, sql: str, params: Sequence[Params]) -> None:
        with translated():
            self._database.db.executemany(sql, params)

    async def fetch_one(self, sql: str, params: Params | None = None) -> Row | None:
        with translated():
            return self._database.fetch_one(sql, params)

    async def fetch_all(self, sql: str, params: Params | None = None) -> list[Row]:
        with translated():
            return self._database.fetch_all(sql, params)

    async def execute_script(self, script: str) -> None:
        # Migrations: long DDL waits on the disk, so it runs on the connection's thread.
        await ThreadedConnection(self._database).execute_script(script)


class ThreadedConnection:
    """The `Connection` interface over a `ThreadedDatabase`, one hop per statement."""

    def __init__(self, database: ThreadedDatabase) -> None:
        self._database = database

    async def execute(self, sql: str, params: Params | None = None) -> int:
        database = self._database
        return await database.call(lambda: database.execute(sql, params))

    async def execute_many(self, sql: str, params: Sequence[Params]) -> None:
        database = self._database
        await database.call(lambda: database.db.executemany(sql, params))

    async def fetch_one(self, sql: str, params: Params | None = None) -> Row | None:
        database = self._database
        return await database.call(lambda: database.fetch_one(sql, params))

    async def fetch_all(self, sql: str, params: Params | None = None) -> list[Row]:
        database = self._database
        return await database.call(lambda: database.fetch_all(sql, params))

    async def execute_script(self, script: str) -> None:
        # sqlite3.executescript() would COMMIT first and break the transaction.
        statements = split_statements(script)
        database = self._database

        def run() -> None:
            for statement in statements:
                database.db.execute(statement)

        await database.call(run)
