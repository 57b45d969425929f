"""Storage: one async interface, an embedded SQLite backend, numbered migrations.

Open a store with `open_store(settings)`; it is migrated before it is returned.
"""

from __future__ import annotations

from pathlib import Path

from gateway.config import Settings
from gateway.errors import ConfigError
from gateway.store.base import Connection, Params, Row, Store
from gateway.store.migrations import Migration, bundled_migrations, migrate
from gateway.store.sqlite import SQLiteStore

__all__ = [
    "Connection",
    "Migration",
    "Params",
    "Row",
    "SQLiteStore",
    "Store",
    "bundled_migrations",
    "migrate",
    "open_store",
]


async def open_store(settings: Settings) -> Store:
    """Open the store named by `settings` and bring its schema up to date.

    Raises `StoreError` if it cannot be opened or migrated, `ConfigError` for a
    backend this build does not have.
    """
    url = settings.store_url
    if url.startswith("sqlite:///"):
        store: Store = await SQLiteStore.open(
            Path(url.removeprefix("sqlite:///")),
            synchronous=settings.store.sqlite_synchronous,
            busy_timeout_ms=settings.store.busy_timeout_ms,
        )
    else:
        raise ConfigError("store.url", [("store.url", "the PostgreSQL backend is not built yet")])
    try:
        await migrate(store, bundled_migrations(store.backend))
    except BaseException:
        await store.aclose()
        raise
    return store
