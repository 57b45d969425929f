"""Intake: a checked request becomes an application, its first event and its delivery.

`submit` answers in one of four ways, all decided inside one transaction:

- a new application: the row, its ``received`` history event and audit entry, the
  submission's delivery row and the Idempotency-Key record are written together
  (202); the receipt carries the audit entry's position and is signed with the
  gateway key when one is unlocked;
- a replay: the same Idempotency-Key with the same body returns the stored answer;
- a conflict: the same key with another body raises `IdempotencyConflict` (409);
- a business duplicate: the same applicant (blind index) + item + material files
  from the same caller within the configured window answers with the existing
  application (200).

Everything that is not SQL — checking the attachment files, sealing personal
data, counting deadlines, building and sealing the delivery — is prepared before
the transaction opens (`_prepare`); inside it run only the lookups and writes, the
audit append, and the receipt's signature (it covers the audit position, known
only there). The request's nonce, when the route hands one over, is recorded in
the same transaction: one durable commit per application.

SQLite serialises transactions, so concurrent requests with one key see each
other. On PostgreSQL two may race past the lookup; the key's primary key refuses
the second insert and `submit` retries once, finding the first one's answer.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import structlog
import uuid6

from gateway import jsonio, outbox
from gateway.applications import clocks, deadlines, history, proof, records
from gateway.applications.checks import validate_request
from gateway.applications.models import ApplicationRequest, Attestation, MaterialInput
from gateway.audit import Position
from gateway.catalog.models import Item, TrustLevel
from gateway.envelope import ResultHandOver, Status, SubmissionBody
from gateway.errors import FieldError, IdempotencyConflict, InvalidApplication, UniqueViolation
from gateway.security.evidence import SubmissionEvidence
from gateway.security.nonces import NonceClaim
from gateway.store import Connection

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class IntakeResult:
    """What to answer: HTTP status, JSON body, and whether it is a replay or a duplicate."""

    status: int
    body: dict[str, Any]
    replayed: bool = False
    duplicate_of: str | None = None


def request_hash(body: Any) -> str:
    """SHA-256 of the body's canonical JSON (key order and spacing do not matter)."""
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def submit(
    deps: records.Deps,
    body: Any,
    *,
    request_id: str,
    caller: str,
    idempotency_key: str | None,
    evidence: SubmissionEvidence | None = None,
    signed_body: bytes | None = None,
    trace_id: str | None = None,
    nonce: NonceClaim | None = None,
) -> IntakeResult:
    """Check `body` and take the application in; see the module docstring for answers.

    A partner's submission comes with its `evidence` (the verified RFC 9421
    signature) and the exact `signed_body` bytes: both are kept with the
    application (the body sealed like other personal data), so the signature can
    be re-checked later. `trace_id` (W3C) is kept with the application and sent
    downstream in its envelope. `nonce` is recorded in the intake transaction
    (`NonceReplayed` if seen before: nothing is written). Raises `InvalidApplication`
    (every bad field; nothing is written) or `IdempotencyConflict`.
    """
    request, item = validate_request(body, deps.catalog)
    await check_attachments(deps, item, request.materials, request.attestation)
    digest = request_hash(body)
    signed = proof.Signed(evidence, signed_body) if evidence is not None else None
    for attempt in (1, 2):
        prepared = _prepare(deps, request, item, request_id, caller, signed, trace_id)
        try:
            return await _take_in(deps, prepared, idempotency_key, digest, nonce)
        except UniqueViolation as exc:
            if attempt == 2 or "idempotency" not in (exc.constraint or str(exc)):
                raise
            log.info("application.idempotency_race", caller=caller)
    raise AssertionError("unreachable")  # pragma: no cover


