"""The status state machine of an application: one table, one way to move.

`TRANSITIONS` lists every allowed change and who may cause it: the competent
region (status events), the relay (forwarded, relay failed, replayed) or the
client (staff or partner: withdrawal, handing over a result). `transition` checks
a change against it, moves the row, keeps the deadline clocks and appends the
history event, all on the caller's transaction. `apply_status_event` takes a
region's `StatusEvent` and never fails on a late, repeated or out-of-order one:
it is absorbed and recorded as ignored, and a final state never moves back; an
early one (naming a case number not recorded yet) is kept and applied, by the same
rules, when the number lands (`apply_parked_events`). Every history event is
mirrored into the audit log (`Journal`) on the same transaction; every transition
(and only a transition) also queues the submitting partner's status notice
(`Journal.notices`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from gateway.applications import deadlines
from gateway.applications.journal import Journal
from gateway.audit import Position
from gateway.envelope import Status, StatusEvent
from gateway.errors import ApplicationNotFound, TransitionRefused
from gateway.store import Connection, Row

log = structlog.get_logger(__name__)

# Deadlines are counted on the mainland calendar, in its own time zone.
CHINA = ZoneInfo("Asia/Shanghai")


class Origin(StrEnum):
    """Who causes a transition."""

    REGION = "region"
    RELAY = "relay"
    CLIENT = "client"


class EventOutcome(StrEnum):
    """What `apply_status_event` did with a region event."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    UNKNOWN_CASE = "unknown_case"


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

CLOCK_STARTS = frozenset({S.ACCEPTED, S.IN_REVIEW})


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


def now_utc() -> datetime:
    return datetime.now(UTC)


def local_date(moment: datetime) -> date:
    """The mainland calendar date of `moment`."""
    return moment.astimezone(CHINA).date()


async def load(conn: Connection, application_id: str) -> Row:
    """The application row; raise `ApplicationNotFound`."""
    row = await conn.fetch_one("SELECT * FROM applications WHERE id = :id", {"id": application_id})
    if row is None:
        raise ApplicationNotFound(application_id)
    return row


