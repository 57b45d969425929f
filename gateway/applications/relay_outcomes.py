"""What a delivery's outcome means for its application.

The relay calls these inside the transaction that settles the delivery, so the
application's status and the delivery's state never disagree. A region may
already have reported on the case (a callback can overtake the relay's own
bookkeeping), so an outcome that no longer fits the application's status is
recorded in its history instead of moving it. A region's status notice that
came before the case number it names is applied once the submission's delivery
lands that number (`apply_parked_events`). A partner's status notice never moves
the application: a delivered one leaves no history event, a dead one leaves
``status_notice_failed``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import structlog

from gateway.applications.history import load, record_event
from gateway.applications.journal import Journal
from gateway.applications.notices import NOTICE_KIND
from gateway.applications.region_events import apply_parked_events
from gateway.applications.transitions import Origin, transition
from gateway.envelope import RegionAck, Status
from gateway.relay.deliveries import DeliveryRecord, DeliveryRef
from gateway.store import Connection, Row

log = structlog.get_logger(__name__)

RELAY_ACTOR = "system:relay"


class ApplicationOutcomes:
    """The relay's `DeliveryListener` for applications; history goes through `journal`."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal

    async def delivered(
        self, conn: Connection, record: DeliveryRecord, ack: RegionAck | None
    ) -> None:
        if record.kind == NOTICE_KIND:
            return  # the delivery row and its attempts say it; the history stays the case's own
        now = datetime.now(UTC)
        case_no = ack.region_case_no if ack else None
        row = await load(conn, record.application_id)
        status = Status(row["status"])
        if record.kind == "submission" and status in (Status.RECEIVED, Status.RELAY_FAILED):
            forwarded = await transition(
                conn,
                record.application_id,
                Status.FORWARDED,
                origin=Origin.RELAY,
                journal=self._journal,
                current_row=row,
                actor=RELAY_ACTOR,
                at=now,
                changes={"region_case_no": case_no} if case_no else None,
                detail={"delivery_id": record.id, "duplicate": bool(ack and ack.duplicate)},
            )
            if case_no:
                await apply_parked_events(conn, forwarded, journal=self._journal)
            return
        landed = record.kind == "submission" and case_no and not row["region_case_no"]
        if landed:
            await self._journal.audit.hold_append_lock(conn)  # before the row: see transition
            await conn.execute(
                "UPDATE applications SET region_case_no = :case_no WHERE id = :id",
                {"case_no": case_no, "id": record.application_id},
            )
        await record_event(
            conn,
            row,
            f"{record.kind}_delivered",
            journal=self._journal,
            actor=RELAY_ACTOR,
            occurred_at=now,
            detail={"delivery_id": record.id, "region_case_no": case_no},
        )
        if landed:
            landed_row = {**row, "region_case_no": case_no}
            await apply_parked_events(conn, landed_row, journal=self._journal)

    async def dead_lettered(
        self, conn: Connection, record: DeliveryRef, reason_zh: str, detail: str
    ) -> None:
        now = datetime.now(UTC)
        row = await load(conn, record.application_id)
        # A failed status notice (kind status_notice) only leaves a history event:
        # ``status_notice_failed``, which queues no notice (only transitions do).
        if record.kind == "submission" and Status(row["status"]) is Status.RECEIVED:
            await transition(
                conn,
                record.application_id,
                Status.RELAY_FAILED,
                origin=Origin.RELAY,
                journal=self._journal,
                current_row=row,
                actor=RELAY_ACTOR,
                at=now,
                detail={"delivery_id": record.id, "reason": reason_zh},
            )
            return
        await record_event(
            conn,
            row,
            f"{record.kind}_failed",
            journal=self._journal,
            actor=RELAY_ACTOR,
            occurred_at=now,
            detail={"delivery_id": record.id, "reason": reason_zh},
        )

    async def replayed(self, conn: Connection, delivery: Row, actor: str) -> None:
        """Ops queued a dead letter again: a failed submission's case is back to received."""
        application_id, kind = delivery["application_id"], delivery["kind"]
        row = await load(conn, application_id)
        if kind == "submission" and Status(row["status"]) is Status.RELAY_FAILED:
            await transition(
                conn,
                application_id,
                Status.RECEIVED,
                origin=Origin.RELAY,
                journal=self._journal,
                current_row=row,
                actor=actor,
                detail={"delivery_id": delivery["id"], "replay": True},
            )
            return
        await record_event(
            conn,
            row,
            f"{kind}_replayed",
            journal=self._journal,
            actor=actor,
            occurred_at=datetime.now(UTC),
            detail={"delivery_id": delivery["id"]},
        )
