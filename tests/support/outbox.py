"""Envelopes and application rows for tests that drive the relay's outbox directly
(its worker and settling), below the HTTP intake that normally writes them."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from gateway.catalog.models import Channel, HandlingMode, TrustLevel
from gateway.envelope import (
    Envelope,
    EnvelopeMaterial,
    Party,
    ResultHandOver,
    SubmissionBody,
    SupplementBody,
)
from gateway.store import Connection


def relay_envelope(
    application_id: str, kind: str = "submission", *, created_at: datetime | None = None
) -> Envelope:
    """A Shenzhen submission (or supplement) of `application_id`, with a fresh
    idempotency key, so each call is a new delivery."""
    material = EnvelopeMaterial(
        material_id="id_card", material_name="居民身份证", provided=True, trust_level=TrustLevel.B
    )
    body: SubmissionBody | SupplementBody
    if kind == "submission":
        body = SubmissionBody(
            handling_mode=HandlingMode.PROXY,
            channel=Channel.WINDOW,
            applicant=Party(kind="person", name="张三", id_type="resident_id", id_number="x"),
            materials=(material,),
            delivery=ResultHandOver(method="window_pickup"),
            supplement_deadline=date(2026, 12, 4),
        )
    else:
        body = SupplementBody(materials=(material,))
    return Envelope(
        envelope_id=uuid.uuid4().hex,
        idempotency_key=f"{application_id}:{kind}:{uuid.uuid4().hex[:6]}",
        application_id=application_id,
        request_id=uuid.uuid4().hex,
        item_code="SZ-0001",
        receiving_region="dongguan",
        competent_region="shenzhen",
        created_at=created_at or datetime.now(UTC),
        body=body,
    )


async def insert_received_application(conn: Connection, envelope: Envelope, now: datetime) -> None:
    """The ``received`` application row that `envelope`'s delivery belongs to."""
    await conn.execute(
        "INSERT INTO applications (id, request_id, item_code, receiving_region,"
        " competent_region, channel, handling_mode, applicant_kind, applicant_index,"
        " material_fingerprint, personal, masked, materials, status, anticipate_type,"
        " promise_type, submitted_by, created_at, updated_at) VALUES (:id, 'r', :item,"
        " :receiving, :competent, 'window', 'proxy', 'person', 'i', 'f', 'sealed', '{}',"
        " '[]', 'received', 'working_day', 'working_day', 'test', :now, :now)",
        {
            "id": envelope.application_id,
            "item": envelope.item_code,
            "receiving": envelope.receiving_region,
            "competent": envelope.competent_region,
            "now": now.isoformat(),
        },
    )
