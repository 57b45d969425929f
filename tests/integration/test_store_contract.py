"""The store interface, run against every backend: transactions, rows, counts, errors.

Each test runs once on SQLite and once on a fresh PostgreSQL database (see the
`store` fixture); what both must guarantee is written in `gateway/store/base.py`.
"""

from __future__ import annotations

import asyncio
import signal
import sys

import pytest
from support.fixture_types import StoreFactory

from gateway.errors import StoreError, StoreUnavailable, UniqueViolation
from gateway.store import Store

CREATE_T = "CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)"


@pytest.fixture
async def table(store: Store) -> Store:
    """The store, with an empty table ``t (k TEXT PRIMARY KEY, v INTEGER)``."""
    async with store.transaction() as conn:
        await conn.execute(CREATE_T)
    return store


async def test_commit_is_visible_and_durable_across_reopen(
    store_factory: StoreFactory,
) -> None:
    first = await store_factory()
    async with first.transaction() as conn:
        await conn.execute(CREATE_T)
        await conn.execute_many(
            "INSERT INTO t (k, v) VALUES (:k, :v)", [{"k": "a", "v": 1}, {"k": "b", "v": 2}]
        )
    await first.aclose()
    reopened = await store_factory()
    async with reopened.transaction() as conn:
        assert await conn.fetch_all("SELECT k, v FROM t ORDER BY k") == [
            {"k": "a", "v": 1},
            {"k": "b", "v": 2},
        ]


async def test_exception_rolls_back(table: Store) -> None:
    async def insert_then_fail() -> None:
        async with table.transaction() as conn:
            await conn.execute("INSERT INTO t (k, v) VALUES ('a', 1)")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await insert_then_fail()
    async with table.transaction() as conn:
        assert await conn.fetch_one("SELECT * FROM t") is None


async def test_fetch_one_returns_a_dict_or_none(table: Store) -> None:
    async with table.transaction() as conn:
        await conn.execute("INSERT INTO t (k, v) VALUES (:k, :v)", {"k": "a", "v": 7})
        assert await conn.fetch_one("SELECT k, v FROM t WHERE k = :k", {"k": "a"}) == {
            "k": "a",
            "v": 7,
        }
        assert await conn.fetch_one("SELECT k FROM t WHERE k = :k", {"k": "zz"}) is None


async def test_a_parameter_may_appear_twice(table: Store) -> None:
    async with table.transaction() as conn:
        await conn.execute("INSERT INTO t (k, v) VALUES (:k, :v)", {"k": "a", "v": 3})
        row = await conn.fetch_one(
            "SELECT v FROM t WHERE v = :n AND v + :n = 6 AND k <> ':n'", {"n": 3}
        )
    assert row == {"v": 3}


async def test_returning_gives_the_written_row(table: Store) -> None:
    async with table.transaction() as conn:
        row = await conn.fetch_one("INSERT INTO t (k, v) VALUES (:k, 1) RETURNING k, v", {"k": "r"})
    assert row == {"k": "r", "v": 1}


async def test_unique_violation_names_table_and_column(table: Store) -> None:
    async with table.transaction() as conn:
        await conn.execute("INSERT INTO t (k, v) VALUES ('a', 1)")
    with pytest.raises(UniqueViolation) as caught:
        async with table.transaction() as conn:
            await conn.execute("INSERT INTO t (k, v) VALUES ('a', 2)")
    assert caught.value.constraint == "t.k"


async def test_composite_unique_violation_names_every_column(store: Store) -> None:
    async with store.transaction() as conn:
        await conn.execute("CREATE TABLE pair (a TEXT, b TEXT, UNIQUE (a, b))")
        await conn.execute("INSERT INTO pair (a, b) VALUES ('x', 'y')")
    with pytest.raises(UniqueViolation) as caught:
        async with store.transaction() as conn:
            await conn.execute("INSERT INTO pair (a, b) VALUES ('x', 'y')")
    assert caught.value.constraint == "pair.a, pair.b"
    assert "'x'" not in str(caught.value)  # row values (maybe personal data) stay out


