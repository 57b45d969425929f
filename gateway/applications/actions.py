"""What happens to a case after intake: supplements, withdrawal, rating (好差评).

Each action checks the case's state, changes it, appends its history event and
writes the delivery that carries it to the competent region, all in one
transaction; each answers with what the caller needs to show.
"""

from __future__ import annotations

import json
from typing import Any

import structlog

from gateway import outbox
from gateway.applications import clocks, followups, history, records, transitions
from gateway.applications.checks import material_errors, parse
from gateway.applications.intake import check_attachments
from gateway.applications.models import RatingRequest, SupplementRequest, WithdrawalRequest
from gateway.applications.transitions import BEFORE_DECISION, Origin
from gateway.envelope import RatingBody, Status, SupplementBody, WithdrawalBody
from gateway.errors import ActionRefused, FieldError, InvalidApplication

log = structlog.get_logger(__name__)


async def supplement(
    deps: records.Deps, application_id: str, body: Any, *, request_id: str, caller: str
) -> tuple[int, dict[str, Any]]:
    """Record supplied materials (补正 / 容缺) and queue them for the region.

    Accepted while the case is `supplement_required` or still has 容缺 materials
    pending. The same files sent again are answered with the first delivery (200).
    """
    request = parse(SupplementRequest, body)
    async with deps.store.read() as conn:
        row = await history.load(conn, application_id)
    item = deps.catalog.get(row["item_code"])
    if item is None:
        raise ActionRefused(application_id, f"事项{row['item_code']}已不在目录中，请联系运维")
    raw = body.get("materials") if isinstance(body, dict) else None
    errors = material_errors(raw, item, initial=False)
    for index, entry in enumerate(request.materials):
        if not entry.provided:
            errors.append(FieldError(f"materials.{index}.provided", "补正材料必须提供", "invalid"))
    if errors:
        raise InvalidApplication(errors)
    await check_attachments(deps, item, request.materials, request.attestation)
    supplied = records.materials_of(request.materials, item)
    key = f"{application_id}:supplement:{records.fingerprint(supplied)}"
    async with deps.store.transaction() as conn:
        row = await history.load(conn, application_id)
        status = Status(row["status"])
        pending = json.loads(row["deferred_materials"])
        # The same files again (a client retry) get the first answer, whatever the state.
        earlier = await conn.fetch_one(
            "SELECT id FROM deliveries WHERE idempotency_key = :key", {"key": key}
        )
        if earlier is not None:
            return 200, _supplement_answer(application_id, earlier["id"], row, duplicate=True)
        if status is not Status.SUPPLEMENT_REQUIRED and (status.is_final or not pending):
            raise ActionRefused(application_id, f"办件当前为{status.label_zh}，无需补正材料")
        ids = {m["material_id"] for m in supplied}
        materials = [m for m in json.loads(row["materials"]) if m["material_id"] not in ids]
        remaining = [m for m in pending if m not in ids]
        changes = {
            "materials": json.dumps(materials + supplied, ensure_ascii=False),
            "deferred_materials": json.dumps(remaining),
            "supplement_due": row["supplement_due"] if remaining else None,
            "updated_at": clocks.now_utc().isoformat(),
        }
        await conn.execute(
            "UPDATE applications SET materials = :materials, deferred_materials = "
            ":deferred_materials, supplement_due = :supplement_due, updated_at = :updated_at "
            "WHERE id = :id",
            {**changes, "id": application_id},
        )
        row = {**row, **changes}
        envelope = outbox.new_envelope(
            row,
            SupplementBody(materials=records.envelope_materials(supplied)),
            request_id=request_id,
            idempotency_key=key,
            task_code=item.task_code,
        )
        delivery_id = await outbox.enqueue(conn, envelope, cipher=deps.cipher)
        await history.record_event(
            conn,
            row,
            "supplement",
            journal=deps.journal,
            actor=caller,
            occurred_at=clocks.now_utc(),
            detail={
                "request_id": request_id,
                "delivery_id": delivery_id,
                "materials": sorted(ids),
                "attachments": [d for m in supplied for d in m["attachments"]],
                "remaining": remaining,
            },
        )
    log.info("application.supplemented", application_id=application_id, materials=sorted(ids))
    return 202, _supplement_answer(application_id, delivery_id, row, duplicate=False)


