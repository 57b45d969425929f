"""Helpers shared by the audit tests (imported as audit_tests.audit_support)."""

from __future__ import annotations

from gateway.audit import AuditLog
from gateway.store import SQLiteStore

ORIGIN = "tongban:test"


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
