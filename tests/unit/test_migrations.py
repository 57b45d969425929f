"""Schema migrations on a fresh database, an existing one, and the ways they fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.errors import MigrationError
from gateway.store import SQLiteStore, bundled_migrations, migrate
from gateway.store.migrations import load_migrations


def write_migrations(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, sql in files.items():
        (directory / name).write_text(sql, encoding="utf-8")
    return directory


async def versions(store: SQLiteStore) -> list[int]:
    async with store.transaction() as conn:
        rows = await conn.fetch_all("SELECT version FROM schema_migrations ORDER BY version")
    return [row["version"] for row in rows]


async def test_fresh_database_gets_every_bundled_migration(tmp_path: Path) -> None:
    store = await SQLiteStore.open(tmp_path / "t.db")
    try:
        applied = await migrate(store, bundled_migrations("sqlite"))
        assert [m.version for m in applied] == [m.version for m in bundled_migrations("sqlite")]
        assert await versions(store) == [m.version for m in applied]
        async with store.transaction() as conn:
            assert await conn.fetch_all("SELECT * FROM meta") == []
    finally:
        await store.aclose()


async def test_existing_database_gets_only_new_migrations_and_keeps_data(tmp_path: Path) -> None:
    first = {"0001_notes.sql": "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);"}
    directory = write_migrations(tmp_path / "m", first)
    store = await SQLiteStore.open(tmp_path / "t.db")
    try:
        await migrate(store, load_migrations(directory))
        async with store.transaction() as conn:
            await conn.execute("INSERT INTO notes (body) VALUES (:body)", {"body": "kept"})
        write_migrations(directory, {"0002_tags.sql": "ALTER TABLE notes ADD COLUMN tag TEXT;"})
        applied = await migrate(store, load_migrations(directory))
        assert [m.name for m in applied] == ["tags"]
        assert await migrate(store, load_migrations(directory)) == []
        async with store.transaction() as conn:
            assert await conn.fetch_all("SELECT body, tag FROM notes") == [
                {"body": "kept", "tag": None}
            ]
    finally:
        await store.aclose()


async def test_failed_migration_is_rolled_back_whole(tmp_path: Path) -> None:
    bad = {
        "0001_half.sql": "CREATE TABLE a (id INTEGER);\nCREATE TABLE a (id INTEGER);\n",
    }
    store = await SQLiteStore.open(tmp_path / "t.db")
    try:
        with pytest.raises(Exception, match="already exists"):
            await migrate(store, load_migrations(write_migrations(tmp_path / "m", bad)))
        async with store.transaction() as conn:
            tables = await conn.fetch_all("SELECT name FROM sqlite_master WHERE name = 'a'")
        assert tables == []
        assert await versions(store) == []
    finally:
        await store.aclose()


async def test_edited_applied_migration_stops_start(tmp_path: Path) -> None:
    directory = write_migrations(tmp_path / "m", {"0001_a.sql": "CREATE TABLE a (id INTEGER);"})
    store = await SQLiteStore.open(tmp_path / "t.db")
    try:
        await migrate(store, load_migrations(directory))
        write_migrations(directory, {"0001_a.sql": "CREATE TABLE a (id TEXT);"})
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migrate(store, load_migrations(directory))
    finally:
        await store.aclose()


async def test_database_newer_than_code_stops_start(tmp_path: Path) -> None:
    directory = write_migrations(
        tmp_path / "m", {"0001_a.sql": "CREATE TABLE a (id INTEGER);", "0002_b.sql": "SELECT 1;"}
    )
    store = await SQLiteStore.open(tmp_path / "t.db")
    try:
        await migrate(store, load_migrations(directory))
        (directory / "0002_b.sql").unlink()
        with pytest.raises(MigrationError, match="does not know"):
            await migrate(store, load_migrations(directory))
    finally:
        await store.aclose()


def test_gap_in_numbering_is_refused(tmp_path: Path) -> None:
    directory = write_migrations(tmp_path / "m", {"0001_a.sql": "", "0003_c.sql": ""})
    with pytest.raises(MigrationError, match="0002 is missing"):
        load_migrations(directory)


def test_misnamed_file_is_refused(tmp_path: Path) -> None:
    directory = write_migrations(tmp_path / "m", {"1_a.sql": ""})
    with pytest.raises(MigrationError, match="NNNN_name"):
        load_migrations(directory)


def test_bundled_sets_match_across_backends() -> None:
    """Every backend has the same numbered migrations, so the schema evolves in step."""
    sqlite = [(m.version, m.name) for m in bundled_migrations("sqlite")]
    postgres = [(m.version, m.name) for m in bundled_migrations("postgres")]
    assert sqlite == postgres
