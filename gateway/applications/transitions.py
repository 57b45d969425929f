"""The status transitions of an application: one table, one way to move.

`TRANSITIONS` lists every allowed change and who may cause it: the competent
region (status events), the relay (forwarded, relay failed, replayed) or the
client (staff or partner: withdrawal, handing over a result). `transition` checks
a change against it, moves the row, keeps the deadline clocks (`clocks`) and
appends the history event (`history`), all on the caller's transaction; every
transition (and only a transition) also queues the submitting partner's status
notice (`Journal.notices`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

import structlog

from gateway.applications.clocks import clock_changes, local_date, now_utc
from gateway.applications.history import load, record_event
from gateway.applications.journal import Journal
from gateway.envelope import Status
from gateway.errors import ConcurrentChange, TransitionRefused
from gateway.store import Connection, Row

log = structlog.get_logger(__name__)


class Origin(StrEnum):
    """Who causes a transition."""

    REGION = "region"
    RELAY = "relay"
    CLIENT = "client"


S, R, L, C = Status, Origin.REGION, Origin.RELAY, Origin.CLIENT
_RULES: tuple[tuple[Status, Status, frozenset[Origin]], ...] = (
    (S.RECEIVED, S.FORWARDED, frozenset({L})),
    (S.RECEIVED, S.RELAY_FAILED, frozenset({L})),
    # The region may answer before the relay has recorded its acknowledgement.
    (S.RECEIVED, S.ACCEPTED, frozenset({R})),
    (S.RECEIVED, S.IN_REVIEW, frozenset({R})),
    (S.RECEIVED, S.SUPPLEMENT_REQUIRED, frozenset({R})),
    (S.RECEIVED, S.REJECTED, frozenset({R})),
    (S.RECEIVED, S.WITHDRAWN, frozenset({C, R})),
    (S.RELAY_FAILED, S.RECEIVED, frozenset({L})),  # ops replay: queued again
    (S.RELAY_FAILED, S.FORWARDED, frozenset({L})),
    (S.RELAY_FAILED, S.WITHDRAWN, frozenset({C})),
    (S.FORWARDED, S.ACCEPTED, frozenset({R})),
    (S.FORWARDED, S.IN_REVIEW, frozenset({R})),
    (S.FORWARDED, S.SUPPLEMENT_REQUIRED, frozenset({R})),
    (S.FORWARDED, S.REJECTED, frozenset({R})),
    (S.FORWARDED, S.WITHDRAWN, frozenset({C, R})),
    (S.ACCEPTED, S.IN_REVIEW, frozenset({R})),
    (S.ACCEPTED, S.SUPPLEMENT_REQUIRED, frozenset({R})),
    (S.ACCEPTED, S.SPECIAL_PROCEDURE, frozenset({R})),
    (S.ACCEPTED, S.APPROVED, frozenset({R})),
    (S.ACCEPTED, S.DENIED, frozenset({R})),
    (S.ACCEPTED, S.WITHDRAWN, frozenset({C, R})),
    (S.IN_REVIEW, S.SUPPLEMENT_REQUIRED, frozenset({R})),
    (S.IN_REVIEW, S.SPECIAL_PROCEDURE, frozenset({R})),
    (S.IN_REVIEW, S.APPROVED, frozenset({R})),
    (S.IN_REVIEW, S.DENIED, frozenset({R})),
    (S.IN_REVIEW, S.WITHDRAWN, frozenset({C, R})),
    (S.SUPPLEMENT_REQUIRED, S.ACCEPTED, frozenset({R})),
    (S.SUPPLEMENT_REQUIRED, S.IN_REVIEW, frozenset({R})),
    (S.SUPPLEMENT_REQUIRED, S.REJECTED, frozenset({R})),  # 补正 not supplied in time
    (S.SUPPLEMENT_REQUIRED, S.DENIED, frozenset({R})),
    (S.SUPPLEMENT_REQUIRED, S.WITHDRAWN, frozenset({C, R})),
    (S.SPECIAL_PROCEDURE, S.IN_REVIEW, frozenset({R})),
    (S.SPECIAL_PROCEDURE, S.APPROVED, frozenset({R})),
    (S.SPECIAL_PROCEDURE, S.DENIED, frozenset({R})),
    (S.SPECIAL_PROCEDURE, S.WITHDRAWN, frozenset({C, R})),
    # Results handed over: by post (region reports it) or at our window (staff).
    (S.APPROVED, S.DELIVERED, frozenset({R, C})),
    (S.DENIED, S.DELIVERED, frozenset({R, C})),
)

TRANSITIONS: Mapping[tuple[Status, Status], frozenset[Origin]] = {
    (current, target): origins for current, target, origins in _RULES
}
"""Every allowed (current, target) pair and the origins that may cause it."""

BEFORE_DECISION = frozenset(
    current for (current, target), origins in TRANSITIONS.items() if target is S.WITHDRAWN
)
"""Statuses from which an applicant may still withdraw."""


def allowed(current: Status, target: Status, origin: Origin) -> bool:
    """Whether `origin` may move an application from `current` to `target`."""
    return origin in TRANSITIONS.get((current, target), frozenset())


def check(application_id: str, current: Status, target: Status, origin: Origin) -> None:
    """Raise `TransitionRefused` (with a Chinese reason) unless the move is allowed."""
    if allowed(current, target, origin):
        return
    if current.is_final:
        reason = f"办件已{current.label_zh}，不能再变为{target.label_zh}"
    elif (current, target) in TRANSITIONS:
        reason = f"“{current.label_zh}→{target.label_zh}”只能由{_origin_zh(target)}发起"
    else:
        reason = f"办件当前为{current.label_zh}，不能变为{target.label_zh}"
    raise TransitionRefused(application_id, current.value, target.value, reason)


def _origin_zh(target: Status) -> str:
    return "对方地区系统" if target not in (S.WITHDRAWN, S.DELIVERED) else "窗口或申请人"


async def transition(
    conn: Connection,
    application_id: str,
    target: Status,
    *,
    journal: Journal,
    origin: Origin,
    actor: str,
    at: datetime | None = None,
    region_event_id: str | None = None,
    changes: Mapping[str, Any] | None = None,
    detail: Mapping[str, Any] | None = None,
    current_row: Row | None = None,
) -> Row:
    """Move the application to `target`; return the updated row.

    `current_row` is the application as the caller just read it in this
    transaction, to save reading it again (the update still checks its status).

    Checks the table (raises `TransitionRefused`), keeps the deadline clocks
    (started on acceptance, paused during 特别程序), applies `changes` (extra
    columns, e.g. ``region_case_no``), appends the history event and, when the
    journal has `notices`, queues the submitting partner's webhook.
    """
    moment = at or now_utc()
    row = current_row if current_row is not None else await load(conn, application_id)
    current = Status(row["status"])
    check(application_id, current, target, origin)
    values: dict[str, Any] = dict(changes or {})
    values.update(clock_changes(row, current, target, local_date(moment)))
    values["status"] = target.value
    values["updated_at"] = now_utc().isoformat()
    # The audit lock before the row's: every transaction that changes a case and then
    # appends takes them in that order, so two of them never wait on each other in a
    # cycle (PostgreSQL; a relay batch and a region callback deadlocked otherwise).
    await journal.audit.hold_append_lock(conn)
    assignments = ", ".join(f"{column} = :{column}" for column in values)
    changed = await conn.execute(
        f"UPDATE applications SET {assignments} WHERE id = :id AND status = :expected",  # noqa: S608 - column names are ours
        {**values, "id": application_id, "expected": current.value},
    )
    if changed != 1:  # someone moved it between our read and write (PostgreSQL)
        # Transient, not a refusal: run again, the transaction reads the new status and
        # decides afresh (the relay retries its settle; an HTTP caller gets a 503).
        raise ConcurrentChange(
            f"{application_id}: status changed from {current.value} by another transaction"
        )
    updated = {**row, **values}
    if values.get("region_case_no"):  # audited, so `audit verify` can check the stored one
        detail = {**(detail or {}), "region_case_no": values["region_case_no"]}
    position = await record_event(
        conn,
        updated,
        "transition",
        journal=journal,
        actor=actor,
        occurred_at=moment,
        from_status=current.value,
        to_status=target.value,
        region_event_id=region_event_id,
        detail=detail,
    )
    if journal.notices is not None:
        await journal.notices.queue(
            conn,
            updated,
            previous=current,
            status=target,
            occurred_at=moment,
            event_seq=position.seq,
        )
    log.info(
        "application.transition",
        application_id=application_id,
        from_status=current.value,
        to_status=target.value,
        actor=actor,
    )
    return updated
