"""Fakes for tests of code that uses the relay: a scripted, recording region client.

`ScriptedRegion` answers each call from a script of outcomes (an ack, or an
exception to raise) and records every envelope it saw, deduplicating by
idempotency key the way a real region must, so tests can count cases.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from gateway.envelope import Envelope, RegionAck
from gateway.relay.deliveries import DeliveryRecord, DeliveryRef
from gateway.store import Connection, Row


@dataclass
class ScriptedRegion:
    """A region client whose answers follow `script`; afterwards it accepts everything."""

    region: str
    script: list[Exception | None] = field(default_factory=list)
    calls: list[Envelope] = field(default_factory=list)
    cases: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    async def _answer(self, envelope: Envelope) -> RegionAck:
        self.calls.append(envelope)
        if self.delay:
            await asyncio.sleep(self.delay)
        outcome = self.script.pop(0) if self.script else None
        if outcome is not None:
            raise outcome
        duplicate = envelope.idempotency_key in self.cases
        case_no = self.cases.setdefault(
            envelope.idempotency_key, f"{self.region.upper()}-{len(self.cases) + 1:06d}"
        )
        return RegionAck(region_case_no=case_no, duplicate=duplicate)

    async def submit(self, envelope: Envelope) -> RegionAck:
        return await self._answer(envelope)

    async def send_supplement(self, envelope: Envelope) -> RegionAck | None:
        return await self._answer(envelope)

    async def withdraw(self, envelope: Envelope) -> RegionAck | None:
        return await self._answer(envelope)

    async def send_rating(self, envelope: Envelope) -> RegionAck | None:
        return await self._answer(envelope)

    def kinds(self) -> list[str]:
        return [envelope.kind for envelope in self.calls]


@dataclass
class RecordingListener:
    """A `DeliveryListener` that remembers what it was told."""

    delivered_ids: list[str] = field(default_factory=list)
    dead: list[tuple[str, str, str]] = field(default_factory=list)
    replays: list[tuple[str, str]] = field(default_factory=list)

    async def delivered(
        self, conn: Connection, record: DeliveryRecord, ack: RegionAck | None
    ) -> None:
        self.delivered_ids.append(record.id)

    async def dead_lettered(
        self, conn: Connection, record: DeliveryRef, reason_zh: str, detail: str
    ) -> None:
        self.dead.append((record.id, reason_zh, detail))

    async def replayed(self, conn: Connection, delivery: Row, actor: str) -> None:
        self.replays.append((delivery["id"], actor))
