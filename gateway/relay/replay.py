"""Replaying dead letters: ops send a failed delivery again, under the same key.

The idempotency key is kept, so a region that did receive the first attempt
answers with the case it already holds. The `DeliveryListener` is told of a replay
on its transaction (the applications write it to the case's history, and so to
the audit trail, with who asked for it). Replaying something
that is not a dead letter changes nothing and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from gateway.relay import deliveries
from gateway.relay.seam import DeliveryListener
from gateway.store import Store

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ReplayResult:
    delivery_id: str
    replayed: bool
    reason: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {"delivery_id": self.delivery_id, "replayed": self.replayed, "reason": self.reason}


async def replay_delivery(
    store: Store, delivery_id: str, *, actor: str, listener: DeliveryListener
) -> ReplayResult:
    """Queue the dead letter `delivery_id` again; say why not if it is not one."""
    async with store.transaction() as conn:
        row = await conn.fetch_one(
            "SELECT id, application_id, kind, state FROM deliveries WHERE id = :id",
            {"id": delivery_id},
        )
        if row is None:
            return ReplayResult(delivery_id, False, "no such delivery")
        if not await deliveries.replay(conn, delivery_id, now=datetime.now(UTC)):
            return ReplayResult(delivery_id, False, f"not a dead letter (state {row['state']})")
        await listener.replayed(conn, row, actor)
    log.info("relay.replayed", delivery_id=delivery_id, actor=actor)
    return ReplayResult(delivery_id, True)


async def replay_all_failed(
    store: Store,
    *,
    actor: str,
    listener: DeliveryListener,
    destination: str | None = None,
) -> list[ReplayResult]:
    """Replay every dead letter (of `destination`, if given)."""
    async with store.read() as conn:
        rows = await deliveries.list_deliveries(
            conn, state=deliveries.FAILED, destination=destination, limit=100_000
        )
    return [await replay_delivery(store, row["id"], actor=actor, listener=listener) for row in rows]
