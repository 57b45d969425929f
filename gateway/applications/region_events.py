"""A region's status events applied to its applications.

`apply_status_event` takes a region's `StatusEvent` and absorbs a late, repeated
or out-of-order one: it is recorded as ignored, and a final state never moves
back; an early one (naming a case number not recorded yet) is kept and applied,
by the same rules, when the number lands (`apply_parked_events`). `apply_events`
applies a batch (pushed to our callback route, or polled by the relay) in one
transaction; only after it returns may the region be acknowledged, so no result
is lost and repeated ones change nothing (event ids are deduplicated).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

import structlog

from gateway.applications.clocks import now_utc
from gateway.applications.history import load, record_event
from gateway.applications.journal import Journal
from gateway.applications.transitions import Origin, allowed, transition
from gateway.envelope import Status, StatusEvent
from gateway.store import Connection, Row, Store

log = structlog.get_logger(__name__)

S = Status


class EventOutcome(StrEnum):
    """What `apply_status_event` did with a region event."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    UNKNOWN_CASE = "unknown_case"


async def apply_events(
    store: Store, events: Sequence[StatusEvent], *, journal: Journal
) -> list[EventOutcome]:
    """Apply `events` in one transaction; return what happened to each."""
    if not events:
        return []
    async with store.transaction() as conn:
        # The audit lock first, before any row (see `transitions.transition`).
        await journal.audit.hold_append_lock(conn)
        outcomes = [await apply_status_event(conn, event, journal=journal) for event in events]
    for event, outcome in zip(events, outcomes, strict=True):
        log.info(
            "region.event",
            region=event.region,
            region_case_no=event.region_case_no,
            status=event.status.value,
            outcome=outcome.value,
        )
    return outcomes


_OPEN_CASES = """
SELECT region_case_no FROM applications
WHERE competent_region = :region AND region_case_no IS NOT NULL
  AND status NOT IN ('approved', 'denied', 'delivered', 'rejected', 'withdrawn')
ORDER BY id
LIMIT :limit
"""


class RegionResults:
    """The relay's `ResultSink`: the cases a polled region is asked about, and its events."""

    def __init__(self, store: Store, journal: Journal) -> None:
        self._store = store
        self._journal = journal

    async def open_cases(self, region: str, limit: int) -> list[str]:
        """Reads only: case numbers of `region`'s applications not yet final."""
        async with self._store.read() as conn:
            rows = await conn.fetch_all(_OPEN_CASES, {"region": region, "limit": limit})
        return [row["region_case_no"] for row in rows]

    async def apply(self, events: Sequence[StatusEvent]) -> int:
        outcomes = await apply_events(self._store, events, journal=self._journal)
        return sum(outcome is EventOutcome.APPLIED for outcome in outcomes)


async def apply_status_event(
    conn: Connection, event: StatusEvent, *, journal: Journal
) -> EventOutcome:
    """Apply one region event to its application, on the caller's transaction.

    A late, repeated or out-of-order event is absorbed, not refused: a repeated
    event id changes nothing (``DUPLICATE``); an event older than the last applied
    one, one the table does not allow, or one arriving after a final state is
    recorded in the history as ignored (``IGNORED``). An event for no known case is kept whole
    in ``region_events`` (``UNKNOWN_CASE``): the region may have answered before we
    recorded its case number, so `apply_parked_events` applies it, by the same
    rules, once that number lands. It does raise when the store fails
    (`StoreError`), or `ConcurrentChange` when another transaction moved the case
    between our read and write: the caller's transaction then rolls back, and the
    region's event is applied when it is pushed or polled again.
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


# The outcome as a literal, as the partial index region_events_parked states it: as
# a parameter, SQLite re-planned the statement at every run (its value picks the
# index), and a generic PostgreSQL plan could not use the index at all.
_PARKED = (
    "SELECT event FROM region_events WHERE region = :region AND region_case_no = :case "
    "AND outcome = 'unknown_case' ORDER BY received_at, event_id"  # EventOutcome.UNKNOWN_CASE
)


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
        _PARKED, {"region": row["competent_region"], "case": row["region_case_no"]}
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
