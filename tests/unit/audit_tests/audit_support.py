"""Helpers shared by the audit tests (imported as audit_tests.audit_support)."""

from __future__ import annotations

from gateway.audit import AuditLog, Sealer
from gateway.store import SQLiteStore

ORIGIN = "tongban:test"
COLUMNS = (
    "seq, time, kind, application_id, request_id, trace_id, actor, region, data, "
    "prev_hash, leaf_hash"
)
"""The columns of `audit_entries`, for tests that read or rewrite rows as a tamperer."""


async def append_many(store: SQLiteStore, log: AuditLog, count: int) -> None:
    """Append `count` entries, one transaction each, with varied fields."""
    for i in range(count):
        async with store.transaction() as conn:
            await log.append(
                conn,
                kind="application.received" if i % 3 else "delivery.attempted",
                actor="system" if i % 2 else f"staff:clerk{i % 5}",
                application_id=f"app-{i // 4}",
                request_id=f"req-{i}",
                trace_id=None if i % 7 else f"{i:032x}",
                region=["shenzhen", "dongguan", None][i % 3],
                data={"n": i, "note": "材料齐全", "ratio": i / 8, "tags": ["a", i]},
            )


async def tamperable_log(
    store: SQLiteStore, log: AuditLog, sealer: Sealer, *, sealed_at: tuple[int, int]
) -> SQLiteStore:
    """Entries checkpointed at `sealed_at` (first, last), then the append-only triggers
    dropped so that a test can rewrite what is stored."""
    first, last = sealed_at
    await append_many(store, log, first)
    await sealer.seal()
    await append_many(store, log, last - first)
    await sealer.seal()
    async with store.transaction() as conn:
        for name in ("update", "delete"):
            await conn.execute(f"DROP TRIGGER audit_entries_no_{name}")
            await conn.execute(f"DROP TRIGGER audit_checkpoints_no_{name}")
    return store
