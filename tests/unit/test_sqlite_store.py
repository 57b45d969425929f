"""What only the SQLite store does: WAL mode and its own statement splitter.

Behaviour both backends share is in tests/integration/test_store_contract.py.
"""

from __future__ import annotations

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