async def test_sql_error_is_translated(store: Store) -> None:
    with pytest.raises(StoreError, match="missing"):
        async with store.transaction() as conn:
            await conn.execute("SELECT * FROM missing")


async def test_missing_parameter_is_a_store_error(table: Store) -> None:
    with pytest.raises(StoreError):
        async with table.transaction() as conn:
            await conn.execute("INSERT INTO t (k, v) VALUES (:k, :v)", {"k": "a"})


async def test_rowcount_counts_changed_rows_only(table: Store) -> None:
    async with table.transaction() as conn:
        assert await conn.execute("INSERT INTO t (k, v) VALUES ('a', 1), ('b', 1)") == 2
        assert await conn.execute("UPDATE t SET v = 2 WHERE v = 1") == 2
        assert await conn.execute("UPDATE t SET v = 3 WHERE k = 'none'") == 0
        assert await conn.execute("DELETE FROM t WHERE k = 'a'") == 1
        assert await conn.execute("SELECT k FROM t") == 0
        assert await conn.execute("CREATE TABLE u (id INTEGER)") == 0


async def test_insert_on_conflict_do_nothing_counts_zero(table: Store) -> None:
    sql = "INSERT INTO t (k, v) VALUES ('a', 1) ON CONFLICT (k) DO NOTHING"
    async with table.transaction() as conn:
        assert await conn.execute(sql) == 1
        assert await conn.execute(sql) == 0


async def test_execute_script_runs_in_the_transaction(store: Store) -> None:
    script = """
    -- two tables; the failure at the end must undo both
    CREATE TABLE a (id INTEGER);
    INSERT INTO a (id) VALUES (1);
    CREATE TABLE a (id INTEGER);
    """
    with pytest.raises(StoreError, match="already exists"):
        async with store.transaction() as conn:
            await conn.execute_script(script)
    with pytest.raises(StoreError):
        async with store.transaction() as conn:
            await conn.fetch_all("SELECT * FROM a")


async def test_execute_script_takes_statements_on_one_line(store: Store) -> None:
    async with store.transaction() as conn:
        await conn.execute_script("CREATE TABLE a (s TEXT); INSERT INTO a (s) VALUES ('x;y');")
        assert await conn.fetch_all("SELECT s FROM a") == [{"s": "x;y"}]


async def test_execute_many_with_no_rows_does_nothing(table: Store) -> None:
    async with table.transaction() as conn:
        await conn.execute_many("INSERT INTO t (k, v) VALUES (:k, :v)", [])
        assert await conn.fetch_all("SELECT * FROM t") == []


async def test_ping_after_close_is_unavailable(store: Store) -> None:
    await store.ping()
    await store.aclose()
    await store.aclose()  # idempotent
    with pytest.raises(StoreUnavailable, match="the store is closed"):
        await store.ping()


async def test_transaction_after_close_is_a_store_error(store: Store) -> None:
    await store.aclose()
    with pytest.raises(StoreError):
        async with store.transaction() as conn:
            await conn.fetch_one("SELECT 1 AS one")


async def test_a_failing_transaction_in_a_batch_rolls_back_alone(table: Store) -> None:
    """Concurrent transactions may share a COMMIT; the one that raises loses only its own rows."""

    async def write(n: int) -> None:
        async with table.transaction() as conn:
            await conn.execute("INSERT INTO t (k, v) VALUES (:k, :v)", {"k": f"k{n}", "v": n})
            await asyncio.sleep(0)  # let the others queue up behind this one
            await conn.execute("INSERT INTO t (k, v) VALUES (:k, :v)", {"k": f"j{n}", "v": n})
            if n == 7:
                raise RuntimeError("this one fails after writing")

    outcomes = await asyncio.gather(*(write(n) for n in range(16)), return_exceptions=True)
    assert [n for n, o in enumerate(outcomes) if o is not None] == [7]
    async with table.read() as conn:
        keys = {row["k"] for row in await conn.fetch_all("SELECT k FROM t")}
    assert keys == {f"{p}{n}" for n in range(16) if n != 7 for p in "kj"}


