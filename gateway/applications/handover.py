"""The postal legs and the hand-over of a case (送达), as the receiving window does them.

Under 异地代收代办 the originals travel by post to the competent region and the
result may come back by post to the applicant (双邮寄): `record_tracking` keeps
each leg's tracking number. `hand_over` records that the result was given to the
applicant at the window (approved / denied → delivered). Each is one transaction:
the change, its history event and so its audit entry naming the caller.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import structlog

from gateway.applications import clocks, history, records, transitions
from gateway.applications.transitions import Origin
from gateway.envelope import Status
from gateway.errors import ActionRefused, FieldError, InvalidApplication

log = structlog.get_logger(__name__)

Leg = Literal["materials", "result"]
LEGS: dict[str, str] = {"materials": "材料寄往业务属地", "result": "结果寄给申请人"}
"""Each postal leg and how the window names it."""

# Express and EMS numbers: letters and digits, 8 to 30 of them (SF1234567890, 1234567890123).
_NUMBER = re.compile(r"^[A-Z0-9]{8,30}$")
_CARRIER_MAX = 20


def _checked(leg: str, carrier: str, number: str) -> tuple[str, str, str]:
    errors = []
    if leg not in LEGS:
        errors.append(FieldError("leg", "请选择是哪一程邮寄：材料寄往业务属地，或结果寄给申请人"))
    carrier = carrier.strip()
    if not carrier or len(carrier) > _CARRIER_MAX:
        errors.append(FieldError("carrier", f"请填写快递公司（不超过 {_CARRIER_MAX} 个字）"))
    number = number.strip().upper().replace(" ", "")
    if not _NUMBER.match(number):
        errors.append(FieldError("number", "运单号应为 8 至 30 位字母或数字，请核对面单"))
    if errors:
        raise InvalidApplication(errors)
    return leg, carrier, number


async def record_tracking(
    deps: records.Deps,
    application_id: str,
    *,
    leg: str,
    carrier: str,
    number: str,
    caller: str,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Record one postal leg's tracking number; the same number again changes nothing.

    Raises `InvalidApplication` (bad leg, carrier or number), `ApplicationNotFound`,
    or `ActionRefused` (the result leg before a decision, or any leg of a case that
    ended without one).
    """
    leg, carrier, number = _checked(leg, carrier, number)
    now = clocks.now_utc()
    async with deps.store.transaction() as conn:
        row = await history.load(conn, application_id)
        status = Status(row["status"])
        if leg == "result" and status not in (Status.APPROVED, Status.DENIED, Status.DELIVERED):
            raise ActionRefused(
                application_id, f"办件尚未作出决定（当前为{status.label_zh}），还没有结果可寄"
            )
        if status in (Status.WITHDRAWN, Status.REJECTED):
            raise ActionRefused(application_id, f"办件已{status.label_zh}，无需再登记邮寄")
        known = await conn.fetch_one(
            "SELECT recorded_at FROM postal_tracking WHERE application_id = :id "
            "AND leg = :leg AND number = :number",
            {"id": application_id, "leg": leg, "number": number},
        )
        if known is not None:
            return {"application_id": application_id, "leg": leg, "number": number, "new": False}
        await conn.execute(
            "INSERT INTO postal_tracking (application_id, leg, carrier, number, recorded_by, "
            "recorded_at) VALUES (:id, :leg, :carrier, :number, :by, :at)",
            {
                "id": application_id,
                "leg": leg,
                "carrier": carrier,
                "number": number,
                "by": caller,
                "at": now.isoformat(),
            },
        )
        await history.record_event(
            conn,
            row,
            "tracking_recorded",
            journal=deps.journal,
            actor=caller,
            occurred_at=now,
            request_id=request_id,
            detail={"leg": leg, "carrier": carrier, "number": number},
        )
    log.info("application.tracking_recorded", application_id=application_id, leg=leg)
    return {"application_id": application_id, "leg": leg, "number": number, "new": True}


async def tracking_of(deps: records.Deps, application_id: str) -> list[dict[str, Any]]:
    """The case's tracking numbers, oldest first."""
    async with deps.store.transaction() as conn:
        rows = await conn.fetch_all(
            "SELECT leg, carrier, number, recorded_by, recorded_at FROM postal_tracking "
            "WHERE application_id = :id ORDER BY recorded_at, number",
            {"id": application_id},
        )
    return [{**row, "leg_zh": LEGS.get(row["leg"], row["leg"])} for row in rows]


async def hand_over(
    deps: records.Deps, application_id: str, *, caller: str, request_id: str | None = None
) -> dict[str, Any]:
    """Record that the result was handed to the applicant at the window (送达).

    Raises `ApplicationNotFound`, or `TransitionRefused` unless the case is
    approved or denied (a case already handed over says so).
    """
    async with deps.store.transaction() as conn:
        row = await transitions.transition(
            conn,
            application_id,
            Status.DELIVERED,
            journal=deps.journal,
            origin=Origin.CLIENT,
            actor=caller,
            detail={"request_id": request_id, "channel": "window"},
        )
    log.info("application.handed_over", application_id=application_id, actor=caller)
    return {"application_id": application_id, "status": row["status"]}
