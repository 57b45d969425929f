"""Purging the personal data of closed cases once their retention period is over.

Personal data of an application lives in these places, and the purge clears each:

- ``applications.personal`` (sealed applicant, agent, phone, address, form): re-sealed
  as an empty record, so every reader still opens it;
- ``applications.masked`` (partly masked name, ID, phone, address, for lists): the
  kind of applicant only;
- ``applications.applicant_index`` (HMAC blind index of the ID number, a
  deterministic search token): replaced by a random value, so the case no longer
  matches that applicant, nor counts as a duplicate;
- ``applications.submission_body`` (the partner's signed body, sealed): NULL;
- ``deliveries.envelope`` (outbox payloads, sealed, with personal data): emptied;
- ``region_events.event`` (parked region events, whole): NULL;
- ``ratings.comment`` (free text, sealed): NULL;
- ``rating_followups.note`` (a supervisor's 差评 follow-up note, sealed; it may quote
  the applicant): NULL. The follow-up's level, dates and closing supervisor stay;
- ``postal_tracking.number`` (a mail tracking number leads to the applicant's
  address): replaced by ``purged:<n>``; the row stays, so the case still shows that
  a leg was posted, by which carrier, who recorded it and when;
- ``deliveries.hand_over_receipt`` (a peer gateway's signed receipt, with the
  masked applicant): replaced by its peer receipt number and the SHA-256 of the
  receipt, which still matches the peer's own copy;
- ``application_events.detail`` (history: withdrawal reasons, region messages,
  tracking numbers, follow-up notes in the clear): rewritten to the form the audit
  entry of the same event holds (free text as keyed digests), keeping the request id
  and the region's case number;
- ``idempotency_keys`` rows (the stored 202 body: the receipt with the masked
  applicant): deleted;
- attachment files and their rows (``<data_dir>/attachments``), unless another case
  still holding personal data refers to the same file (content-addressed).

What stays: the case's non-personal record (item, regions, status, dates, region
case number, material digests, evidence of the partner's signature), its history
events (details reduced as above) and its audit trail, which holds digests, never
personal data, so the hash chain still verifies. Each purged case gets one audit entry
(``application.personal_data_purged``): a regulator or an applicant asking "what
happened to my data" reads it in the case's own trace, which a per-run entry would
not show.

On SQLite the store runs with ``secure_delete`` on (deleted content is zeroed in
the file) and the purge truncates the WAL afterwards, so the bytes are gone from
the database file and its WAL, not only from the rows.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.applications.journal import detail_without_personal_data
from gateway.audit.log import AuditLog
from gateway.envelope import FINAL_STATUSES
from gateway.security.pii import PiiCipher
from gateway.store import Connection, Row, Store

__all__ = ["PURGED_KIND", "PurgeReport", "due_cases", "purge_due"]

PURGED_KIND = "application.personal_data_purged"
ACTOR = "system:retention"
_CLOSED = sorted(status.value for status in FINAL_STATUSES)
_CLOSED_SQL = ", ".join(f"'{status}'" for status in _CLOSED)

# Closed, not yet purged, closed before the cutoff, and nothing still on its way to a
# region (a rating or notice queued after closing still needs its envelope).
_DUE = f"""
SELECT id, status, updated_at, competent_region, region_case_no, applicant_kind, materials
FROM applications
WHERE personal_purged_at IS NULL
  AND status IN ({_CLOSED_SQL})
  AND updated_at <= :cutoff
  AND NOT EXISTS (
      SELECT 1 FROM deliveries d
      WHERE d.application_id = applications.id AND d.state IN ('pending', 'in_flight'))
