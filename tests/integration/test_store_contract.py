"""The store interface, run against every backend: transactions, rows, counts, errors.

Each test runs once on SQLite and once on a fresh PostgreSQL database (see the
`store` fixture); what both must guarantee is written in `gateway/store/base.py`.
"""

from __future__ import annotations

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