async def check_attachments(
    deps: records.Deps,
    item: Item,
    materials: tuple[MaterialInput, ...],
    attestation: Attestation | None,
) -> None:
    """Every referenced digest is stored with a media type its material accepts, and
    level-B materials are covered by the staff attestation; else `InvalidApplication`."""
    errors = []
    digests = list(dict.fromkeys(digest for entry in materials for digest in entry.attachments))
    stored: dict[str, Any] = {}
    if digests:
        # One query and one thread hop for every attachment, not two hops for each.
        params = {f"d{n}": digest for n, digest in enumerate(digests)}
        marks = ", ".join(f":{name}" for name in params)
        async with deps.store.read() as conn:
            rows = await conn.fetch_all(
                f"SELECT digest, media_type FROM attachments WHERE digest IN ({marks})",  # noqa: S608 - our own parameter names
                params,
            )
        stored = {row["digest"]: row for row in rows}
    # The files are checked after the read is given back: no connection waits on the disk.
    on_disk = await deps.attachments.present([digest for digest in digests if digest in stored])
    for index, entry in enumerate(materials):
        material = item.material(entry.material_id)
        for position, digest in enumerate(entry.attachments):
            where = f"materials.{index}.attachments.{position}"
            row = stored.get(digest)
            if row is None or digest not in on_disk:
                errors.append(FieldError(where, "附件未上传或已丢失，请重新上传", "missing"))
            elif material and row["media_type"] not in material.accepted_media_types:
                errors.append(
                    FieldError(where, f"此材料不接受{row['media_type']}格式", "media_type")
                )
    listed = {d for m in materials for d in m.attachments}
    attested = set(attestation.attachments) if attestation else set()
    for position, digest in enumerate(attestation.attachments if attestation else ()):
        if digest not in listed:
            errors.append(
                FieldError(
                    f"attestation.attachments.{position}",
                    "核验声明中的附件不在本次提交的材料中",
                    "not_in_materials",
                )
            )
    for index, entry in enumerate(materials):
        # Level B means staff checked the original: their attestation must cover the files.
        if entry.trust_level is TrustLevel.B and (
            not entry.attachments or not set(entry.attachments) <= attested
        ):
            errors.append(
                FieldError(
                    f"materials.{index}.trust_level",
                    "B级材料须由窗口人员核对原件，并在核验声明中列出其附件",
                    "attestation_required",
                )
            )
    if errors:
        raise InvalidApplication(errors)


@dataclass(frozen=True)
class _Prepared:
    """A new application, ready to write: everything computed before the transaction."""

    request: ApplicationRequest
    item: Item
    caller: str
    now: datetime
    today: date
    row: dict[str, Any]
    delivery: dict[str, Any]
    detail: dict[str, Any]
    receipt: dict[str, Any]


def _prepare(
    deps: records.Deps,
    request: ApplicationRequest,
    item: Item,
    request_id: str,
    caller: str,
    signed: proof.Signed | None,
    trace_id: str | None,
) -> _Prepared:
    """The row, delivery, history detail and unsigned receipt of a new application."""
    now = clocks.now_utc()
    today = clocks.local_date(now)
    materials = records.materials_of(request.materials, item)
    row = _new_row(deps, request, item, materials, now, request_id, caller, signed, trace_id)
    return _Prepared(
        request=request,
        item=item,
        caller=caller,
        now=now,
        today=today,
        row=row,
        delivery=_submission_delivery(deps, row, request, item, request_id),
        detail=_received_detail(request, materials, request_id, signed),
        receipt=records.receipt(row, item, deps.catalog, today),
    )