@pytest.mark.parametrize("quick", [False, True], ids=["pooled", "quick"])
async def test_a_read_never_waits_for_an_open_write(table: Store, quick: bool) -> None:
    """A reader sees the last commit while a writer holds its transaction open
    (a quick read too: on SQLite it runs on the loop's thread, as the writer does)."""
    async with table.transaction() as conn:
        await conn.execute("INSERT INTO t (k, v) VALUES ('a', 1)")
    written, release = asyncio.Event(), asyncio.Event()

    async def slow_writer() -> None:
        async with table.transaction() as conn:
            await conn.execute("UPDATE t SET v = 2 WHERE k = 'a'")
            written.set()
            await release.wait()

    writer = asyncio.create_task(slow_writer())
    await written.wait()
    try:
        # The timeout only turns a hang into a failure; it measures nothing.
        async with asyncio.timeout(30):
            async with table.read(quick=quick) as conn:
                row = await conn.fetch_one("SELECT v FROM t WHERE k = 'a'")
        assert row == {"v": 1}  # the open write is not visible
    finally:
        release.set()
        await writer
    async with table.read(quick=quick) as conn:
        assert await conn.fetch_one("SELECT v FROM t WHERE k = 'a'") == {"v": 2}


@pytest.mark.parametrize("quick", [False, True], ids=["pooled", "quick"])
async def test_a_write_through_read_fails_and_changes_nothing(table: Store, quick: bool) -> None:
    with pytest.raises(StoreError):
        async with table.read(quick=quick) as conn:
            await conn.execute("INSERT INTO t (k, v) VALUES ('a', 1)")
    async with table.read() as conn:
        assert await conn.fetch_all("SELECT * FROM t") == []


# Writes rows with 16 concurrent transactions and prints each key once its
# transaction() has returned; runs until killed.
_WRITER = """
import asyncio, sys
from pathlib import Path
from gateway.store import SQLiteStore
from gateway.store.postgres import PostgresStore

async def main(url):
    if url.startswith("sqlite:///"):
        store = await SQLiteStore.open(Path(url.removeprefix("sqlite:///")))
    else:
        store = await PostgresStore.open(url)
    async def writer(lane):
        n = 0
        while True:
            n += 1
            key = f"{lane}-{n}"
            async with store.transaction() as conn:
                await conn.execute("INSERT INTO t (k, v) VALUES (:k, :v)", {"k": key, "v": n})
            sys.stdout.write(key + "\\n")
            sys.stdout.flush()
    await asyncio.gather(*(writer(lane) for lane in range(16)))

asyncio.run(main(sys.argv[1]))
"""


async def test_no_transaction_returns_before_its_commit(table: Store, store_url: str) -> None:
    """kill -9 a writing process: every write it had answered for is in the database."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _WRITER, store_url, stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    answered: list[str] = []
    try:
        async with asyncio.timeout(120):  # turns a hang into a failure
            while len(answered) < 300:
                line = await process.stdout.readline()
                assert line, "the writer stopped before it was killed"
                answered.append(line.decode().strip())
    finally:
        process.send_signal(signal.SIGKILL)
        rest, _ = await process.communicate()
    # Lines it wrote before the kill were answered too; a torn last line was not.
    answered += [key for key in rest.decode().split("\n")[:-1] if key]
    async with table.read() as conn:
        stored = {row["k"] for row in await conn.fetch_all("SELECT k FROM t")}
    assert set(answered) <= stored, sorted(set(answered) - stored)[:5]
