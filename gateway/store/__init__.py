"""Storage: one async interface, SQLite (embedded) and PostgreSQL backends, migrations.

Open a store with `open_store(settings)`; the ``store.url`` scheme picks the
backend, and the store is migrated before it is returned. The PostgreSQL backend
(`gateway.store.postgres.PostgresStore`) needs the ``[postgres]`` extra (asyncpg)
and is imported only when configured.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from gateway.config import Settings
from gateway.errors import ConfigError, StoreError
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
    "shown_url",
]


async def open_store(settings: Settings) -> Store:
    """Open the store named by `settings` and bring its schema up to date.

    ``sqlite:///PATH`` opens the embedded store; ``postgresql://`` (or
    ``postgres://``) a PostgreSQL pool sized by ``store.pool_*``. Raises
    `StoreUnavailable` if the database cannot be reached, `StoreError` if it cannot
    be opened or migrated, `ConfigError` if asyncpg is not installed.
    """
    url = settings.store_url
    store: Store
    if url.startswith(("postgresql://", "postgres://")):
        try:
            # Imported here: asyncpg is an optional extra.
            from gateway.store.postgres import PostgresStore
        except ModuleNotFoundError as exc:
            if exc.name != "asyncpg":
                raise
            need = "needs asyncpg: pip install 'tongban-gateway[postgres]'"
            raise ConfigError("store.url", [("store.url", need)]) from exc
        try:
            store = await PostgresStore.open(
                url,
                min_size=settings.store.pool_min_size,
                max_size=settings.store.pool_max_size,
                connect_timeout_s=settings.store.connect_timeout_s,
            )
        except StoreError as exc:
            # Name the setting to fix; the socket error alone ("Connect call failed") does not.
            raise type(exc)(f"cannot open store.url = {shown_url(url)}: {exc}") from exc
    else:
        # StoreSettings admits no other scheme.
        store = await SQLiteStore.open(
            Path(url.removeprefix("sqlite:///")),
            synchronous=settings.store.sqlite_synchronous,
            busy_timeout_ms=settings.store.busy_timeout_ms,
        )
    try:
        await migrate(store, bundled_migrations(store.backend))
    except BaseException:
        await store.aclose()
        raise
    return store


def shown_url(url: str) -> str:
    """`url` as it may be printed: no password, no query (it can hold one too)."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    return f"{parts.scheme}://{netloc}{parts.path}"
