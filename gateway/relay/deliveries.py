"""The outbox table as the relay sees it: claim, settle, reschedule, dead-letter, replay.

A delivery moves ``pending`` → ``in_flight`` (claimed, with a lease) → ``delivered``,
back to ``pending`` (retry later), or ``failed`` (dead letter, until ops replay it).
A claim whose lease expires (its worker crashed) is claimable again, and is resent
under the same idempotency key, so the region creates one case however often it
hears it. Every settle checks the lease is still ours, so a slow worker whose lease
was taken over cannot overwrite the newer outcome.

Per application and destination, deliveries go in order: one is claimable only
once every earlier delivery of its application to the same destination is
delivered (a supplement never overtakes its submission; a partner's status
notices arrive in order), while a partner's dead webhook endpoint never holds
back what goes to the region. SQL is kept here as data; PostgreSQL adds ``FOR UPDATE SKIP LOCKED``
so several gateway processes can claim side by side.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog
from pydantic import ValidationError

from gateway.envelope import Envelope
from gateway.errors import PiiError
from gateway.store import Connection, Row

log = structlog.get_logger(__name__)

PENDING, IN_FLIGHT, DELIVERED, FAILED = "pending", "in_flight", "delivered", "failed"
STATES = (PENDING, IN_FLIGHT, DELIVERED, FAILED)

EnvelopeOpener = Callable[[Row], Envelope]
"""Reads the (sealed) envelope of a deliveries row: `gateway.outbox.open_envelope`."""


def to_db(moment: datetime) -> str:
    """A UTC timestamp as fixed-width ISO text, so text order is time order."""
    if moment.tzinfo is not UTC:  # most are UTC already (the relay's clock)
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="microseconds")


def from_db(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


class DeliveryRef(Protocol):
    """What names a delivery and its application, whether or not its envelope opens."""

    @property
    def id(self) -> str: ...

    @property
    def application_id(self) -> str: ...

    @property
    def kind(self) -> str: ...


@dataclass(frozen=True)
class Unreadable:
    """A claimed row whose envelope would not open: dead-lettered by `claim`, alone."""

    id: str
    application_id: str
    kind: str
    reason_zh: str
    detail: str


# The clerk's words for a row the gateway cannot read back.
UNREADABLE_KEY_ZH = "网关无法读取此件（密钥缺失或数据损坏）"
UNREADABLE_FORMAT_ZH = "网关无法读取此件（数据格式无效）"


@dataclass(frozen=True)
class DeliveryRecord:
    """One delivery row, with its envelope parsed."""

    id: str
    application_id: str
    kind: str
    destination: str  # a region, or a partner's webhook lane (``partner:<id>``)
    idempotency_key: str
    envelope: Envelope
    state: str
    attempts: int
    attempt_budget_base: int
    queued_at: datetime
    next_attempt_at: datetime | None
    region_case_no: str | None
    last_error: str | None
    dead_reason_zh: str | None

    @classmethod
    def from_row(cls, row: Row, opener: EnvelopeOpener) -> DeliveryRecord:
        return cls(
            id=row["id"],
            application_id=row["application_id"],
            kind=row["kind"],
            destination=row["destination"],
            idempotency_key=row["idempotency_key"],
            envelope=opener(row),
            state=row["state"],
            attempts=row["attempts"],
            attempt_budget_base=row["attempt_budget_base"],
            queued_at=from_db(row["queued_at"] or row["created_at"]) or datetime.now(UTC),
            next_attempt_at=from_db(row["next_attempt_at"]),
            region_case_no=row["region_case_no"],
            last_error=row["last_error"],
            dead_reason_zh=row["dead_reason_zh"],
        )

    @property
    def budget_attempts(self) -> int:
        """Attempts counted against the retry budget (since queueing or the last replay)."""
        return self.attempts - self.attempt_budget_base


# The earliest due deliveries whose predecessors (same application, same
# destination) are all delivered.
_READY = """
    NOT EXISTS (
        SELECT 1 FROM deliveries e
        WHERE e.application_id = d.application_id
          AND e.destination = d.destination
          AND e.state <> 'delivered'
          AND (e.created_at < d.created_at OR (e.created_at = d.created_at AND e.id < d.id)))
"""

# Due (pending) and lapsed (in flight past its lease) are two index range scans on
# deliveries_claimable (destination, state, next_attempt_at), each read in order and
# stopped at the limit: one query with an OR between them scanned and sorted every
# row of the destination, delivered ones included (milliseconds per claim, growing
# with the table). The merged candidates keep the same order as before.
_CLAIM = (
    """