ORDER BY updated_at, id
LIMIT :limit
"""  # noqa: S608 - statuses are our own constants

_STILL_USED = """
SELECT 1 AS used FROM applications
WHERE personal_purged_at IS NULL AND id <> :id AND materials LIKE :pattern
LIMIT 1
"""


@dataclass
class PurgeReport:
    """What one purge run did (or, dry, would do)."""

    cutoff: str
    dry_run: bool
    cases: list[str] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)  # digests whose files go

    def to_json(self) -> dict[str, Any]:
        return {
            "cutoff": self.cutoff,
            "dry_run": self.dry_run,
            "cases": len(self.cases),
            "application_ids": self.cases,
            "attachments": len(self.attachments),
        }


def cutoff_for(days: float, now: datetime | None = None) -> str:
    """The `updated_at` a closed case must be at or before to be due (ISO-8601 UTC)."""
    moment = (now or datetime.now(UTC)) - timedelta(days=days)
    return moment.isoformat()


async def due_cases(conn: Connection, cutoff: str, limit: int) -> list[Row]:
    return await conn.fetch_all(_DUE, {"cutoff": cutoff, "limit": limit})


def _digests(row: Row) -> list[str]:
    found: list[str] = []
    for material in json.loads(row["materials"]):
        found += [d for d in material.get("attachments", []) if isinstance(d, str)]
    return sorted(set(found))


async def _purge_case(
    conn: Connection, row: Row, *, audit: AuditLog, cipher: PiiCipher, days: float, now: str
) -> list[str] | None:
    """Clear one case's personal data (see module docstring); the files to delete, or
    None if another process purged it first."""
    app_id = str(row["id"])
    changed = await conn.execute(
        "UPDATE applications SET personal = :personal, masked = :masked, "
        "applicant_index = :index, submission_body = NULL, personal_purged_at = :now "
        "WHERE id = :id AND personal_purged_at IS NULL",
        {
            "id": app_id,
            "now": now,
            # An empty record where readers expect one; nothing personal is sealed in it.
            "personal": cipher.seal({"applicant": {}, "delivery": {}}, bound_to=app_id),
            "masked": json.dumps({"kind": row["applicant_kind"], "purged": True}),
            "index": "purged:" + secrets.token_hex(16),
        },
    )
    if not changed:
        return None
    params = {"id": app_id}
    await conn.execute("UPDATE deliveries SET envelope = '' WHERE application_id = :id", params)
    await conn.execute("UPDATE ratings SET comment = NULL WHERE application_id = :id", params)
    await conn.execute("UPDATE rating_followups SET note = NULL WHERE application_id = :id", params)
    await _purge_window_records(conn, app_id, cipher)
    await conn.execute("DELETE FROM idempotency_keys WHERE application_id = :id", params)
    await conn.execute(
        "UPDATE region_events SET event = NULL WHERE application_id = :id "
        "OR (region = :region AND region_case_no = :case_no)",
        {**params, "region": row["competent_region"], "case_no": row["region_case_no"]},
    )
    files: list[str] = []
    for digest in _digests(row):
        used = await conn.fetch_one(_STILL_USED, {"id": app_id, "pattern": f'%"{digest}"%'})
        if used is None:
            await conn.execute("DELETE FROM attachments WHERE digest = :d", {"d": digest})
            files.append(digest)
    await audit.append(
        conn,
        kind=PURGED_KIND,
        actor=ACTOR,
        application_id=app_id,
        region=str(row["competent_region"]),
        data={
            "closed_status": str(row["status"]),
            "closed_at": str(row["updated_at"]),
            "retention_days": days,
            "attachments_deleted": len(files),
        },
    )
    return files


# History detail members kept as they are: our own request id, and the region's case
# number, which the case's non-personal record keeps too.
_EVENT_KEPT = ("request_id", "region_case_no")


async def _purge_window_records(conn: Connection, app_id: str, cipher: PiiCipher) -> None:
    """Tracking numbers, peer receipts and history details of one case (see module doc)."""
    params = {"id": app_id}
    legs = await conn.fetch_all(
        "SELECT leg, number FROM postal_tracking WHERE application_id = :id "
        "ORDER BY recorded_at, number",
        params,
    )
    for n, leg in enumerate(legs, start=1):
        # The number is part of the key: each row gets its own placeholder.
        await conn.execute(
            "UPDATE postal_tracking SET number = :purged "
            "WHERE application_id = :id AND leg = :leg AND number = :number",
            {**params, "leg": leg["leg"], "number": leg["number"], "purged": f"purged:{n}"},
        )
    receipts = await conn.fetch_all(
        "SELECT id, hand_over_receipt FROM deliveries "
        "WHERE application_id = :id AND hand_over_receipt IS NOT NULL",
        params,
    )
    for delivery in receipts:
        await conn.execute(
            "UPDATE deliveries SET hand_over_receipt = :receipt WHERE id = :delivery",
            {"delivery": delivery["id"], "receipt": _receipt_trace(delivery["hand_over_receipt"])},
        )
    events = await conn.fetch_all(
        "SELECT id, kind, detail FROM application_events WHERE application_id = :id", params
    )
    for event in events:
        detail = json.loads(event["detail"] or "{}")
        if not isinstance(detail, dict) or not detail:
            continue
        reduced = detail_without_personal_data(cipher, str(event["kind"]), detail)
        reduced.update({k: detail[k] for k in _EVENT_KEPT if isinstance(detail.get(k), str)})
        await conn.execute(
            "UPDATE application_events SET detail = :detail WHERE id = :event",
            {"event": event["id"], "detail": json.dumps(reduced, ensure_ascii=False)},
        )


def _receipt_trace(stored: str) -> str:
    """What stays of a peer's signed receipt: its number and the digest of what we kept."""
    try:
        receipt = json.loads(stored)
    except ValueError:
        receipt = None
    number = receipt.get("receipt_no") if isinstance(receipt, dict) else None
    return json.dumps(
        {
            "purged": True,
            "receipt_no": number if isinstance(number, str) else None,
            "sha256": hashlib.sha256(stored.encode("utf-8")).hexdigest(),
        }
    )


async def purge_due(
    store: Store,
    *,
    audit: AuditLog,
    cipher: PiiCipher,
    days: float,
    batch: int,
    dry_run: bool,
    now: datetime | None = None,
) -> PurgeReport:
    """Purge (or with `dry_run`, list) every closed case past its retention period.

    Purges in transactions of `batch` cases. Returns the report; the caller deletes
    the attachment files it names once this returns (after the commits), and on
    SQLite truncates the WAL.
    """
    moment = now or datetime.now(UTC)
    report = PurgeReport(cutoff=cutoff_for(days, moment), dry_run=dry_run)
    stamp = moment.isoformat()
    if dry_run:
        async with store.transaction() as conn:
            rows = await due_cases(conn, report.cutoff, 1_000_000)
        report.cases = [str(row["id"]) for row in rows]
        return report
    while True:
        async with store.transaction() as conn:
            rows = await due_cases(conn, report.cutoff, batch)
            for row in rows:
                files = await _purge_case(
                    conn, row, audit=audit, cipher=cipher, days=days, now=stamp
                )
                if files is not None:
                    report.cases.append(str(row["id"]))
                    report.attachments += files
        if len(rows) < batch:
            return report
