"""Schema migrations on each backend: fresh database, existing one, failures, races."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from support.fixture_types import StoreFactory
from support.migration_files import write_migrations

from gateway.errors import MigrationError, StoreError
from gateway.store import Store, bundled_migrations, migrate
from gateway.store.migrations import load_migrations


async def versions(store: Store) -> list[int]:
    async with store.transaction() as conn:
        rows = await conn.fetch_all("SELECT version FROM schema_migrations ORDER BY version")
    return [row["version"] for row in rows]


async def test_fresh_database_gets_every_bundled_migration(store: Store) -> None:
    bundled = bundled_migrations(store.backend)
    applied = await migrate(store, bundled)
    assert [m.version for m in applied] == [m.version for m in bundled]
    assert await versions(store) == [m.version for m in applied]
    async with store.transaction() as conn:
        assert await conn.fetch_all("SELECT * FROM meta") == []


async def test_existing_database_gets_only_new_migrations_and_keeps_data(
    store: Store, tmp_path: Path
) -> None:
    first = {"0001_notes.sql": "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);"}
    directory = write_migrations(tmp_path / "m", first)
    await migrate(store, load_migrations(directory))
    async with store.transaction() as conn:
        await conn.execute("INSERT INTO notes (id, body) VALUES (1, :body)", {"body": "kept"})
    write_migrations(directory, {"0002_tags.sql": "ALTER TABLE notes ADD COLUMN tag TEXT;"})
    applied = await migrate(store, load_migrations(directory))
    assert [m.name for m in applied] == ["tags"]
    assert await migrate(store, load_migrations(directory)) == []
    async with store.transaction() as conn:
        assert await conn.fetch_all("SELECT body, tag FROM notes") == [
            {"body": "kept", "tag": None}
        ]


async def test_failed_migration_is_rolled_back_whole(store: Store, tmp_path: Path) -> None:
    bad = {
        "0001_half.sql": "CREATE TABLE a (id INTEGER);\nCREATE TABLE a (id INTEGER);\n",
    }
    with pytest.raises(StoreError, match="already exists"):
        await migrate(store, load_migrations(write_migrations(tmp_path / "m", bad)))
    with pytest.raises(StoreError):
        async with store.transaction() as conn:
            await conn.fetch_all("SELECT * FROM a")
    assert await versions(store) == []


async def test_edited_applied_migration_stops_start(store: Store, tmp_path: Path) -> None:
    directory = write_migrations(tmp_path / "m", {"0001_a.sql": "CREATE TABLE a (id INTEGER);"})
    await migrate(store, load_migrations(directory))
    write_migrations(directory, {"0001_a.sql": "CREATE TABLE a (id TEXT);"})
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await migrate(store, load_migrations(directory))


async def test_database_newer_than_code_stops_start(store: Store, tmp_path: Path) -> None:
    directory = write_migrations(
        tmp_path / "m", {"0001_a.sql": "CREATE TABLE a (id INTEGER);", "0002_b.sql": "SELECT 1;"}
    )
    await migrate(store, load_migrations(directory))
    (directory / "0002_b.sql").unlink()
    with pytest.raises(MigrationError, match="does not know"):
        await migrate(store, load_migrations(directory))


async def test_processes_migrating_at_once_apply_each_migration_once(
    store_factory: StoreFactory, tmp_path: Path
) -> None:
    """Two gateways starting together on one database: no error, no double apply.

    Each store has its own connections (a pool, or its own SQLite connection), as
    two processes would.
    """
    files = {
        f"{n:04d}_step{n}.sql": f"CREATE TABLE step{n} (id INTEGER PRIMARY KEY);"
        for n in range(1, 6)
    }
    migrations = load_migrations(write_migrations(tmp_path / "m", files))
    stores = [await store_factory(), await store_factory()]
    results = await asyncio.gather(*(migrate(s, migrations) for s in stores))
    applied = sorted(m.version for result in results for m in result)
    assert applied == [1, 2, 3, 4, 5]
    assert await versions(stores[0]) == [1, 2, 3, 4, 5]