async def _take_in(
    deps: records.Deps,
    new: _Prepared,
    idempotency_key: str | None,
    digest: str,
    nonce: NonceClaim | None,
) -> IntakeResult:
    """One transaction: a replay, a business duplicate, or the new application."""
    caller, item, now, row = new.caller, new.item, new.now, new.row
    result: IntakeResult | None = None
    async with deps.store.transaction() as conn:
        if nonce is not None:
            await nonce.record(conn)  # a replay raises here: nothing is written
        if idempotency_key is not None:
            # A key older than the retention period is forgotten: it may be used afresh.
            retention = timedelta(hours=deps.settings.idempotency_retention_hours)
            await conn.execute(
                "DELETE FROM idempotency_keys WHERE scope = :scope AND key = :key "
                "AND created_at < :since",
                {"scope": caller, "key": idempotency_key, "since": (now - retention).isoformat()},
            )
            stored = await conn.fetch_one(
                "SELECT request_hash, status_code, response FROM idempotency_keys "
                "WHERE scope = :scope AND key = :key",
                {"scope": caller, "key": idempotency_key},
            )
            if stored is not None:
                if stored["request_hash"] != digest:
                    raise IdempotencyConflict(idempotency_key)
                # Not returned from inside the block: the nonce commits with it.
                result = IntakeResult(stored["status_code"], json.loads(stored["response"]), True)
        if result is None:
            result = await _answer_new_or_duplicate(deps, conn, new)
            if idempotency_key is not None:
                await conn.execute(
                    "INSERT INTO idempotency_keys (scope, key, request_hash, application_id, "
                    "status_code, response, created_at) VALUES (:scope, :key, :hash, :app, "
                    ":status, :response, :now)",
                    {
                        "scope": caller,
                        "key": idempotency_key,
                        "hash": digest,
                        "app": result.body["id"],
                        "status": result.status,
                        "response": jsonio.dumps(result.body),
                        "now": now.isoformat(),
                    },
                )
    if nonce is not None:
        nonce.committed()
    if result.replayed:
        return result
    log.info(
        "application.duplicate" if result.duplicate_of else "application.received",
        application_id=result.body["id"],
        item_code=item.code,
        competent_region=item.competent_region,
        applicant=json.loads(row["masked"]),
    )
    return result


async def _answer_new_or_duplicate(
    deps: records.Deps, conn: Connection, new: _Prepared
) -> IntakeResult:
    row, item = new.row, new.item
    existing = await _business_duplicate(
        deps,
        conn,
        row["applicant_index"],
        item.code,
        row["material_fingerprint"],
        new.now,
        new.caller,
    )
    if existing is not None:
        # Rare: the duplicate's answer is built here, from its stored row.
        found = await history.load(conn, existing)
        position = await deps.journal.received_position(conn, existing)
        receipt = records.receipt(found, item, deps.catalog, new.today)
        body = _answer(deps, found, receipt, position, duplicate=True)
        return IntakeResult(200, body, duplicate_of=existing)
    columns = ", ".join(row)
    values = ", ".join(f":{column}" for column in row)
    await conn.execute(f"INSERT INTO applications ({columns}) VALUES ({values})", row)  # noqa: S608 - our own column names
    await outbox.insert_delivery(conn, new.delivery)
    position = await history.record_event(
        conn,
        row,
        "transition",
        journal=deps.journal,
        actor=new.caller,
        occurred_at=new.now,
        to_status=Status.RECEIVED.value,
        detail=new.detail,
    )
    return IntakeResult(202, _answer(deps, row, dict(new.receipt), position, duplicate=False))


async def _business_duplicate(
    deps: records.Deps,
    conn: Connection,
    blind: str,
    item_code: str,
    print_: str,
    now: Any,
    caller: str,
) -> str | None:
    # Only the caller's own applications: another partner's case is not ours to show.
    window = deps.settings.duplicate_window_minutes
    if window == 0:
        return None
    row = await conn.fetch_one(
        "SELECT id FROM applications WHERE applicant_index = :blind AND item_code = :item "
        "AND material_fingerprint = :print AND created_at >= :since AND submitted_by = :caller "
        "AND status NOT IN ('withdrawn', 'rejected', 'relay_failed') ORDER BY id DESC LIMIT 1",
        {
            "blind": blind,
            "item": item_code,
            "print": print_,
            "since": (now - timedelta(minutes=window)).isoformat(),
            "caller": caller,
        },
    )
    return None if row is None else str(row["id"])


