"""The embedded store zeroes what it deletes: a purged value leaves no bytes in the file."""

from __future__ import annotations

from pathlib import Path

from gateway.store import SQLiteStore

# This machine's SQLite is built with SECURE_DELETE on by default, others (python.org
# builds) are not: the store sets it explicitly; break-tested with the pragma OFF.
SECRET = "王小明 11010519491231002X"  # noqa: S105 - personal data, not a password


async def test_an_overwritten_value_is_gone_from_the_file_and_the_wal(tmp_path: Path) -> None:
    store = await SQLiteStore.open(tmp_path / "t.db")
    try:
        async with store.transaction() as conn:
            await conn.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, data TEXT)")
            for n in range(50):
                await conn.execute("INSERT INTO people (data) VALUES (:d)", {"d": f"{SECRET} {n}"})
        assert await store.truncate_wal()  # the rows are in the database file now
        assert SECRET.encode() in (tmp_path / "t.db").read_bytes()
        async with store.transaction() as conn:
            await conn.execute("UPDATE people SET data = 'purged' WHERE id % 2 = 0")
            await conn.execute("DELETE FROM people WHERE id % 2 = 1")
        assert await store.truncate_wal()
        raw = (tmp_path / "t.db").read_bytes() + (tmp_path / "t.db-wal").read_bytes()
        assert SECRET.encode() not in raw
    finally:
        await store.aclose()
