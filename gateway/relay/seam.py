"""The seam between the relay and the rest of the gateway: the only way between them.

The relay knows no applications. `gateway.app` hands it a `DeliveryListener`
(told of each delivery's final outcome and of replays, inside the transaction
that records them) and a `ResultSink` (the open cases a polled region is asked
about, and where the region's status events go); the applications implement
both (`gateway.applications.relay_outcomes`, `gateway.applications.region_events`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from gateway.envelope import RegionAck, StatusEvent
from gateway.relay.deliveries import DeliveryRecord, DeliveryRef
from gateway.store import Connection, Row


class DeliveryListener(Protocol):
    """Told of final outcomes and replays, inside the transaction that records them."""

    async def delivered(
        self, conn: Connection, record: DeliveryRecord, ack: RegionAck | None
    ) -> None: ...

    async def dead_lettered(
        self, conn: Connection, record: DeliveryRef, reason_zh: str, detail: str
    ) -> None: ...

    async def replayed(self, conn: Connection, delivery: Row, actor: str) -> None:
        """Ops queued the dead letter `delivery` (``id``, ``application_id``, ``kind``) again."""
        ...


class ResultSink(Protocol):
    """Where the status events a polled region reports go."""

    async def open_cases(self, region: str, limit: int) -> list[str]:
        """The region's case numbers of applications still waiting for a result."""
        ...

    async def apply(self, events: Sequence[StatusEvent]) -> int:
        """Apply `events` durably (one transaction); return how many changed a case."""
        ...


__all__ = ["DeliveryListener", "ResultSink"]
