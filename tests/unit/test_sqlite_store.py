"""What only the SQLite store does: WAL mode and its own statement splitter.

Behaviour both backends share is in tests/integration/test_store_contract.py.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from gateway.errors import StoreError
from gateway.store import SQLiteStore
from gateway.store.sqlite import split_statements


async def test_database_is_in_wal_mode(tmp_path: Path) -> None:
    store = await SQLiteStore.open(tmp_path / "t.db")
    try:
        async with store.transaction() as conn:
            row = await conn.fetch_one("PRAGMA journal_mode")
        assert row == {"journal_mode": "wal"}
    finally:
        await store.aclose()


async def test_a_file_that_is_no_database_is_refused_and_left_closed(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    path.write_bytes(b"not an SQLite database\n" * 200)
    before = set(threading.enumerate())
    with pytest.raises(StoreError, match="not a database"):
        await SQLiteStore.open(path)
    # The connection's worker thread ends only when the connection is closed.
    for thread in set(threading.enumerate()) - before:
        thread.join(timeout=10)
        assert not thread.is_alive(), f"{thread.name} outlived the failed open"


async def test_a_transaction_cancelled_at_begin_leaves_none_open(tmp_path: Path) -> None:
    """aiosqlite runs BEGIN on its thread even when the awaiting task is cancelled (the
    audit sealer at shutdown): the next transaction must still start."""
    store = await SQLiteStore.open(tmp_path / "t.db")
    try:
        entered = asyncio.Event()

        async def write() -> None:
            async with store.transaction():
                entered.set()

        task = asyncio.create_task(write())
        await asyncio.sleep(0)  # the task now awaits its BEGIN
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not entered.is_set()
        async with store.transaction() as conn:
            await conn.execute("CREATE TABLE t (x INTEGER)")
    finally:
        await store.aclose()


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


def test_split_finds_statements_sharing_a_line() -> None:
    script = "CREATE TABLE a (s TEXT); INSERT INTO a VALUES ('1;2'); -- done; really\n"
    assert split_statements(script) == [
        "CREATE TABLE a (s TEXT);",
        "INSERT INTO a VALUES ('1;2');",
    ]


def test_split_refuses_an_unfinished_statement() -> None:
    with pytest.raises(StoreError, match="incomplete"):
        split_statements("CREATE TABLE a (id INTEGER)")
