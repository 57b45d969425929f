"""A migrated SQLite store for tests that need the real schema but no backend matrix."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from gateway.store import SQLiteStore, bundled_migrations, migrate


@asynccontextmanager
async def migrated_sqlite(path: Path) -> AsyncIterator[SQLiteStore]:
    """An SQLite store at `path` with every bundled migration applied; closed on exit."""
    store = await SQLiteStore.open(path)
    try:
        await migrate(store, bundled_migrations("sqlite"))
        yield store
    finally:
        await store.aclose()
