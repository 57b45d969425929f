"""Group commit: shared transactions, each caller's own result, one bad unit isolated."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from gateway.relay.group_commit import GroupCommitter
from gateway.store import Connection, SQLiteStore


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = await SQLiteStore.open(tmp_path / "g.db")
    try:
        async with opened.transaction() as conn:
            await conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY)")
        yield opened
    finally:
        await opened.aclose()


def insert(key: str) -> Callable[[Connection], Awaitable[str]]:
    async def work(conn: Connection) -> str:
        await conn.execute("INSERT INTO t (k) VALUES (:k)", {"k": key})
        return key

    return work


async def keys(store: SQLiteStore) -> list[str]:
    async with store.transaction() as conn:
        return [row["k"] for row in await conn.fetch_all("SELECT k FROM t ORDER BY k")]


async def test_every_caller_gets_its_own_result(store: SQLiteStore) -> None:
    committer = GroupCommitter(store)
    results = await asyncio.gather(*(committer.run(insert(f"k{n}")) for n in range(20)))
    await committer.aclose()
    assert results == [f"k{n}" for n in range(20)]
    assert len(await keys(store)) == 20


async def test_a_failing_unit_fails_alone(store: SQLiteStore) -> None:
    committer = GroupCommitter(store)
    outcomes: list[str | BaseException] = list(
        await asyncio.gather(
            committer.run(insert("a")),
            committer.run(insert("a")),  # duplicate key: this one must fail
            committer.run(insert("b")),
            return_exceptions=True,
        )
    )
    await committer.aclose()
    assert outcomes[0] == "a"
    assert isinstance(outcomes[1], Exception)
    assert outcomes[2] == "b"
    assert await keys(store) == ["a", "b"]


async def test_units_are_batched_into_fewer_transactions(store: SQLiteStore) -> None:
    transactions = 0
    original = store.transaction

    def counting():  # type: ignore[no-untyped-def]
        nonlocal transactions
        transactions += 1
        return original()

    store.transaction = counting  # type: ignore[method-assign]
    committer = GroupCommitter(store)
    await asyncio.gather(*(committer.run(insert(f"k{n}")) for n in range(50)))
    await committer.aclose()
    assert transactions < 50
