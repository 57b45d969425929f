"""Results coming back from regions: pushed to our callback route, or polled.

Either way each `StatusEvent` is applied to its application on one transaction per
batch, and only then acknowledged (a push region is answered after the commit;
a polled region is simply asked again next time), so no result is lost and
repeated ones change nothing (the state machine deduplicates by event id).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import structlog

from adapters.base import PollAdapter
from gateway.applications.journal import Journal
from gateway.applications.state_machine import EventOutcome, apply_status_event
from gateway.envelope import StatusEvent
from gateway.errors import TongbanError
from gateway.store import Store

log = structlog.get_logger(__name__)

_OPEN_CASES = """
SELECT region_case_no FROM applications
WHERE competent_region = :region AND region_case_no IS NOT NULL
  AND status NOT IN ('approved', 'denied', 'delivered', 'rejected', 'withdrawn')
ORDER BY id
LIMIT :limit
"""


async def apply_events(
    store: Store, events: Sequence[StatusEvent], *, journal: Journal
) -> list[EventOutcome]:
    """Apply `events` in one transaction; return what happened to each."""
    if not events:
        return []
    async with store.transaction() as conn:
        outcomes = [await apply_status_event(conn, event, journal=journal) for event in events]
    for event, outcome in zip(events, outcomes, strict=True):
        log.info(
            "region.event",
            region=event.region,
            region_case_no=event.region_case_no,
            status=event.status.value,
            outcome=outcome.value,
        )
    return outcomes


async def poll_once(
    store: Store, adapter: PollAdapter, *, journal: Journal, batch: int = 200
) -> int:
    """Ask `adapter`'s region about every open case it holds; return events applied."""
    async with store.read() as conn:
        rows = await conn.fetch_all(_OPEN_CASES, {"region": adapter.region, "limit": batch})
    cases = [row["region_case_no"] for row in rows]
    if not cases:
        return 0
    events = await adapter.poll(cases)
    outcomes = await apply_events(store, events, journal=journal)
    return sum(outcome is EventOutcome.APPLIED for outcome in outcomes)


async def poll_forever(
    store: Store,
    adapters: Mapping[str, PollAdapter],
    intervals: Mapping[str, float],
    *,
    journal: Journal,
) -> None:
    """Poll every pull region at its own interval until cancelled."""
    await asyncio.gather(
        *(
            _poll_region(store, adapter, intervals[region], journal)
            for region, adapter in adapters.items()
        )
    )


async def _poll_region(
    store: Store, adapter: PollAdapter, interval: float, journal: Journal
) -> None:
    with structlog.contextvars.bound_contextvars(region=adapter.region):
        while True:
            try:
                await poll_once(store, adapter, journal=journal)
            except TongbanError as exc:  # region down or store busy: try again next round
                log.warning("region.poll_failed", error=str(exc))
            await asyncio.sleep(interval)
