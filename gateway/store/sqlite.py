"""The embedded store: SQLite in WAL mode; one group-committing writer, pooled readers.

SQLite allows one writer at a time. Every logical transaction runs on the one
writer connection, in turn (`WriterTurns`: arrival order, every waiter woken at
once), as a SAVEPOINT inside a batch opened with ``BEGIN IMMEDIATE``; the batch
is committed once for every logical transaction that finished while the previous
COMMIT was under way (group commit: one fsync for many). A logical transaction
that fails is rolled back to its savepoint alone; the others in the batch are
not touched. `transaction()` returns only after the COMMIT that holds its work,
so no caller is answered early.

Inside the open batch a logical transaction's statements run on the event loop's
thread (`InlineConnection`: no thread hop per statement while the writer lock is
held); BEGIN IMMEDIATE and COMMIT, which wait on other processes and the disk, run
on the writer's thread.

Readers never wait for the writer: `read()` lends one of a few read-only
connections, each on its own thread; in WAL mode they read the last commit while
a batch is open. `read(quick=True)` (keyed lookups only) runs its statements on
the event loop's thread instead, on one more read-only connection kept for that:
a point read there costs tens of µs, while a hop to a reader thread costs more
CPU and, under load, waits a whole turn of the busy loop per statement. Those
statements never yield to the loop, so one connection serves every quick read:
each statement reads the last commit on its own (autocommit), as on the pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

from gateway.errors import StoreError, StoreUnavailable
from gateway.store.base import Connection
from gateway.store.sqlite_threads import (
    InlineConnection,
    ThreadedConnection,
    ThreadedDatabase,
    split_statements,
    translated,
)
from gateway.store.turns import WriterTurns

__all__ = ["SQLiteStore", "split_statements"]

T = TypeVar("T")

# One logical transaction holds the writer at a time, so one name suffices.
_SAVEPOINT = "logical_transaction"
_RELEASE = (f"RELEASE {_SAVEPOINT}",)
_UNDO = (f"ROLLBACK TO {_SAVEPOINT}", f"RELEASE {_SAVEPOINT}")


class SQLiteStore:
    """The embedded store; create it with `SQLiteStore.open`."""

    backend = "sqlite"

    def __init__(
        self,
        writer: ThreadedDatabase,
        readers: list[ThreadedDatabase],
        path: Path,
        quick_reader: ThreadedDatabase | None = None,
    ):
        self._writer = writer
        self._quick_reader = quick_reader  # used only on the loop's thread (`read(quick=True)`)
        self._turns = WriterTurns()  # one logical transaction (or COMMIT) on the writer
        self._uncommitted: list[asyncio.Future[None]] = []  # finished, awaiting COMMIT
        self._flush: asyncio.Task[None] | None = None
        self._all_readers = readers
        self._readers: asyncio.Queue[ThreadedDatabase] = asyncio.Queue()
        for reader in readers:
            self._readers.put_nowait(reader)
        self._closed = False
        self.path = path

    @classmethod
    async def open(
        cls,
        path: Path,
        *,
        synchronous: str = "full",
        busy_timeout_ms: int = 5000,
        readers: int = 4,
    ) -> SQLiteStore:
        """Open (creating if needed) the database file at `path`, in WAL mode."""
        path.parent.mkdir(parents=True, exist_ok=True)
        busy = f"PRAGMA busy_timeout={int(busy_timeout_ms)}"
        writer = ThreadedDatabase("sqlite-writer")
        sync = "FULL" if synchronous == "full" else "NORMAL"
        pragmas = ["PRAGMA journal_mode=WAL", f"PRAGMA synchronous={sync}", busy]
        # secure_delete: deleted and overwritten content is zeroed in the file, so purged
        # personal data leaves no bytes behind (gateway/retention/).
        await writer.open(path, [*pragmas, "PRAGMA foreign_keys=ON", "PRAGMA secure_delete=ON"])
        opened: list[ThreadedDatabase] = []
        try:
            for _ in range(readers + 1):
                reader = ThreadedDatabase("sqlite-reader")
                await reader.open(path, [busy, "PRAGMA query_only=ON"])
                opened.append(reader)
        except BaseException:
            for reader in opened:
                await reader.close()
            await writer.close()
            raise
        return cls(writer, opened[1:], path, quick_reader=opened[0])

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[InlineConnection]:
        if self._closed:
            raise StoreUnavailable("the store is closed")
        await self._turns.acquire()
        try:
            await self._enter()
            try:
                yield InlineConnection(self._writer)
            except BaseException:
                await self._settle(_UNDO)
                raise
            await self._settle(_RELEASE)
            committed = asyncio.get_running_loop().create_future()
            self._uncommitted.append(committed)
        finally:
            self._turns.release()
        # Shielded: a caller cancelled now still has its work committed with the batch.
        await asyncio.shield(committed)

    async def grouped(self, work: Callable[[Connection], Coroutine[Any, Any, T]]) -> T:
        """A logical transaction of its own: `transaction()` already shares its COMMIT
        with every other one finished meanwhile, and a failing one is undone alone."""
        async with self.transaction() as conn:
            return await work(conn)

    @asynccontextmanager
    async def read(self, *, quick: bool = False) -> AsyncIterator[Connection]:
        if self._closed:
            raise StoreUnavailable("the store is closed")
        if quick and self._quick_reader is not None:
            yield InlineConnection(self._quick_reader)
            return
        reader = await self._readers.get()
        try:
            yield ThreadedConnection(reader)
        finally:
            self._readers.put_nowait(reader)

    async def _enter(self) -> None:
        """Open the batch if none is, then this logical transaction's savepoint.

        Inside an open batch that is one statement on the loop's thread. Opening a
        batch hops (BEGIN IMMEDIATE may wait for another process's write lock); the
        statements run on the writer's thread even if the caller is cancelled
        meanwhile (say, the audit sealer at shutdown): then they are undone, so no
        savepoint is left behind.
        """
        if self._writer.db.in_transaction:
            with translated():
                self._writer.db.execute(f"SAVEPOINT {_SAVEPOINT}")
            return

        def enter() -> None:
            db = self._writer.db
            if not db.in_transaction:
                db.execute("BEGIN IMMEDIATE")
            db.execute(f"SAVEPOINT {_SAVEPOINT}")

        entering = asyncio.ensure_future(self._writer.call(enter))
        try:
            await asyncio.shield(entering)
        except asyncio.CancelledError:
            with suppress(Exception):
                await entering
                await self._settle(_UNDO)
            raise

    async def _settle(self, statements: tuple[str, ...]) -> None:
        """End the savepoint by `statements`, and make sure a COMMIT of the batch follows."""
        try:
            with translated():
                for statement in statements:
                    self._writer.db.execute(statement)
        finally:
            if self._flush is None and not self._closed:
                self._flush = asyncio.create_task(self._commit_batch(), name="sqlite-commit")

    async def _commit_batch(self) -> None:
        """COMMIT every logical transaction released so far; tell each its outcome."""
        await self._turns.acquire()
        try:
            self._flush = None
            await self._commit_held()
        finally:
            self._turns.release()

    async def _commit_held(self) -> None:
        """The COMMIT itself; the caller holds the writer lock."""
        waiting, self._uncommitted = self._uncommitted, []
        db = self._writer

        def commit() -> None:
            if db.db.in_transaction:
                db.db.execute("COMMIT")

        def rollback() -> None:
            if db.db.in_transaction:
                db.db.execute("ROLLBACK")

        try:
            await asyncio.shield(db.call(commit))
        except BaseException as exc:
            # The ROLLBACK queues behind the COMMIT on the writer's thread, so the lock
            # is not given up while the COMMIT runs (the next batch's statements run
            # on the loop's thread and must not race it).
            with suppress(Exception):
                await db.call(rollback)
            kind = StoreUnavailable if isinstance(exc, StoreUnavailable) else StoreError
            for future in waiting:
                if not future.done():
                    future.set_exception(kind(f"the batch's COMMIT failed: {exc}"))
            if not isinstance(exc, Exception):
                raise
            return
        for future in waiting:
            if not future.done():
                future.set_result(None)

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
        writer = self._writer

        def checkpoint() -> tuple[int, ...] | None:
            row: tuple[int, ...] | None = writer.db.execute(
                "PRAGMA wal_checkpoint(TRUNCATE)"
            ).fetchone()
            return row

        await self._turns.acquire()
        try:
            await self._commit_held()  # a checkpoint cannot run inside the open batch
            row = await writer.call(checkpoint)
        finally:
            self._turns.release()
        return row is not None and row[0] == 0

    async def ping(self) -> None:
        try:
            async with self.read() as conn:
                await conn.fetch_one("SELECT 1")
        except StoreError as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._turns.acquire()
        try:
            if self._flush is not None:
                self._flush.cancel()
                self._flush = None
            await self._commit_held()
            await self._writer.close()
        finally:
            self._turns.release()
        for reader in self._all_readers:
            await reader.close()
        if self._quick_reader is not None:
            await self._quick_reader.close()
