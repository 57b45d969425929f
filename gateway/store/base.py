"""The storage interface every backend implements.

SQL passed through it uses named ``:param`` placeholders; a backend whose driver
wants another style (asyncpg's ``$1``) rewrites them. Rows come back as plain
dicts. Driver exceptions never cross this interface: backends translate them into
`gateway.errors.StoreError` subclasses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

Row = dict[str, Any]
Params = Mapping[str, Any]


class Connection(Protocol):
    """One database session, inside a transaction opened by `Store.transaction`."""

    async def execute(self, sql: str, params: Params | None = None) -> int:
        """Run one statement; return the number of rows it changed."""
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

    async def ping(self) -> None:
        """Check the database answers; raise `StoreUnavailable` if it does not."""
        ...

    async def aclose(self) -> None:
        """Close every connection. Idempotent."""
        ...