def _supplement_answer(
    application_id: str, delivery_id: str, row: dict[str, Any], *, duplicate: bool
) -> dict[str, Any]:
    return {
        "application_id": application_id,
        "delivery_id": delivery_id,
        "duplicate": duplicate,
        "deferred_materials": json.loads(row["deferred_materials"]),
        "supplement_due": row["supplement_due"],
        "status_url": f"/v1/applications/{application_id}",
    }


async def withdraw(
    deps: records.Deps, application_id: str, body: Any, *, request_id: str, caller: str
) -> dict[str, Any]:
    """Withdraw the case before a decision (raises `TransitionRefused` after one)."""
    request = parse(WithdrawalRequest, body)
    async with deps.store.transaction() as conn:
        row = await history.load(conn, application_id)
        if Status(row["status"]) not in BEFORE_DECISION:
            status = Status(row["status"])
            raise ActionRefused(application_id, f"办件已{status.label_zh}，不能撤回")
        row = await transitions.transition(
            conn,
            application_id,
            Status.WITHDRAWN,
            journal=deps.journal,
            origin=Origin.CLIENT,
            actor=caller,
            detail={"request_id": request_id, "reason": request.reason},
        )
        envelope = outbox.new_envelope(
            row,
            WithdrawalBody(reason=request.reason),
            request_id=request_id,
            idempotency_key=f"{application_id}:withdrawal",
        )
        delivery_id = await outbox.enqueue(conn, envelope, cipher=deps.cipher)
    return {"application_id": application_id, "status": row["status"], "delivery_id": delivery_id}


async def rate(
    deps: records.Deps, application_id: str, body: Any, *, request_id: str, caller: str
) -> dict[str, Any]:
    """Record the one 好差评 of a case in a final state and queue it for the region.

    A 差评 (不满意, 非常不满意) also opens a follow-up for the receiving centre.
    """
    request = parse(RatingRequest, body)
    async with deps.store.transaction() as conn:
        row = await history.load(conn, application_id)
        status = Status(row["status"])
        if not status.is_final:
            raise ActionRefused(
                application_id, f"办件尚未办结（当前为{status.label_zh}），暂不能评价"
            )
        if await conn.fetch_one(
            "SELECT 1 AS rated FROM ratings WHERE application_id = :id", {"id": application_id}
        ):
            raise ActionRefused(application_id, "本办件已评价过，一事一评，不能重复评价")
        now = clocks.now_utc().isoformat()
        comment = (
            deps.cipher.seal({"comment": request.comment}, bound_to=f"rating:{application_id}")
            if request.comment
            else None
        )
        await conn.execute(
            "INSERT INTO ratings (application_id, setting, level, indicators, comment, rated_by, "
            "created_at) VALUES (:id, :setting, :level, :indicators, :comment, :by, :now)",
            {
                "id": application_id,
                "setting": request.setting,
                "level": request.level,
                "indicators": json.dumps(request.indicators),
                "comment": comment,
                "by": caller,
                "now": now,
            },
        )
        followed_up = await followups.open_for(conn, row, request.level, at=now)
        envelope = outbox.new_envelope(
            row,
            RatingBody(level=request.level, indicators=request.indicators, comment=request.comment),
            request_id=request_id,
            idempotency_key=f"{application_id}:rating",
        )
        delivery_id = await outbox.enqueue(conn, envelope, cipher=deps.cipher)
        await history.record_event(
            conn,
            row,
            "rating",
            journal=deps.journal,
            actor=caller,
            occurred_at=clocks.now_utc(),
            detail={
                "request_id": request_id,
                "level": request.level,
                "setting": request.setting,
                "delivery_id": delivery_id,
                "followup": followed_up,
            },
        )
    log.info("application.rated", application_id=application_id, level=request.level)
    return {
        "application_id": application_id,
        "level": request.level,
        "delivery_id": delivery_id,
        "followup": followed_up,
    }
