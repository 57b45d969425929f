"""Polling pull regions for results.

Every pull region (`PollAdapter`) is asked, at its own interval, about the open
cases it holds; its status events go to the `ResultSink`, which applies them in
one transaction per batch. Nothing is acknowledged to a polled region: it is
simply asked again next time, so no result is lost, and repeated ones change
nothing (the sink deduplicates by event id).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import structlog

from adapters.base import PollAdapter
from gateway.errors import TongbanError
from gateway.relay.seam import ResultSink

log = structlog.get_logger(__name__)


async def poll_once(adapter: PollAdapter, results: ResultSink, *, batch: int = 200) -> int:
    """Ask `adapter`'s region about every open case it holds; return events applied."""
    cases = await results.open_cases(adapter.region, batch)
    if not cases:
        return 0
    events = await adapter.poll(cases)
    return await results.apply(events)


async def poll_forever(
    adapters: Mapping[str, PollAdapter], intervals: Mapping[str, float], results: ResultSink
) -> None:
    """Poll every pull region at its own interval until cancelled."""
    await asyncio.gather(
        *(_poll_region(adapter, intervals[region], results) for region, adapter in adapters.items())
    )


async def _poll_region(adapter: PollAdapter, interval: float, results: ResultSink) -> None:
    with structlog.contextvars.bound_contextvars(region=adapter.region):
        while True:
            try:
                await poll_once(adapter, results)
            except TongbanError as exc:  # region down or store busy: try again next round
                log.warning("region.poll_failed", error=str(exc))
            await asyncio.sleep(interval)