UPDATE deliveries
SET state = 'in_flight', lease_owner = :owner, lease_expires_at = :lease_until,
    updated_at = :now
WHERE id IN (
    SELECT id FROM (
        SELECT id, next_attempt_at FROM (
            SELECT d.id, d.next_attempt_at FROM deliveries d
            WHERE d.destination = :destination AND d.state = 'pending'
              AND d.next_attempt_at <= :now AND READY
            ORDER BY d.next_attempt_at, d.id
            LIMIT :limit
            {lock}) AS due
        UNION ALL
        SELECT id, next_attempt_at FROM (
            SELECT d.id, d.next_attempt_at FROM deliveries d
            WHERE d.destination = :destination AND d.state = 'in_flight'
              AND d.lease_expires_at <= :now AND READY
            ORDER BY d.next_attempt_at, d.id
            LIMIT :limit
            {lock}) AS lapsed
    ) AS candidates
    ORDER BY next_attempt_at, id
    LIMIT :limit
)
RETURNING *
"""
).replace("READY", _READY.strip())


async def claim(
    conn: Connection,
    *,
    backend: str,
    destination: str,
    owner: str,
    now: datetime,
    lease_until: datetime,
    limit: int,
    opener: EnvelopeOpener,
    unreadable: list[Unreadable] | None = None,
) -> list[DeliveryRecord]:
    """Claim up to `limit` due deliveries for `destination`, leased to `owner` until `lease_until`.

    A row whose envelope will not open is dead-lettered on the spot and, if given,
    appended to `unreadable` (so its application can be told); it is not returned.
    """
    lock = "FOR UPDATE SKIP LOCKED" if backend == "postgres" else ""
    rows = await conn.fetch_all(
        _CLAIM.format(lock=lock),
        {
            "owner": owner,
            "destination": destination,
            "now": to_db(now),
            "lease_until": to_db(lease_until),
            "limit": limit,
        },
    )
    records = []
    for row in rows:
        try:
            records.append(DeliveryRecord.from_row(row, opener))
        except Exception as exc:  # one bad row must not stop the claim
            # Retrying cannot help (its key is gone, or what is stored does not fit the
            # envelope): this row alone becomes a dead letter; the others go on.
            dead = Unreadable(
                id=row["id"],
                application_id=row["application_id"],
                kind=row["kind"],
                reason_zh=UNREADABLE_KEY_ZH if isinstance(exc, PiiError) else UNREADABLE_FORMAT_ZH,
                detail=_unreadable_detail(exc),
            )
            log.error(
                "relay.unreadable_delivery",
                delivery_id=dead.id,
                application_id=dead.application_id,
                detail=dead.detail,
                # A validation error's text quotes the envelope (personal data): no traceback.
                exc_info=not isinstance(exc, ValidationError),
            )
            await conn.execute(
                "UPDATE deliveries SET state = 'failed', lease_owner = NULL,"
                " lease_expires_at = NULL, last_error = :detail, dead_reason_zh = :zh,"
                " dead_detail = :detail WHERE id = :id",
                {"id": dead.id, "zh": dead.reason_zh, "detail": dead.detail},
            )
            if unreadable is not None:
                unreadable.append(dead)
    return records


def _unreadable_detail(exc: Exception) -> str:
    """What ops read about an unreadable row, without quoting its (personal) contents."""
    if isinstance(exc, ValidationError):
        fields = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '(root)'}: {error['type']}"
            for error in exc.errors(include_input=False, include_url=False)
        )
        return f"ValidationError: {fields}"[:2000]
    return f"{type(exc).__name__}: {exc}"[:2000]


async def submission_case_no(conn: Connection, application_id: str) -> str | None:
    """The region's case number from the application's delivered submission, if any."""
    row = await conn.fetch_one(
        "SELECT region_case_no FROM deliveries WHERE application_id = :id "
        "AND kind = 'submission' AND state = 'delivered'",
        {"id": application_id},
    )
    return None if row is None else row["region_case_no"]


async def settle(
    conn: Connection,
    record: DeliveryRecord,
    *,
    owner: str,
    now: datetime,
    state: str,
    next_attempt_at: datetime | None = None,
    count_attempt: bool = True,
    region_case_no: str | None = None,
    last_error: str | None = None,
    dead_reason_zh: str | None = None,
    dead_detail: str | None = None,
    hand_over_receipt: str | None = None,
) -> bool:
    """Record the outcome of our claim. False if the lease was lost (nothing written)."""
    changed = await conn.execute(
        """
        UPDATE deliveries
        SET state = :state, attempts = attempts + :counted,
            next_attempt_at = COALESCE(:next_at, next_attempt_at),
            lease_owner = NULL, lease_expires_at = NULL, updated_at = :now,
            region_case_no = COALESCE(:case_no, region_case_no),
            hand_over_receipt = COALESCE(:receipt, hand_over_receipt),
            delivered_at = CASE WHEN :state = 'delivered' THEN :now ELSE delivered_at END,
            last_error = :last_error, dead_reason_zh = :dead_reason, dead_detail = :dead_detail
        WHERE id = :id AND state = 'in_flight' AND lease_owner = :owner
        """,
        {
            "id": record.id,
            "owner": owner,
            "state": state,
            "counted": 1 if count_attempt else 0,
            "next_at": to_db(next_attempt_at) if next_attempt_at else None,
            "now": to_db(now),
            "case_no": region_case_no,
            "receipt": hand_over_receipt,
            "last_error": last_error,
            "dead_reason": dead_reason_zh,
            "dead_detail": dead_detail,
        },
    )
    return changed == 1


async def record_attempt(conn: Connection, **values: Any) -> None:
    """Append one attempt row (what ops read in a trace)."""
    await conn.execute(
        """
        INSERT INTO delivery_attempts (delivery_id, attempt, instance, started_at, ended_at,
            duration_ms, outcome, error_class, region_code, http_status, detail,
            request_sent_at, response_received_at, calls)
        VALUES (:delivery_id, :attempt, :instance, :started_at, :ended_at, :duration_ms,
            :outcome, :error_class, :region_code, :http_status, :detail,
            :request_sent_at, :response_received_at, :calls)
        """,
        {"request_sent_at": None, "response_received_at": None, "calls": None, **values},
    )


async def release(conn: Connection, delivery_ids: list[str], *, owner: str, now: datetime) -> int:
    """Give claims back untried (shutdown): due again at once, no attempt counted."""
    released = 0
    for delivery_id in delivery_ids:
        released += await conn.execute(
            "UPDATE deliveries SET state = 'pending', lease_owner = NULL, lease_expires_at = NULL,"
            " next_attempt_at = :now, updated_at = :now"
            " WHERE id = :id AND state = 'in_flight' AND lease_owner = :owner",
            {"id": delivery_id, "owner": owner, "now": to_db(now)},
        )
    return released


async def get(conn: Connection, delivery_id: str, opener: EnvelopeOpener) -> DeliveryRecord | None:
    row = await conn.fetch_one("SELECT * FROM deliveries WHERE id = :id", {"id": delivery_id})
    return None if row is None else DeliveryRecord.from_row(row, opener)


async def list_deliveries(
    conn: Connection,
    *,
    state: str | None = None,
    destination: str | None = None,
    limit: int = 100,
) -> list[Row]:
    """Deliveries for ops, newest first, without envelopes (they hold personal data).

    Each row names its destination ``region``, as the ops API and CLI always have.
    """
    return await conn.fetch_all(
        """
        SELECT id, application_id, kind, destination AS region, idempotency_key, state, attempts,
               next_attempt_at, created_at, updated_at, delivered_at, region_case_no,
               last_error, dead_reason_zh, dead_detail, replays
        FROM deliveries
        WHERE (CAST(:state AS TEXT) IS NULL OR state = :state)
          AND (CAST(:destination AS TEXT) IS NULL OR destination = :destination)
        ORDER BY created_at DESC, id DESC
        LIMIT :limit
        """,
        {"state": state, "destination": destination, "limit": limit},
    )


async def replay(conn: Connection, delivery_id: str, *, now: datetime) -> bool:
    """Queue a dead letter again under the same idempotency key, with a fresh budget.

    False if it is not a dead letter (already replayed, delivered, or unknown), so
    replaying twice queues it once.
    """
    changed = await conn.execute(
        """
        UPDATE deliveries
        SET state = 'pending', next_attempt_at = :now, queued_at = :now, updated_at = :now,
            attempt_budget_base = attempts, replays = replays + 1,
            dead_reason_zh = NULL, dead_detail = NULL
        WHERE id = :id AND state = 'failed'
        """,
        {"id": delivery_id, "now": to_db(now)},
    )
    return changed == 1