async def record_event(
    conn: Connection,
    application: Mapping[str, Any],
    kind: str,
    *,
    journal: Journal,
    actor: str,
    occurred_at: datetime,
    from_status: str | None = None,
    to_status: str | None = None,
    region_event_id: str | None = None,
    request_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> Position:
    """Append one history event and its audit entry; return the audit position.

    Every history write of the package goes through here. `application` is the
    application row (its id, item code and competent region are used). Both rows
    are written on the caller's transaction, so they commit or roll back together.
    `request_id` defaults to the detail's ``request_id``. Raises `InvalidAuditEntry`
    (e.g. a malformed actor) or `StoreError`.
    """
    details = dict(detail or {})
    await conn.execute(
        "INSERT INTO application_events (application_id, kind, from_status, to_status, actor, "
        "region_event_id, occurred_at, recorded_at, detail) VALUES (:application_id, :kind, "
        ":from_status, :to_status, :actor, :region_event_id, :occurred_at, :recorded_at, :detail)",
        {
            "application_id": application["id"],
            "kind": kind,
            "from_status": from_status,
            "to_status": to_status,
            "actor": actor,
            "region_event_id": region_event_id,
            "occurred_at": occurred_at.isoformat(),
            "recorded_at": now_utc().isoformat(),
            "detail": json.dumps(details, ensure_ascii=False, default=str),
        },
    )
    # Appended last in the transaction: on PostgreSQL it holds the append lock to commit.
    return await journal.append(
        conn,
        application,
        kind,
        actor=actor,
        from_status=from_status,
        to_status=to_status,
        region_event_id=region_event_id,
        request_id=request_id or details.get("request_id"),
        detail=json.loads(json.dumps(details, default=str)),
    )


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
    values.update(_clock_changes(row, current, target, local_date(moment)))
    values["status"] = target.value
    values["updated_at"] = now_utc().isoformat()
    assignments = ", ".join(f"{column} = :{column}" for column in values)
    changed = await conn.execute(
        f"UPDATE applications SET {assignments} WHERE id = :id AND status = :expected",  # noqa: S608 - column names are ours
        {**values, "id": application_id, "expected": current.value},
    )
    if changed != 1:  # someone moved it between our read and write (PostgreSQL)
        raise TransitionRefused(application_id, current.value, target.value, "办件状态已被并发修改")
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


def _clock_changes(row: Row, current: Status, target: Status, today: date) -> dict[str, Any]:
    """Column changes for the deadline clocks caused by `current` → `target` on `today`."""
    changes: dict[str, Any] = {}
    paused = int(row["paused_working_days"])
    accepted_on = date.fromisoformat(row["accepted_on"]) if row["accepted_on"] else None
    if target in CLOCK_STARTS and accepted_on is None:
        accepted_on = today
        changes["accepted_on"] = today.isoformat()
    if target is S.SPECIAL_PROCEDURE:
        changes["paused_since"] = today.isoformat()
    if current is S.SPECIAL_PROCEDURE and row["paused_since"]:
        paused += deadlines.working_days_between(
            date.fromisoformat(row["paused_since"]), today, row["competent_region"]
        )
        changes["paused_since"] = None
        changes["paused_working_days"] = paused
    if accepted_on is not None and ("accepted_on" in changes or "paused_working_days" in changes):
        changes.update(due_columns(row, accepted_on, paused))
    return changes


def due_columns(row: Mapping[str, Any], counted_from: date, paused: int) -> dict[str, Any]:
    """``legal_due``, ``promised_due`` and their ``calendar_basis`` for the row's limits.

    Counted on the competent region's calendar. ``calendar_basis`` is ``exact``,
    or ``provisional``/``missing`` when a year they span has no published schedule.
    """
    region = row["competent_region"]
    result: dict[str, Any] = {}
    dues = []
    for column, amount, unit in (
        ("legal_due", row["anticipate_day"], row["anticipate_type"]),
        ("promised_due", row["promise_day"], row["promise_type"]),
    ):
        if amount is None:
            result[column] = None
            continue
        due = deadlines.add_limit(counted_from, int(amount), unit, region)
        due = deadlines.add_working_days(due, paused, region)
        dues.append(due)
        result[column] = due.isoformat()
    last = max(dues, default=counted_from)
    result["calendar_basis"] = deadlines.basis(counted_from, last, region).status
    return result


async def apply_status_event(
    conn: Connection, event: StatusEvent, *, journal: Journal
) -> EventOutcome:
    """Apply one region event to its application, on the caller's transaction.

    Never raises for a late, repeated or out-of-order event: a repeated event id
    changes nothing (``DUPLICATE``); an event older than the last applied one, one
    the table does not allow, or one arriving after a final state is recorded in
    the history as ignored (``IGNORED``). An event for no known case is kept whole
    in ``region_events`` (``UNKNOWN_CASE``): the region may have answered before we
    recorded its case number, so `apply_parked_events` applies it, by the same
    rules, once that number lands.
    """
    row = await _find_case(conn, event)
    if row is None:
        # The transaction recording this case number may be committing right now
        # (PostgreSQL): wait for it (it holds this lock), then look again. Either it
        # committed first and the case is found, or it will find the parked event.
        await journal.audit.hold_append_lock(conn)
        row = await _find_case(conn, event)
    application_id = row["id"] if row else None
    outcome = await _claim_event(conn, event, application_id)
    if outcome is not None:
        return outcome
    if row is None:
        log.warning(
            "application.region_event_unknown_case",
            region=event.region,
            region_case_no=event.region_case_no,
        )
        await conn.execute(
            "UPDATE region_events SET outcome = :outcome, event = :event "
            "WHERE region = :region AND event_id = :id",
            {
                "outcome": EventOutcome.UNKNOWN_CASE.value,
                "event": event.model_dump_json(),
                "region": event.region,
                "id": event.event_id,
            },
        )
        return EventOutcome.UNKNOWN_CASE
    return await _apply_to_case(conn, row, event, journal)


async def apply_parked_events(
    conn: Connection, application: Mapping[str, Any], *, journal: Journal
) -> list[EventOutcome]:
    """Apply the region's events that arrived before the application's case number landed.

    Call it on the transaction that records the case number, after recording it;
    `application` is the row as it now is (its id, competent region, case number).
    The events go in the order the region stamped them, each by the rules of
    `apply_status_event` (stale, final state, not allowed: ignored); their ids stay
    claimed, so a re-push is a duplicate.
    """
    application_id, row = str(application["id"]), application
    if row["region_case_no"] is None:
        return []
    await journal.audit.hold_append_lock(conn)  # see apply_status_event
    parked = await conn.fetch_all(
        "SELECT event FROM region_events WHERE region = :region AND region_case_no = :case "
        "AND outcome = :unknown ORDER BY received_at, event_id",
        {
            "region": row["competent_region"],
            "case": row["region_case_no"],
            "unknown": EventOutcome.UNKNOWN_CASE.value,
        },
    )
    events = sorted(
        (StatusEvent.model_validate_json(item["event"]) for item in parked if item["event"]),
        key=lambda event: event.occurred_at,
    )
    outcomes = []
    for event in events:
        outcome = await _apply_to_case(conn, await load(conn, application_id), event, journal)
        await conn.execute(
            "UPDATE region_events SET outcome = :outcome, application_id = :application_id, "
            "event = NULL WHERE region = :region AND event_id = :id",
            {
                "outcome": outcome.value,
                "application_id": application_id,
                "region": event.region,
                "id": event.event_id,
            },
        )
        log.info(
            "application.region_event_unparked",
            application_id=application_id,
            status=event.status.value,
            outcome=outcome.value,
        )
        outcomes.append(outcome)
    return outcomes


async def _apply_to_case(
    conn: Connection, row: Row, event: StatusEvent, journal: Journal
) -> EventOutcome:
    """Apply a claimed `event` to the application `row`: a transition, or ignored."""
    current = Status(row["status"])
    last = row["last_region_event_at"]
    reason = None
    if event.region != row["competent_region"]:
        reason = "not_competent_region"
    elif current.is_final:
        reason = "final_state"
    elif last is not None and event.occurred_at < datetime.fromisoformat(last):
        reason = "stale"
    elif event.status is current:
        reason = "same_status"
    elif not allowed(current, event.status, Origin.REGION):
        reason = "not_allowed"
    elif row["region_case_no"] is None and await _case_no_taken(conn, event, row["id"]):
        reason = "case_no_taken"  # the region's numbering gave it to another application
    detail = {"region_code": event.region_code, "message": event.message}
    if reason is not None:
        await record_event(
            conn,
            row,
            "ignored",
            journal=journal,
            actor=f"region:{event.region}",
            occurred_at=event.occurred_at,
            from_status=current.value,
            to_status=event.status.value,
            region_event_id=event.event_id,
            detail={**detail, "reason": reason},
        )
        await _set_event_outcome(conn, event, EventOutcome.IGNORED)
        log.info(
            "application.region_event_ignored",
            application_id=row["id"],
            status=event.status.value,
            current=current.value,
            reason=reason,
        )
        return EventOutcome.IGNORED
    changes = _event_changes(row, event)
    updated = await transition(
        conn,
        row["id"],
        event.status,
        journal=journal,
        origin=Origin.REGION,
        actor=f"region:{event.region}",
        at=event.occurred_at,
        region_event_id=event.event_id,
        changes=changes,
        detail={**detail, **_event_detail(event)},
    )
    if "region_case_no" in changes:  # the number landed with this event: earlier ones wait
        await apply_parked_events(conn, updated, journal=journal)
    return EventOutcome.APPLIED


async def _find_case(conn: Connection, event: StatusEvent) -> Row | None:
    if event.application_id is not None:
        row = await conn.fetch_one(
            "SELECT * FROM applications WHERE id = :id", {"id": event.application_id}
        )
        if row is not None:
            return row
    return await conn.fetch_one(
        "SELECT * FROM applications WHERE competent_region = :region AND region_case_no = :case",
        {"region": event.region, "case": event.region_case_no},
    )


async def _case_no_taken(conn: Connection, event: StatusEvent, application_id: str) -> bool:
    other = await conn.fetch_one(
        "SELECT id FROM applications WHERE competent_region = :region "
        "AND region_case_no = :case AND id <> :id",
        {"region": event.region, "case": event.region_case_no, "id": application_id},
    )
    return other is not None


async def _claim_event(
    conn: Connection, event: StatusEvent, application_id: str | None
) -> EventOutcome | None:
    """Remember the event id; `DUPLICATE` if it was already seen."""
    inserted = await conn.execute(
        "INSERT INTO region_events (region, event_id, application_id, region_case_no, outcome,"
        " received_at) VALUES (:region, :event_id, :application_id, :case_no, 'applied', :now)"
        " ON CONFLICT (region, event_id) DO NOTHING",
        {
            "region": event.region,
            "event_id": event.event_id,
            "application_id": application_id,
            "case_no": event.region_case_no,
            "now": now_utc().isoformat(),
        },
    )
    if inserted == 0:
        log.info("application.region_event_duplicate", region=event.region)
        return EventOutcome.DUPLICATE
    return None


async def _set_event_outcome(conn: Connection, event: StatusEvent, outcome: EventOutcome) -> None:
    await conn.execute(
        "UPDATE region_events SET outcome = :outcome WHERE region = :region AND event_id = :id",
        {"outcome": outcome.value, "region": event.region, "id": event.event_id},
    )


def _event_changes(row: Row, event: StatusEvent) -> dict[str, Any]:
    changes: dict[str, Any] = {"last_region_event_at": event.occurred_at.isoformat()}
    if row["region_case_no"] is None:
        changes["region_case_no"] = event.region_case_no
    if event.status is S.SUPPLEMENT_REQUIRED:
        if event.missing_materials:
            changes["deferred_materials"] = json.dumps(list(event.missing_materials))
        if event.supplement_deadline is not None:
            changes["supplement_due"] = event.supplement_deadline.isoformat()
    return changes


def _event_detail(event: StatusEvent) -> dict[str, Any]:
    detail: dict[str, Any] = {}
    for name in ("certificate_no", "mail_tracking_no", "supplement_deadline"):
        value = getattr(event, name)
        if value is not None:
            detail[name] = str(value)
    if event.missing_materials:
        detail["missing_materials"] = list(event.missing_materials)
    return detail
