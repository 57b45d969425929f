"""Group commit on each store backend (SQLite, PostgreSQL): shared transactions, each
caller's own result, one bad unit isolated with its own error; `Store.grouped`, which
the relay settles through, likewise.

Faults come from the database itself (a unique index, a trigger that refuses a row),
so the committer is tested against the real store, not a stand-in.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from gateway.errors import StoreError, UniqueViolation
from gateway.observability.tracecontext import bind_trace, current_trace_id
from gateway.store import Connection, Store
from gateway.store.group_commit import GroupCommitter

# A row the database itself refuses, by a trigger: a fault that is not a unique index.
REFUSED = "poison"
TRIGGERS = {
    "sqlite": [
        f"""CREATE TRIGGER t_refuses BEFORE INSERT ON t WHEN NEW.k = '{REFUSED}'
        BEGIN SELECT RAISE(ABORT, 'row refused by trigger'); END"""
    ],
    "postgres": [
        f"""CREATE FUNCTION t_refuses() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.k = '{REFUSED}' THEN RAISE EXCEPTION 'row refused by trigger'; END IF;
            RETURN NEW;
        END $$""",
        "CREATE TRIGGER t_refuses BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION t_refuses()",
    ],
}


@pytest.fixture
async def table(store: Store) -> Store:
    """The store (each backend) with a table ``t`` keyed by ``k``, refusing `REFUSED`."""
    async with store.transaction() as conn:
        await conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY)")
        for statement in TRIGGERS[store.backend]:
            await conn.execute(statement)
    return store


@pytest.fixture
async def committer(table: Store) -> GroupCommitter:
    return GroupCommitter(table)


def insert(
    key: str, ran: Counter[str] | None = None
) -> Callable[[Connection], Coroutine[Any, Any, str]]:
    """A unit that inserts `key` and returns it; counts its runs in `ran`, if given."""

    async def work(conn: Connection) -> str:
        if ran is not None:
            ran[key] += 1
        await conn.execute("INSERT INTO t (k) VALUES (:k)", {"k": key})
        return key

    return work


async def keys(store: Store) -> list[str]:
    async with store.transaction() as conn:
        return [row["k"] for row in await conn.fetch_all("SELECT k FROM t ORDER BY k")]


async def run_together(
    committer: GroupCommitter, *names: str, ran: Counter[str] | None = None
) -> list[str | BaseException]:
    """Queue every unit before the committer runs any, so they form one batch."""
    try:
        return list(
            await asyncio.gather(
                *(committer.run(insert(name, ran)) for name in names), return_exceptions=True
            )
        )
    finally:
        await committer.aclose()


async def test_every_caller_gets_its_own_result(table: Store, committer: GroupCommitter) -> None:
    names = [f"k{n:02}" for n in range(20)]
    ran: Counter[str] = Counter()
    assert await run_together(committer, *names, ran=ran) == names
    assert await keys(table) == names
    assert set(ran.values()) == {1}  # all committed at the first go


async def test_a_duplicate_fails_alone_with_the_unique_violation(
    table: Store, committer: GroupCommitter
) -> None:
    first, duplicate, other = await run_together(committer, "a", "a", "b")
    assert (first, other) == ("a", "b")
    assert type(duplicate) is UniqueViolation
    assert duplicate.constraint == "t.k"
    assert await keys(table) == ["a", "b"]


async def test_a_refused_row_fails_alone_with_the_databases_reason(
    table: Store, committer: GroupCommitter
) -> None:
    outcomes = await run_together(committer, "a", REFUSED, "b")
    assert outcomes[0::2] == ["a", "b"]
    refused = outcomes[1]
    assert type(refused) is StoreError  # not a unique violation, not "unavailable"
    assert "row refused by trigger" in str(refused)
    assert await keys(table) == ["a", "b"]


async def test_units_queued_together_share_one_transaction(
    table: Store, committer: GroupCommitter
) -> None:
    """The refused row undoes the whole shared transaction: the good units it had
    taken with it run again, one transaction each, and are committed once."""
    good = [f"k{n}" for n in range(5)]
    ran: Counter[str] = Counter()
    outcomes = await run_together(committer, *good, REFUSED, ran=ran)
    assert outcomes[:-1] == good
    assert type(outcomes[-1]) is StoreError
    assert {name: ran[name] for name in good} == dict.fromkeys(good, 2)
    assert ran[REFUSED] == 2  # in the batch, then alone
    assert await keys(table) == good


async def test_a_unit_queued_after_a_failure_is_committed(
    table: Store, committer: GroupCommitter
) -> None:
    """A failed batch does not stop the committer: later units still go through."""
    try:
        with pytest.raises(UniqueViolation):
            await asyncio.gather(committer.run(insert("a")), committer.run(insert("a")))
        assert await committer.run(insert("b")) == "b"
    finally:
        await committer.aclose()
    assert await keys(table) == ["a", "b"]


async def test_store_grouped_units_fail_alone(table: Store) -> None:
    """`Store.grouped`, the group commit the relay settles through, on each backend."""
    outcomes = await asyncio.gather(
        table.grouped(insert("a")),
        table.grouped(insert("a")),
        table.grouped(insert(REFUSED)),
        table.grouped(insert("b")),
        return_exceptions=True,
    )
    assert (outcomes[0], outcomes[3]) == ("a", "b")
    assert type(outcomes[1]) is UniqueViolation
    assert type(outcomes[2]) is StoreError
    assert await keys(table) == ["a", "b"]


async def test_store_grouped_units_run_in_their_callers_context(table: Store) -> None:
    """Each unit sees its caller's trace (audit entries and log lines carry it), not the
    trace of whichever caller started a shared batch."""

    async def traced(trace_id: str) -> str | None:
        async def work(conn: Connection) -> str | None:
            await conn.execute("INSERT INTO t (k) VALUES (:k)", {"k": trace_id})
            return current_trace_id()

        with bind_trace(trace_id):
            return await table.grouped(work)

    traces = [f"{n:032x}" for n in range(1, 9)]
    assert await asyncio.gather(*(traced(t) for t in traces)) == traces
