"""Verification on several processes finds exactly what the sequential verifier finds.

Each tampering is verified twice: sequentially (one worker) and in parallel (two
worker processes, chunks of 4 entries, so checkpoints and tampered entries fall
inside chunks and on their borders). The findings, entry and reason, must be the
same; a spy on `hash_chunks` shows the parallel path really ran.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from audit_tests.audit_support import COLUMNS, ORIGIN, tamperable_log
from gateway.audit import AuditLog, Ed25519CheckpointSigner, Sealer, parallel, verify_store
from gateway.audit import verify as verify_module
from gateway.audit.canonical import entry_bytes
from gateway.audit.merkle import leaf_hash
from gateway.audit.verify import Report
from gateway.store import Connection, SQLiteStore

Tamper = Callable[[Connection], Awaitable[None]]


@pytest.fixture
async def log_of_21(store: SQLiteStore, audit_log: AuditLog, sealer: Sealer) -> SQLiteStore:
    """21 entries, checkpoints at 9 and 21 (inside chunks of 4), triggers dropped."""
    return await tamperable_log(store, audit_log, sealer, sealed_at=(9, 21))


@pytest.fixture
def parallel_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the parallel passes (a spy: the real `hash_chunks` still runs)."""
    runs: list[int] = []
    real = parallel.hash_chunks

    async def spy(*args: Any, **kwargs: Any) -> Any:
        runs.append(1)
        return await real(*args, **kwargs)

    monkeypatch.setattr(verify_module, "hash_chunks", spy)
    return runs


async def both(store: SQLiteStore, signer: Ed25519CheckpointSigner) -> tuple[Report, Report]:
    keys = {signer.key_id: signer.public_key}
    sequential = await verify_store(store, keys, origin=ORIGIN, workers=1)
    parallel = await verify_store(store, keys, origin=ORIGIN, workers=2, chunk=4)
    return sequential, parallel


async def entry(conn: Connection, seq: int) -> dict[str, Any]:
    sql = f"SELECT {COLUMNS} FROM audit_entries WHERE seq = :s"  # noqa: S608 - constant columns
    found = await conn.fetch_one(sql, {"s": seq})
    assert found is not None
    return dict(found)


async def change_data(conn: Connection) -> None:
    await conn.execute("UPDATE audit_entries SET data = '{\"n\":999}' WHERE seq = 6")


async def rewrite_with_hash(conn: Connection) -> None:
    row = await entry(conn, 11)
    row["kind"] = "application.withdrawn"
    row["leaf_hash"] = leaf_hash(entry_bytes(row))
    await conn.execute(
        "UPDATE audit_entries SET kind = :kind, leaf_hash = :leaf_hash WHERE seq = 11", row
    )


async def rewrite_whole_chain(conn: Connection) -> None:
    """Change entry 13 and recompute every hash after it: only checkpoint 21 notices."""
    prev = (await entry(conn, 12))["leaf_hash"]
    for seq in range(13, 21):
        row = await entry(conn, seq)
        row["prev_hash"] = prev
        if seq == 13:
            row["actor"] = "staff:intruder"
        row["leaf_hash"] = prev = leaf_hash(entry_bytes(row))
        await conn.execute(
            "UPDATE audit_entries SET actor = :actor, prev_hash = :prev_hash, "
            "leaf_hash = :leaf_hash WHERE seq = :seq",
            row,
        )


async def actor_as_blob(conn: Connection) -> None:
    """A field of another SQL type: the sequential verifier cannot rebuild the entry."""
    await conn.execute("UPDATE audit_entries SET actor = CAST(actor AS BLOB) WHERE seq = 5")


async def data_as_blob(conn: Connection) -> None:
    await conn.execute("UPDATE audit_entries SET data = CAST(data AS BLOB) WHERE seq = 14")


async def prev_hash_as_text(conn: Connection) -> None:
    """A hash stored as text (32 hex digits pass the length check): reported, not a
    crash of the verifier."""
    await conn.execute(
        "UPDATE audit_entries SET prev_hash = hex(substr(prev_hash, 1, 16)) WHERE seq = 7"
    )


async def data_with_a_nul_and_more(conn: Connection) -> None:
    """Bytes after a NUL (which C string functions would not see) are part of the entry."""
    await conn.execute("UPDATE audit_entries SET data = data || char(0) || 'x' WHERE seq = 10")


async def unescaped_quote_with_its_hash(conn: Connection) -> None:
    """Entry 19 hashed as written *without* escaping a quote (no canonical writer's
    bytes), the chain after it recomputed: only the entry's own check finds it."""
    row = await entry(conn, 19)
    row["actor"] = 'staff:"x'
    raw = entry_bytes({**row, "actor": "staff:x"}).replace(b'"staff:x"', b'"staff:"x"')
    row["leaf_hash"] = leaf_hash(raw)
    await conn.execute(
        "UPDATE audit_entries SET actor = :actor, leaf_hash = :leaf_hash WHERE seq = 19", row
    )
    following = await entry(conn, 20)
    following["prev_hash"] = row["leaf_hash"]
    following["leaf_hash"] = leaf_hash(entry_bytes(following))
    await conn.execute(
        "UPDATE audit_entries SET prev_hash = :prev_hash, leaf_hash = :leaf_hash WHERE seq = 20",
        following,
    )


async def delete_one(conn: Connection) -> None:
    await conn.execute("DELETE FROM audit_entries WHERE seq = 8")


async def delete_tail(conn: Connection) -> None:
    await conn.execute("DELETE FROM audit_entries WHERE seq >= 18")


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (change_data, (6, "changed")),
        (rewrite_with_hash, (11, "rewritten")),
        (rewrite_whole_chain, (9, "rewritten")),
        (delete_one, (8, "deleted")),
        (actor_as_blob, (5, "malformed")),
        (data_as_blob, (14, "malformed")),
        (prev_hash_as_text, (7, "malformed")),
        (data_with_a_nul_and_more, (10, "changed")),
        (unescaped_quote_with_its_hash, (19, "changed")),
        (delete_tail, (18, "deleted")),
    ],
)
async def test_parallel_verification_names_the_same_entry(
    log_of_21: SQLiteStore,
    signer: Ed25519CheckpointSigner,
    parallel_runs: list[int],
    tamper: Tamper,
    expected: tuple[int, str],
) -> None:
    async with log_of_21.transaction() as conn:
        await tamper(conn)
    sequential, parallel = await both(log_of_21, signer)
    assert parallel_runs == [1]
    assert sequential.first_bad is not None
    assert parallel.first_bad is not None
    assert (parallel.first_bad.seq, parallel.first_bad.reason) == expected
    assert parallel.to_json() | {"seconds": 0, "entries_per_second": 0} == (
        sequential.to_json() | {"seconds": 0, "entries_per_second": 0}
    )


async def test_untouched_log_verifies_in_parallel_with_every_checkpoint(
    log_of_21: SQLiteStore, signer: Ed25519CheckpointSigner, parallel_runs: list[int]
) -> None:
    sequential, parallel = await both(log_of_21, signer)
    assert parallel_runs == [1]
    assert parallel.ok, parallel.to_json()
    assert (parallel.entries, parallel.checkpoints_matched) == (21, 2)
    assert (sequential.entries, sequential.checkpoints_matched) == (21, 2)
