"""The SQLite store: WAL mode, transactions, translated errors, statement splitting."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.errors import StoreError, StoreUnavailable, UniqueViolation
from gateway.store import SQLiteStore
from gateway.store.sqlite import split_statements


@pytest.fixture
async def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    opened = await SQLiteStore.open(tmp_path / "t.db")
    async with opened.transaction() as conn:
        await conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)")
    yield opened
    await opened.aclose()


async def test_database_is_in_wal_mode(store: SQLiteStore) -> None:
    async with store.transaction() as conn:
        row = await conn.fetch_one("PRAGMA journal_mode")
    assert row == {"journal_mode": "wal"}


async def test_commit_is_visible_and_durable_across_reopen(store: SQLiteStore) -> None:
    async with store.transaction() as conn:
        await conn.execute_many(
            "INSERT INTO t (k, v) VALUES (:k, :v)", [{"k": "a", "v": 1}, {"k": "b", "v": 2}]
        )
    await store.aclose()
    reopened = await SQLiteStore.open(store.path)
    try:
        async with reopened.transaction() as conn:
            assert await conn.fetch_all("SELECT k, v FROM t ORDER BY k") == [
                {"k": "a", "v": 1},
                {"k": "b", "v": 2},
            ]
    finally:
        await reopened.aclose()


async def test_exception_rolls_back(store: SQLiteStore) -> None:
    async def insert_then_fail() -> None:
        async with store.transaction() as conn:
            await conn.execute("INSERT INTO t (k, v) VALUES ('a', 1)")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await insert_then_fail()
    async with store.transaction() as conn:
        assert await conn.fetch_one("SELECT * FROM t") is None


async def test_unique_violation_is_translated(store: SQLiteStore) -> None:
    async with store.transaction() as conn:
        await conn.execute("INSERT INTO t (k, v) VALUES ('a', 1)")
    with pytest.raises(UniqueViolation) as caught:
        async with store.transaction() as conn:
            await conn.execute("INSERT INTO t (k, v) VALUES ('a', 2)")
    assert caught.value.constraint == "t.k"


async def test_sql_error_is_translated(store: SQLiteStore) -> None:
    with pytest.raises(StoreError, match="no such table"):
        async with store.transaction() as conn:
            await conn.execute("SELECT * FROM missing")


async def test_rowcount_is_returned(store: SQLiteStore) -> None:
    async with store.transaction() as conn:
        await conn.execute("INSERT INTO t (k, v) VALUES ('a', 1), ('b', 1)")
        assert await conn.execute("UPDATE t SET v = 2 WHERE v = 1") == 2


async def test_ping_after_close_is_unavailable(tmp_path: Path) -> None:
    store = await SQLiteStore.open(tmp_path / "x.db")
    await store.ping()
    await store.aclose()
    await store.aclose()  # idempotent
    with pytest.raises(StoreUnavailable):
        await store.ping()


def test_split_keeps_trigger_bodies_whole() -> None:
    script = """
    -- a comment
    CREATE TABLE a (id INTEGER);
    CREATE TRIGGER no_update BEFORE UPDATE ON a
    BEGIN
        SELECT RAISE(ABORT, 'append-only; really');
    END;
    """
    statements = split_statements(script)
    assert len(statements) == 2
    assert statements[1].endswith("END;")


def test_split_refuses_an_unfinished_statement() -> None:
    with pytest.raises(StoreError, match="incomplete"):
        split_statements("CREATE TABLE a (id INTEGER)")
