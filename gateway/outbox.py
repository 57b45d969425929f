"""The outbox, write side: envelopes become `deliveries` rows on the caller's transaction.

A small module of its own so that the applications (which enqueue) and the
relay (which opens what it claims) share it without importing each other.

A delivery row is written in the same transaction as the change that causes it
(the application, a supplement, a withdrawal, a rating), so nothing is
acknowledged before its delivery is durable. Its ``idempotency_key`` is unique:
enqueueing the same message twice raises `UniqueViolation` instead of sending it
twice. The envelope holds personal data in the clear (the region needs it), so it
is stored sealed with the PII key ring; the relay worker reads it back with
`open_envelope`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import uuid6

from gateway.envelope import Envelope, EnvelopeBody
from gateway.observability.tracecontext import trace_for
from gateway.security.pii import PiiCipher
from gateway.store import Connection, Row

PARTNER_DESTINATION_PREFIX = "partner:"


def partner_destination(partner_id: str) -> str:
    """The outbox destination (relay lane key) of a partner's webhook."""
    return f"{PARTNER_DESTINATION_PREFIX}{partner_id}"


def new_envelope(
    application: Row,
    body: EnvelopeBody,
    *,
    request_id: str,
    idempotency_key: str,
    task_code: str | None = None,
) -> Envelope:
    """An envelope for `application` (a row of ``applications``) carrying `body`.

    Its trace id is the current trace (the request that causes it), else the
    application's own, so the region's side of the call joins the same trace.
    """
    return Envelope(
        envelope_id=str(uuid6.uuid7()),
        idempotency_key=idempotency_key,
        application_id=application["id"],
        request_id=request_id,
        trace_id=trace_for(application),
        item_code=application["item_code"],
        task_code=task_code,
        receiving_region=application["receiving_region"],
        competent_region=application["competent_region"],
        region_case_no=application.get("region_case_no"),
        created_at=datetime.now(UTC),
        body=body,
    )


async def enqueue(
    conn: Connection, envelope: Envelope, *, cipher: PiiCipher, destination: str | None = None
) -> str:
    """Write a pending delivery of `envelope`; return its id.

    It goes to `destination` (a lane key, e.g. ``partner:<id>`` for a webhook),
    by default the envelope's competent region. Raises `UniqueViolation` if a
    delivery with the same idempotency key exists.
    """
    return await insert_delivery(conn, sealed_delivery(envelope, cipher, destination))


def sealed_delivery(
    envelope: Envelope, cipher: PiiCipher, destination: str | None = None
) -> dict[str, Any]:
    """The ``deliveries`` row of `envelope`, sealed: prepared before a transaction opens."""
    return {
        "id": envelope.envelope_id,
        "application_id": envelope.application_id,
        "kind": envelope.kind,
        "destination": destination or envelope.competent_region,
        "key": envelope.idempotency_key,
        "envelope": cipher.seal(envelope.model_dump(mode="json"), bound_to=envelope.envelope_id),
        "now": datetime.now(UTC).isoformat(),
    }


async def insert_delivery(conn: Connection, delivery: dict[str, Any]) -> str:
    """Write a row made by `sealed_delivery`; return its id (see `enqueue`)."""
    await conn.execute(
        "INSERT INTO deliveries (id, application_id, kind, destination, idempotency_key, envelope, "
        "state, attempts, next_attempt_at, created_at, updated_at) VALUES (:id, "
        ":application_id, :kind, :destination, :key, :envelope, 'pending', 0, :now, :now, :now)",
        delivery,
    )
    return str(delivery["id"])


def open_envelope(row: Row | dict[str, Any], cipher: PiiCipher) -> Envelope:
    """The `Envelope` stored in a ``deliveries`` row; raises `PiiError` if it will not open."""
    return Envelope.model_validate(cipher.open(row["envelope"], bound_to=row["id"]))
