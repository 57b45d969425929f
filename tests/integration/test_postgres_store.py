"""What only the PostgreSQL store does: pooling, concurrency conflicts, strict types.

Behaviour both backends share is in test_store_contract.py. These tests run on a
fresh database of their own on the test server (see `store_url` in conftest.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial

import asyncpg
import pytest
from support.fixture_types import StoreFactory

from gateway.config import Settings
from gateway.errors import StoreError, StoreUnavailable
from gateway.store import Store, bundled_migrations, open_store
from gateway.store.postgres import PostgresStore

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("store_url", ["postgres"], indirect=True),
]


@pytest.fixture
async def table(store: Store) -> Store:
    async with store.transaction() as conn:
        await conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)")
        await conn.execute("INSERT INTO t (k, v) VALUES ('a', 0), ('b', 0)")
    return store


async def test_unknown_database_is_a_store_error(store_url: str) -> None:
    with pytest.raises(StoreError, match="does not exist") as caught:
        await PostgresStore.open(store_url + "_absent")
    assert not isinstance(caught.value, StoreUnavailable)


async def test_open_store_takes_the_postgres_scheme_alias(backend_settings: Settings) -> None:
    url = backend_settings.store_url.replace("postgresql://", "postgres://", 1)
    settings = backend_settings.model_copy(
        update={"store": backend_settings.store.model_copy(update={"url": url})}
    )
    store = await open_store(settings)
    try:
        assert store.backend == "postgres"
        async with store.transaction() as conn:
            row = await conn.fetch_one("SELECT count(*) AS n FROM schema_migrations")
        assert row == {"n": len(bundled_migrations("postgres"))}
    finally:
        await store.aclose()


async def test_values_are_not_coerced_and_errors_are_translated(table: Store) -> None:
    with pytest.raises(StoreError) as caught:
        async with table.transaction() as conn:
            await conn.execute("UPDATE t SET v = :v", {"v": "1"})
    assert type(caught.value).__module__ == "gateway.errors"


async def test_deadlock_victim_is_unavailable_and_rolled_back(table: Store) -> None:
    both_hold_one_row = asyncio.Barrier(2)

    async def update(first: str, second: str) -> None:
        async with table.transaction() as conn:
            await conn.execute("UPDATE t SET v = v + 1 WHERE k = :k", {"k": first})
            await both_hold_one_row.wait()
            await conn.execute("UPDATE t SET v = v + 1 WHERE k = :k", {"k": second})

    results = await asyncio.gather(update("a", "b"), update("b", "a"), return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["NoneType", "StoreUnavailable"]
    async with table.transaction() as conn:
        # Only the survivor's two increments are there.
        assert await conn.fetch_all("SELECT v FROM t ORDER BY k") == [{"v": 1}, {"v": 1}]


async def test_exhausted_pool_is_unavailable(store_factory: StoreFactory) -> None:
    store = await store_factory(min_size=1, max_size=1, connect_timeout_s=0.2)
    async with store.transaction():
        with pytest.raises(StoreUnavailable):
            async with store.transaction():
                pass


SLOW_QUERY = "SELECT pg_sleep(30)"


async def running_queries(store_url: str, query: str) -> int:
    """How many of this database's backends are running `query` now (pg_stat_activity)."""
    observer = await asyncpg.connect(store_url, timeout=5)
    try:
        count: int = await observer.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND state = 'active' AND query = $1",
            query,
        )
        return count
    finally:
        await observer.close()


async def until(condition: Callable[[], Awaitable[bool]], what: str, seconds: float = 10) -> None:
    """Wait until `condition()` holds, polling; fail naming `what` after `seconds`."""
    try:
        async with asyncio.timeout(seconds):
            while True:  # the server's state: nothing to await but another look
                if await condition():
                    return
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"timed out waiting until {what}") from None


async def test_cancelled_query_gives_its_connection_back(
    store_factory: StoreFactory, store_url: str
) -> None:
    store = await store_factory(min_size=1, max_size=1, connect_timeout_s=5)

    async def slow() -> None:
        async with store.transaction() as conn:
            await conn.execute(SLOW_QUERY)

    async def slow_query_runs(expected: int) -> bool:
        return await running_queries(store_url, SLOW_QUERY) == expected

    task = asyncio.create_task(slow())
    await until(partial(slow_query_runs, 1), "the server runs the slow query")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await until(partial(slow_query_runs, 0), "the server stops the cancelled query")
    # The pool's only connection: this waits (up to 5 s, then StoreUnavailable) if the
    # cancelled transaction kept it.
    async with store.transaction() as conn:
        assert await conn.fetch_one("SELECT 1 AS one") == {"one": 1}


async def test_transactions_run_concurrently(table: Store) -> None:
    """A second transaction proceeds while the first is open (no store-wide lock)."""
    first_open = asyncio.Event()
    second_done = asyncio.Event()

    async def first() -> None:
        async with table.transaction() as conn:
            await conn.execute("UPDATE t SET v = 1 WHERE k = 'a'")
            first_open.set()
            await asyncio.wait_for(second_done.wait(), timeout=10)

    async def second() -> None:
        await first_open.wait()
        async with table.transaction() as conn:
            # Uncommitted work of the other transaction is invisible.
            assert await conn.fetch_one("SELECT v FROM t WHERE k = 'a'") == {"v": 0}
            await conn.execute("UPDATE t SET v = 2 WHERE k = 'b'")
        second_done.set()

    await asyncio.gather(first(), second())
    async with table.transaction() as conn:
        assert await conn.fetch_all("SELECT v FROM t ORDER BY k") == [{"v": 1}, {"v": 2}]


async def test_close_does_not_wait_forever_for_a_stuck_transaction(
    store_factory: StoreFactory,
) -> None:
    store = await store_factory(connect_timeout_s=0.3)
    inside = asyncio.Event()

    async def stuck() -> None:
        async with store.transaction():
            inside.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(stuck())
    await inside.wait()
    await asyncio.wait_for(store.aclose(), timeout=10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