def _new_row(
    deps: records.Deps,
    request: ApplicationRequest,
    item: Item,
    materials: list[dict[str, Any]],
    now: datetime,
    request_id: str,
    caller: str,
    signed: proof.Signed | None,
    trace_id: str | None,
) -> dict[str, Any]:
    """The ``applications`` row of a new application: sealed, signed, dated."""
    id_type, id_number = records.applicant_id(request)
    blind = deps.cipher.blind_index(id_type, id_number)
    print_ = records.fingerprint(materials)
    application_id = str(uuid6.uuid7())
    today = clocks.local_date(now)
    deferred = [m["material_id"] for m in materials if not m["provided"]]
    supplement_due = (
        deadlines.add_working_days(today, deps.settings.supplement_working_days).isoformat()
        if deferred
        else None
    )
    row: dict[str, Any] = {
        "id": application_id,
        "request_id": request_id,
        "trace_id": trace_id,
        "item_code": item.code,
        "receiving_region": request.receiving_region,
        "competent_region": item.competent_region,
        "channel": request.channel.value,
        "handling_mode": request.handling_mode.value,
        "applicant_kind": request.applicant.kind,
        "applicant_index": blind,
        "material_fingerprint": print_,
        "personal": deps.cipher.seal(records.personal_of(request), bound_to=application_id),
        "masked": json.dumps(records.masked_of(request), ensure_ascii=False),
        "materials": json.dumps(materials, ensure_ascii=False),
        "attestation": request.attestation.model_dump_json() if request.attestation else None,
        "deferred_materials": json.dumps(deferred),
        "supplement_due": supplement_due,
        "status": Status.RECEIVED.value,
        "region_case_no": None,
        "anticipate_day": item.anticipate_day,
        "anticipate_type": item.anticipate_type,
        "promise_day": item.promise_day,
        "promise_type": item.promise_type,
        "accepted_on": None,
        "paused_since": None,
        "paused_working_days": 0,
        "last_region_event_at": None,
        "submitted_by": caller,
        "evidence": signed.evidence.model_dump_json() if signed else None,
        "submission_body": proof.seal_body(deps.cipher, application_id, signed),
        "attestation_signed": proof.signed_attestation(
            deps.signer, application_id, item, request.attestation, now
        ),
        "created_at": now.isoformat(),
        "updated_at": now.isoformat(),
    }
    # Provisional due dates, as if accepted today; recomputed on acceptance.
    row.update(clocks.due_columns(row, today, 0))
    return row


def _submission_delivery(
    deps: records.Deps,
    row: dict[str, Any],
    request: ApplicationRequest,
    item: Item,
    request_id: str,
) -> dict[str, Any]:
    """The sealed ``deliveries`` row that carries the submission to the region."""
    applicant, agent = records.party_of(records.personal_of(request))
    body = SubmissionBody(
        handling_mode=request.handling_mode,
        channel=request.channel,
        applicant=applicant,
        agent=agent,
        materials=records.envelope_materials(json.loads(row["materials"])),
        form=request.form,
        delivery=ResultHandOver(method=request.delivery.method, address=request.delivery.address),
        supplement_deadline=row["supplement_due"],
    )
    envelope = outbox.new_envelope(
        row,
        body,
        request_id=request_id,
        idempotency_key=f"{row['id']}:submission",
        task_code=item.task_code,
    )
    return outbox.sealed_delivery(envelope, deps.cipher)


def _received_detail(
    request: ApplicationRequest,
    materials: list[dict[str, Any]],
    request_id: str,
    signed: proof.Signed | None,
) -> dict[str, Any]:
    """The ``received`` history detail: what came in, by digest, never by content."""
    detail: dict[str, Any] = {
        "request_id": request_id,
        "channel": request.channel.value,
        "handling_mode": request.handling_mode.value,
        "receiving_region": request.receiving_region,
        "materials": [m["material_id"] for m in materials if m["provided"]],
        "deferred_materials": [m["material_id"] for m in materials if not m["provided"]],
        "attachments": [d for m in materials for d in m["attachments"]],
    }
    if request.attestation is not None:
        detail["attested"] = list(request.attestation.attachments)
    if signed is not None:
        detail["submission"] = proof.submission_digests(signed.evidence)
    return detail


def _answer(
    deps: records.Deps,
    row: dict[str, Any],
    receipt: dict[str, Any],
    position: Position | None,
    *,
    duplicate: bool,
) -> dict[str, Any]:
    return {
        "id": row["id"],
        "request_id": row["request_id"],
        "status": row["status"],
        "status_url": f"/v1/applications/{row['id']}",
        "duplicate": duplicate,
        "receipt": proof.seal_receipt(receipt, row, position, deps.signer),
    }
