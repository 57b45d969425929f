"""What the ops page reads from the store: queue depth, last success, checkpoint age.

SQL as data, read-only; dead letters come from `gateway.relay.deliveries`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway.relay.deliveries import from_db
from gateway.store import Store

_QUEUE = (
    "SELECT destination AS region, state, COUNT(*) AS n FROM deliveries "
    "WHERE state IN ('pending', 'in_flight', 'failed') GROUP BY destination, state"
)
_LAST_SUCCESS = (
    "SELECT destination AS region, MAX(delivered_at) AS last FROM deliveries "
    "WHERE state = 'delivered' GROUP BY destination"
)
_CHECKPOINT = "SELECT tree_size, time FROM audit_checkpoints ORDER BY tree_size DESC LIMIT 1"
_AUDIT_TAIL = "SELECT MAX(seq) AS last FROM audit_entries"


@dataclass(frozen=True)
class RegionQueue:
    pending: int = 0
    in_flight: int = 0
    failed: int = 0
    last_success: datetime | None = None


@dataclass(frozen=True)
class Checkpoint:
    tree_size: int | None
    time: datetime | None
    entries: int


async def queues(store: Store) -> dict[str, RegionQueue]:
    """Each region's queued, in-flight and dead deliveries, and its last delivery."""
    counts: dict[str, dict[str, int]] = {}
    last: dict[str, datetime | None] = {}
    async with store.read() as conn:
        for row in await conn.fetch_all(_QUEUE):
            counts.setdefault(row["region"], {})[row["state"]] = int(row["n"])
        for row in await conn.fetch_all(_LAST_SUCCESS):
            last[row["region"]] = from_db(row["last"])
    return {
        region: RegionQueue(
            pending=counts.get(region, {}).get("pending", 0),
            in_flight=counts.get(region, {}).get("in_flight", 0),
            failed=counts.get(region, {}).get("failed", 0),
            last_success=last.get(region),
        )
        for region in sorted({*counts, *last})
    }


async def checkpoint(store: Store) -> Checkpoint:
    """The latest signed audit checkpoint and how many entries the log holds."""
    async with store.read() as conn:
        row = await conn.fetch_one(_CHECKPOINT)
        tail = await conn.fetch_one(_AUDIT_TAIL)
    entries = int(tail["last"]) + 1 if tail and tail["last"] is not None else 0
    if row is None:
        return Checkpoint(None, None, entries)
    return Checkpoint(int(row["tree_size"]), datetime.fromisoformat(row["time"]), entries)
