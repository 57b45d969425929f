"""The storage interface every backend implements.

SQL passed through it uses named ``:param`` placeholders; a backend whose driver
wants another style (asyncpg's ``$1``) rewrites them. Rows come back as plain
dicts. Driver exceptions never cross this interface: backends translate them into
`gateway.errors.StoreError` subclasses.

What every backend guarantees (tests/integration/test_store_contract.py runs the
same tests on each):

- ``execute`` returns the rows an INSERT, UPDATE or DELETE changed (rows a
  trigger changed not included) and 0 for any other statement, never -1.
- ``execute`` is for one statement (SQLite refuses more; PostgreSQL accepts more
  only without parameters: do not rely on it). Scripts go through
  ``execute_script``, without BEGIN/COMMIT: it runs in the caller's transaction.
- A transaction is atomic and, once the block exits, durable and visible to
  every later transaction and read: the block does not exit before the COMMIT
  that holds its work. A missing ``:param`` raises `StoreError`.
- Concurrent transactions may share one COMMIT (group commit, SQLite); one that
  raises is rolled back alone, the others in its batch are unaffected.
- ``grouped(work)`` runs ``work(conn)`` as a transaction that shares its COMMIT
  with other ``grouped`` units on every backend (PostgreSQL: several units in one
  transaction, a failed batch run again one unit per transaction; SQLite: a
  ``transaction()``, which group-commits already). For many small writes (the
  relay's settlements); it returns only after the COMMIT holding the unit, and a
  unit that raises fails alone. A unit may run more than once: it must do nothing
  but SQL on the connection it is given.
- ``read()`` is for work that writes nothing: it never waits for an open write
  transaction, sees only committed data (each statement the latest commit, as at
  READ COMMITTED), and a write inside it fails with `StoreError`. Inside a
  transaction, read through the transaction's own connection (it sees its
  uncommitted writes; ``read()`` does not). Code woken by a write still in
  flight (the audit sealer's nudge) reads in a transaction, which waits for it.
- Keep a transaction to SQL: no file checks, crypto, network or calendar
  arithmetic inside the block (every other writer waits for it on SQLite).
- `UniqueViolation.constraint` is ``table.column`` (columns joined by ``", "``
  for a composite key), the same text on both backends.
- `StoreUnavailable` means "retry later may succeed": server unreachable, pool
  exhausted, busy, or this transaction lost a deadlock or serialization conflict
  (it was rolled back whole). Any other failure is a plain `StoreError`.

Where they differ, write SQL both accept:

- SQLite (embedded): one writer at a time; transactions are serialised in the
  process (each a SAVEPOINT in a batch opened by ``BEGIN IMMEDIATE``), so they
  never conflict, only wait. A transaction must not open another (it would wait
  for itself).
  PostgreSQL: transactions run concurrently at READ COMMITTED; concurrent writers
  may deadlock (`StoreUnavailable`), and ``FOR UPDATE SKIP LOCKED`` is available.
- Values keep the column's Python type on PostgreSQL, which never coerces: pass
  ``int`` for INTEGER and ``str`` for TEXT. SQLite converts by column affinity and
  returns BOOLEAN as 0/1; prefer INTEGER 0/1 columns and TEXT timestamps (ISO 8601
  UTC) so rows read back identically.
- Parameter names inside string literals, quoted identifiers, comments and
  dollar quotes are not parameters on either backend; write ``x::type`` casts
  only in PostgreSQL-specific migrations (SQLite has no ``::``).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, TypeVar

Row = dict[str, Any]
Params = Mapping[str, Any]
T = TypeVar("T")


class Connection(Protocol):
    """One database session, from `Store.transaction` or `Store.read`."""

    async def execute(self, sql: str, params: Params | None = None) -> int:
        """Run one statement; return the rows an INSERT/UPDATE/DELETE changed, else 0."""
        ...

    async def execute_many(self, sql: str, params: Sequence[Params]) -> None:
        """Run one statement once per parameter set."""
        ...

    async def fetch_one(self, sql: str, params: Params | None = None) -> Row | None:
        """Run a query; return its first row, or None."""
        ...

    async def fetch_all(self, sql: str, params: Params | None = None) -> list[Row]:
        """Run a query; return every row."""
        ...

    async def execute_script(self, script: str) -> None:
        """Run several ``;``-separated statements (migrations), in this transaction."""
        ...


class Store(Protocol):
    """A durable database. Open it with `open_store`; close it with `aclose`."""

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgres"``: names the migration set to apply."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[Connection]:
        """Open a transaction: committed when the block exits, rolled back if it raises.

        Nothing written inside is visible to others, or durable, before the commit.
        """
        ...

    async def grouped(self, work: Callable[[Connection], Coroutine[Any, Any, T]]) -> T:
        """Run `work` in a transaction that may hold other units too (group commit);
        return its result once committed. If it raises, only it fails."""
        ...

    def read(self, *, quick: bool = False) -> AbstractAsyncContextManager[Connection]:
        """Lend a connection for reading committed data; it never waits for a writer.

        Writing through it fails with `StoreError`. With `quick` the caller promises
        only keyed lookups (index seeks returning a few rows, as a case GET does):
        SQLite then runs them on the event loop's thread, where one costs tens of
        µs, less than a hop to a reader thread, which under load waits a whole turn
        of the busy loop. Never for a scan or a filtered page: it would stall every
        request meanwhile. PostgreSQL ignores it.
        """
        ...

    def migration_lock(self) -> AbstractAsyncContextManager[None]:
        """Held around `migrate`: other processes sharing the database wait for it.

        PostgreSQL takes a database-wide advisory lock. SQLite needs none: every
        migration's transaction re-checks the ledger under ``BEGIN IMMEDIATE``,
        which already serialises writers across processes.
        """
        ...

    async def ping(self) -> None:
        """Check the database answers; raise `StoreUnavailable` if it does not."""
        ...

    async def aclose(self) -> None:
        """Close every connection. Idempotent."""
        ...
