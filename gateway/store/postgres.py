"""The scale-out store: PostgreSQL through an asyncpg connection pool.

Several gateway processes may share one database. Each `transaction()` takes a
pooled connection for its duration (READ COMMITTED, the server default), so
transactions run concurrently, unlike the embedded store's single writer.
asyncpg wants ``$1`` placeholders; `rewrite_params` turns the interface's
``:name`` into them once per SQL text. asyncpg exceptions are translated here and
never leave this module.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from functools import lru_cache
from typing import Any, TypeVar

import asyncpg

from gateway.errors import StoreError, StoreUnavailable, UniqueViolation
from gateway.store.base import Connection, Params, Row
from gateway.store.group_commit import GroupCommitter

T = TypeVar("T")

# One pg_advisory_lock key (a signed 64-bit integer) for "migrating the schema".
# Advisory locks are per database, so gateways on other databases never wait on it.
MIGRATION_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"tongban.store.migrate").digest()[:8], "big", signed=True
)

# Skipped whole when looking for :name: string constants (plain and E'' with
# backslash escapes), quoted identifiers, comments, dollar-quoted bodies, and
# ``::`` casts. Only the last alternative, a parameter, is replaced.
_SQL_TOKENS = re.compile(
    r"""
      (?<![\w$])[Ee]'(?:[^'\\]|\\.|'')*'
    | '(?:[^']|'')*'
    | "(?:[^"]|"")*"
    | --[^\n]*
    | /\*.*?\*/
    | (?<![\w$])\$(?P<tag>[A-Za-z_][A-Za-z0-9_]*|)\$.*?\$(?P=tag)\$
    | ::
    | (?<![\w:]):(?P<name>[A-Za-z_][A-Za-z0-9_]*)
    """,
    re.VERBOSE | re.DOTALL,
)

# Statuses whose trailing number counts changed rows ("INSERT 0 3", "UPDATE 2").
_CHANGING_COMMANDS = frozenset({"INSERT", "UPDATE", "DELETE", "MERGE"})

# Transient by nature: the server or the network is down, overloaded, shutting
# down, or chose this transaction as the victim of a conflict. A retry may succeed.
_TRANSIENT: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # class 08, incl. ConnectionDoesNotExistError
    asyncpg.InsufficientResourcesError,  # class 53, incl. TooManyConnectionsError
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TransactionRollbackError,  # class 40: serialization failure, deadlock
    asyncpg.LockNotAvailableError,
    asyncpg.InvalidCachedStatementError,  # the schema changed under a prepared statement
    OSError,  # refused, reset, unreachable
    TimeoutError,  # connect or pool acquire took longer than connect_timeout_s
)


@lru_cache(maxsize=1024)
def rewrite_params(sql: str) -> tuple[str, tuple[str, ...]]:
    """Turn ``:name`` placeholders into ``$n``; return the SQL and the names in order.

    A name used twice gets one number. Casts (``x::text``) and anything inside
    string constants, quoted identifiers, comments or dollar-quoted bodies are left
    alone. Results are cached per SQL text, which the callers keep constant.
    """
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match["name"]
        if name is None:
            return match[0]
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _SQL_TOKENS.sub(number, sql), tuple(names)


def _bind(sql: str, params: Params | None) -> tuple[str, list[Any]]:
    """The rewritten SQL and its positional arguments taken from `params`."""
    text, names = rewrite_params(sql)
    given = params or {}
    missing = [name for name in names if name not in given]
    if missing:
        raise StoreError(f"no value for parameter(s) {', '.join(':' + n for n in missing)}")
    return text, [given[name] for name in names]


def _rowcount(status: str) -> int:
    """Rows changed according to a command status such as ``UPDATE 2``; 0 for others."""
    words = status.split()
    if words and words[0] in _CHANGING_COMMANDS and words[-1].isdigit():
        return int(words[-1])
    return 0


def _unique_columns(exc: asyncpg.UniqueViolationError) -> str | None:
    """``table.col[, table.col]`` from the error's detail, as the SQLite store reports it.

    The detail reads ``Key (a, b)=(1, 2) already exists.``; the values are dropped
    (they may be personal data). None when the detail is missing or unexpected.
    """
    detail = getattr(exc, "detail", None) or ""
    match = re.match(r"Key \((?P<columns>.+?)\)=\(", detail)
    table = getattr(exc, "table_name", None)
    if match is None or not table:
        return None
    return ", ".join(f"{table}.{column.strip()}" for column in match["columns"].split(","))


def _message(exc: BaseException) -> str:
    """The error's primary message, without the server's DETAIL line.

    The detail quotes row values (``Key (id_number)=(...)``, ``Failing row
    contains ...``), which may be personal data and must not reach a log.
    """
    return str(getattr(exc, "message", None) or exc) or type(exc).__name__


@contextmanager
def _translated() -> Iterator[None]:
    """Turn asyncpg (and socket) exceptions into the store's own."""
    try:
        yield
    except asyncpg.UniqueViolationError as exc:
        constraint = _unique_columns(exc) or getattr(exc, "constraint_name", None)
        raise UniqueViolation(_message(exc), constraint=constraint) from exc
    except _TRANSIENT as exc:
        raise StoreUnavailable(_message(exc)) from exc
    except (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError) as exc:
        raise StoreError(_message(exc)) from exc


