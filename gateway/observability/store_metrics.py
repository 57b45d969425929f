"""The store-derived metrics: a collector that reads a `StoreSnapshot` and applies it.

The snapshot is read in one short read-only transaction of a few indexed
aggregate queries, and reused for ``metrics.store_cache_seconds`` so a busy
Prometheus (or several) cannot load the database. Nothing here holds personal
data: only counts and ages.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import web

from gateway.app_keys import METRICS, METRICS_CACHE, RELAY, SETTINGS, STORE
from gateway.applications.clocks import local_date
from gateway.envelope import FINAL_STATUSES, Status
from gateway.observability.metrics import StoreSnapshot
from gateway.relay.deliveries import from_db, to_db
from gateway.store import Connection

_NOT_RUNNING = tuple(sorted({*(s.value for s in FINAL_STATUSES), Status.SPECIAL_PROCEDURE.value}))

# SQL as data; the gauges' label ``region`` is a delivery's destination. Queue rows only
# (delivered ones are history): the (state, ...) indexes serve it.
_QUEUED = (
    "SELECT destination AS region, state, COUNT(*) AS n FROM deliveries "
    "WHERE state IN ('pending', 'in_flight', 'failed') GROUP BY destination, state"
)
_OLDEST_DUE = (
    "SELECT destination AS region, MIN(next_attempt_at) AS oldest FROM deliveries "
    "WHERE state = 'pending' AND next_attempt_at <= :now GROUP BY destination"
)
_AUDIT_TAIL = "SELECT MAX(seq) AS last FROM audit_entries"
_CHECKPOINTED = "SELECT MAX(tree_size) AS size FROM audit_checkpoints"
_RUNNING = f"status NOT IN ({', '.join(repr(s) for s in _NOT_RUNNING)})"
_OVERDUE = (
    "SELECT competent_region AS region, COUNT(*) AS n FROM applications "  # noqa: S608 - our enum's values
    "WHERE " + _RUNNING + " "
    "AND (promised_due < :today OR (promised_due IS NULL AND legal_due < :today)) "
    "GROUP BY competent_region"
)


async def read_snapshot(conn: Connection, now: datetime) -> StoreSnapshot:
    """The store gauges' values at `now` (reads only)."""
    queued = {(row["region"], row["state"]): int(row["n"]) for row in await conn.fetch_all(_QUEUED)}
    oldest: dict[str, float] = {}
    for row in await conn.fetch_all(_OLDEST_DUE, {"now": to_db(now)}):
        due = from_db(row["oldest"])
        if due is not None:
            oldest[row["region"]] = max(0.0, (now - due).total_seconds())
    tail = await conn.fetch_one(_AUDIT_TAIL)
    sealed = await conn.fetch_one(_CHECKPOINTED)
    today = local_date(now).isoformat()
    overdue = {
        row["region"]: int(row["n"]) for row in await conn.fetch_all(_OVERDUE, {"today": today})
    }
    last = tail["last"] if tail is not None else None
    return StoreSnapshot(
        queued=queued,
        oldest_due_age=oldest,
        audit_entries=0 if last is None else int(last) + 1,
        checkpointed_entries=int(sealed["size"] or 0) if sealed is not None else 0,
        overdue=overdue,
    )


@dataclass
class ScrapeCache:
    """When the store gauges were last read; one lock so concurrent scrapes share a read."""

    read_at: float = float("-inf")
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


async def refresh(app: web.Application) -> None:
    """Re-read the store unless the last snapshot is younger than the cache period."""
    ttl = app[SETTINGS].metrics.store_cache_seconds
    cache = app[METRICS_CACHE]
    async with cache.lock:
        if time.monotonic() - cache.read_at < ttl:
            return
        async with app[STORE].transaction() as conn:
            snapshot = await read_snapshot(conn, datetime.now(UTC))
        worker = app.get(RELAY)
        regions = list(worker.lanes) if worker is not None else []
        app[METRICS].apply(snapshot, regions)
        cache.read_at = time.monotonic()