class PostgresConnection:
    """A transaction on one pooled PostgreSQL connection."""

    def __init__(self, conn: asyncpg.pool.PoolConnectionProxy[asyncpg.Record]) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Params | None = None) -> int:
        text, args = _bind(sql, params)
        with _translated():
            status = await self._conn.execute(text, *args)
        return _rowcount(status)

    async def execute_many(self, sql: str, params: Sequence[Params]) -> None:
        if not params:
            return
        text, _ = rewrite_params(sql)
        with _translated():
            await self._conn.executemany(text, [_bind(sql, p)[1] for p in params])

    async def fetch_one(self, sql: str, params: Params | None = None) -> Row | None:
        text, args = _bind(sql, params)
        with _translated():
            row = await self._conn.fetchrow(text, *args)
        return None if row is None else dict(row)

    async def fetch_all(self, sql: str, params: Params | None = None) -> list[Row]:
        text, args = _bind(sql, params)
        with _translated():
            rows = await self._conn.fetch(text, *args)
        return [dict(row) for row in rows]

    async def execute_script(self, script: str) -> None:
        # Without arguments asyncpg uses the simple query protocol, which accepts
        # several statements in one round trip; they run in this transaction.
        with _translated():
            await self._conn.execute(script)


class PostgresStore:
    """The PostgreSQL store; create it with `PostgresStore.open`."""

    backend = "postgres"

    def __init__(self, pool: asyncpg.Pool, dsn: str, connect_timeout_s: float) -> None:
        self._pool = pool
        self._dsn = dsn
        self._timeout = connect_timeout_s
        self._closed = False
        # `grouped` units share transactions: one WAL flush and one audit lock per batch.
        self._group = GroupCommitter(self)

    @classmethod
    async def open(
        cls,
        dsn: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        connect_timeout_s: float = 10.0,
    ) -> PostgresStore:
        """Connect a pool of `min_size`..`max_size` connections to the database at `dsn`.

        Raises `StoreUnavailable` if the server cannot be reached in
        `connect_timeout_s`, `StoreError` if it refuses (unknown database, bad login).
        """
        with _translated():
            pool = await asyncpg.create_pool(
                dsn,
                min_size=min_size,
                max_size=max_size,
                timeout=connect_timeout_s,
                server_settings={"application_name": "tongban-gateway"},
            )
        return cls(pool, dsn, connect_timeout_s)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresConnection]:
        if self._closed:
            raise StoreUnavailable("the store is closed")
        with _translated():
            conn = await self._pool.acquire(timeout=self._timeout)
        try:
            tx = conn.transaction()
            with _translated():
                await tx.start()
            try:
                yield PostgresConnection(conn)
            except BaseException:
                # If the connection is broken or busy (a cancelled query), the
                # rollback fails too; the pool discards such a connection on release,
                # which ends the transaction server-side. Keep the original error.
                with suppress(Exception):
                    await tx.rollback()
                raise
            with _translated():
                await tx.commit()
        finally:
            await self._pool.release(conn)

    async def grouped(self, work: Callable[[Connection], Coroutine[Any, Any, T]]) -> T:
        """Run `work` in a transaction shared with the other units waiting meanwhile."""
        if self._closed:
            raise StoreUnavailable("the store is closed")
        return await self._group.run(work)

    @asynccontextmanager
    async def read(self, *, quick: bool = False) -> AsyncIterator[PostgresConnection]:
        """A pooled connection in a READ ONLY transaction: it never waits on a writer.

        `quick` changes nothing here: every statement is a network round trip anyway.
        """
        if self._closed:
            raise StoreUnavailable("the store is closed")
        with _translated():
            conn = await self._pool.acquire(timeout=self._timeout)
        try:
            tx = conn.transaction(readonly=True)
            with _translated():
                await tx.start()
            try:
                yield PostgresConnection(conn)
            finally:
                # Nothing to keep: a read-only transaction is ended either way.
                with suppress(Exception):
                    await tx.rollback()
        finally:
            await self._pool.release(conn)

    @asynccontextmanager
    async def migration_lock(self) -> AsyncIterator[None]:
        """Hold the database-wide migration advisory lock for the block.

        Taken on a connection of its own, outside the pool, so the migrations
        themselves can use pooled connections even when the pool has one. The lock
        dies with that connection, so a crashed process never leaves it held.
        """
        if self._closed:
            raise StoreUnavailable("the store is closed")
        with _translated():
            conn = await asyncpg.connect(
                self._dsn,
                timeout=self._timeout,
                server_settings={"application_name": "tongban-gateway migrate"},
            )
        try:
            with _translated():
                await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
            yield
        finally:
            # Ending the session releases its advisory locks.
            try:
                await conn.close(timeout=self._timeout)
            except Exception:
                conn.terminate()

    async def ping(self) -> None:
        if self._closed:
            raise StoreUnavailable("the store is closed")
        try:
            with _translated():
                async with self._pool.acquire(timeout=self._timeout) as conn:
                    await conn.fetchval("SELECT 1")
        except StoreError as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._group.aclose()
        try:
            # close() waits for every borrowed connection to come back; a stuck
            # transaction must not hold up shutdown forever.
            async with asyncio.timeout(self._timeout):
                with _translated():
                    await self._pool.close()
        except TimeoutError:
            self._pool.terminate()
