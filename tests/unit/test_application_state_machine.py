"""The status state machine: every allowed and refused transition, region events absorbed."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.sqlite_store import migrated_sqlite

from gateway.applications import region_events
from gateway.applications.history import load
from gateway.applications.journal import Journal
from gateway.applications.region_events import EventOutcome, apply_status_event
from gateway.applications.transitions import TRANSITIONS, Origin, transition
from gateway.audit import AuditLog
from gateway.envelope import Status, StatusEvent
from gateway.errors import TransitionRefused
from gateway.security.pii import PiiCipher, PiiKeys
from gateway.store import SQLiteStore

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 in China
JOURNAL = Journal(AuditLog("sqlite"), PiiCipher(PiiKeys({"k1": bytes(32)}, "k1", bytes(32))))
SZ = "region:shenzhen"
ACTOR = {Origin.REGION: "region:shenzhen", Origin.RELAY: "relay", Origin.CLIENT: "partner:p1"}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    """A migrated SQLite store in this test's temporary directory."""
    async with migrated_sqlite(tmp_path / "t.db") as db:
        yield db


async def make_case(store: SQLiteStore, status: Status = Status.RECEIVED, **extra: Any) -> str:
    """Insert a bare application row in `status` (the state machine needs no more)."""
    case_id = f"case-{next(_ids)}"
    row: dict[str, Any] = {
        "id": case_id,
        "request_id": "r",
        "item_code": "X",
        "receiving_region": "dongguan",
        "competent_region": "shenzhen",
        "channel": "window",
        "handling_mode": "proxy",
        "applicant_kind": "person",
        "applicant_index": "i",
        "material_fingerprint": "f",
        "personal": "sealed",
        "masked": "{}",
        "materials": "[]",
        "status": status.value,
        "anticipate_day": 20,
        "anticipate_type": "working_day",
        "promise_day": 5,
        "promise_type": "working_day",
        "submitted_by": "staff:1",
        "created_at": T0.isoformat(),
        "updated_at": T0.isoformat(),
        **extra,
    }
    async with store.transaction() as conn:
        columns = ", ".join(row)
        await conn.execute(
            f"INSERT INTO applications ({columns}) VALUES ({', '.join(':' + c for c in row)})",  # noqa: S608 - test columns
            row,
        )
    return case_id


_ids = itertools.count()


async def case_row(store: SQLiteStore, case_id: str) -> dict[str, Any]:
    async with store.transaction() as conn:
        return await load(conn, case_id)


async def history(store: SQLiteStore, case_id: str) -> list[dict[str, Any]]:
    async with store.transaction() as conn:
        return await conn.fetch_all(
            "SELECT * FROM application_events WHERE application_id = :id ORDER BY id",
            {"id": case_id},
        )


ALL_PAIRS = [
    (current, target, origin)
    for current in Status
    for target in Status
    for origin in Origin
    if current is not target
]
ALLOWED = [p for p in ALL_PAIRS if p[2] in TRANSITIONS.get((p[0], p[1]), frozenset())]
REFUSED = [p for p in ALL_PAIRS if p not in ALLOWED]


def test_final_states_have_no_way_out_but_delivery() -> None:
    for (current, target), _ in TRANSITIONS.items():
        if current.is_final:
            assert current in (Status.APPROVED, Status.DENIED)
            assert target is Status.DELIVERED


@pytest.mark.parametrize(("current", "target", "origin"), ALLOWED)
async def test_allowed_transition_moves_and_is_recorded(
    store: SQLiteStore, current: Status, target: Status, origin: Origin
) -> None:
    case_id = await make_case(store, current)
    async with store.transaction() as conn:
        await transition(
            conn, case_id, target, journal=JOURNAL, origin=origin, actor=ACTOR[origin], at=T0
        )
    assert (await case_row(store, case_id))["status"] == target.value
    (event,) = await history(store, case_id)
    assert (event["from_status"], event["to_status"]) == (current.value, target.value)
    assert event["actor"] == ACTOR[origin]
    assert event["occurred_at"] == T0.isoformat()


async def test_every_refused_transition_raises_and_changes_nothing(store: SQLiteStore) -> None:
    # One case per status, reused: a refused transition must leave it untouched.
    cases = {status: await make_case(store, status) for status in Status}
    for current, target, origin in REFUSED:
        with pytest.raises(TransitionRefused) as caught:
            async with store.transaction() as conn:
                await transition(
                    conn, cases[current], target, journal=JOURNAL, origin=origin, actor="x"
                )
        assert caught.value.reason_zh
    for status, case_id in cases.items():
        assert (await case_row(store, case_id))["status"] == status.value
        assert await history(store, case_id) == []
    assert len(REFUSED) > len(ALLOWED)


async def test_acceptance_starts_the_clock_in_working_days(store: SQLiteStore) -> None:
    case_id = await make_case(store, Status.FORWARDED)
    async with store.transaction() as conn:
        await transition(
            conn, case_id, Status.ACCEPTED, journal=JOURNAL, origin=Origin.REGION, actor=SZ, at=T0
        )
    row = await case_row(store, case_id)
    assert row["accepted_on"] == "2026-03-02"
    assert row["promised_due"] == "2026-03-09"  # 5 working days: Tue..Fri, Mon
    assert row["legal_due"] == "2026-03-30"  # 20 working days, no holiday in March 2026


async def test_special_procedure_pauses_and_extends_the_clock(store: SQLiteStore) -> None:
    case_id = await make_case(store, Status.FORWARDED)
    async with store.transaction() as conn:
        await transition(
            conn, case_id, Status.ACCEPTED, journal=JOURNAL, origin=Origin.REGION, actor=SZ, at=T0
        )
        await transition(
            conn,
            case_id,
            Status.SPECIAL_PROCEDURE,
            journal=JOURNAL,
            origin=Origin.REGION,
            actor=SZ,
            at=T0,
        )
        await transition(
            conn,
            case_id,
            Status.IN_REVIEW,
            journal=JOURNAL,
            origin=Origin.REGION,
            actor=SZ,
            at=T0 + timedelta(days=7),  # Monday 9 March: 5 working days later
        )
    row = await case_row(store, case_id)
    assert row["paused_working_days"] == 5
    assert row["paused_since"] is None
    assert row["promised_due"] == "2026-03-16"
    assert row["legal_due"] == "2026-04-07"  # 30 March + 5 working days, over 清明 (4-6 April)


def event(case_id: str, status: Status, at: datetime, event_id: str, **extra: Any) -> StatusEvent:
    return StatusEvent(
        event_id=event_id,
        region="shenzhen",
        region_case_no="SZ-1",
        application_id=case_id,
        status=status,
        occurred_at=at,
        **extra,
    )


async def apply(store: SQLiteStore, status_event: StatusEvent) -> EventOutcome:
    async with store.transaction() as conn:
        return await apply_status_event(conn, status_event, journal=JOURNAL)


async def test_region_events_move_the_case_and_set_its_case_number(store: SQLiteStore) -> None:
    case_id = await make_case(store, Status.FORWARDED)
    assert await apply(store, event(case_id, Status.ACCEPTED, T0, "e1")) is EventOutcome.APPLIED
    row = await case_row(store, case_id)
    assert (row["status"], row["region_case_no"]) == ("accepted", "SZ-1")
    (recorded,) = await history(store, case_id)
    assert recorded["actor"] == "region:shenzhen"
    assert recorded["region_event_id"] == "e1"


async def test_a_repeated_event_id_changes_nothing(store: SQLiteStore) -> None:
    case_id = await make_case(store, Status.FORWARDED)
    first = event(case_id, Status.ACCEPTED, T0, "e1")
    assert await apply(store, first) is EventOutcome.APPLIED
    assert await apply(store, first) is EventOutcome.DUPLICATE
    # Even a different status under a seen id is the same event repeated: ignored.
    again = event(case_id, Status.DENIED, T0 + timedelta(hours=1), "e1")
    assert await apply(store, again) is EventOutcome.DUPLICATE
    assert (await case_row(store, case_id))["status"] == "accepted"
    assert len(await history(store, case_id)) == 1


async def test_a_late_event_never_moves_a_final_state_back(store: SQLiteStore) -> None:
    case_id = await make_case(store, Status.FORWARDED)
    await apply(store, event(case_id, Status.ACCEPTED, T0, "e1"))
    await apply(store, event(case_id, Status.APPROVED, T0 + timedelta(hours=3), "e3"))
    late = event(case_id, Status.IN_REVIEW, T0 + timedelta(hours=1), "e2")
    assert await apply(store, late) is EventOutcome.IGNORED
    row = await case_row(store, case_id)
    assert row["status"] == "approved"
    ignored = (await history(store, case_id))[-1]
    assert ignored["kind"] == "ignored"
    assert json.loads(ignored["detail"])["reason"] == "final_state"


async def test_an_out_of_order_event_older_than_the_last_is_ignored(store: SQLiteStore) -> None:
    case_id = await make_case(store, Status.FORWARDED)
    await apply(store, event(case_id, Status.ACCEPTED, T0, "e1"))
    await apply(store, event(case_id, Status.IN_REVIEW, T0 + timedelta(hours=2), "e3"))
    await apply(store, event(case_id, Status.SUPPLEMENT_REQUIRED, T0 + timedelta(hours=3), "e4"))
    # "accepted" again, but stamped before the supplement request: stale, not a resumption.
    stale = event(case_id, Status.ACCEPTED, T0 + timedelta(hours=1), "e2")
    assert await apply(store, stale) is EventOutcome.IGNORED
    assert (await case_row(store, case_id))["status"] == "supplement_required"
    assert json.loads((await history(store, case_id))[-1]["detail"])["reason"] == "stale"


async def test_an_event_the_table_does_not_allow_is_ignored(store: SQLiteStore) -> None:
    case_id = await make_case(store, Status.FORWARDED)
    assert await apply(store, event(case_id, Status.DELIVERED, T0, "e1")) is EventOutcome.IGNORED
    assert (await case_row(store, case_id))["status"] == "forwarded"


async def test_an_event_from_another_region_is_ignored(store: SQLiteStore) -> None:
    case_id = await make_case(store, Status.FORWARDED)
    foreign = StatusEvent(
        event_id="x1",
        region="dongguan",
        region_case_no="DG-1",
        application_id=case_id,
        status=Status.APPROVED,
        occurred_at=T0,
    )
    assert await apply(store, foreign) is EventOutcome.IGNORED
    assert (await case_row(store, case_id))["status"] == "forwarded"


async def test_an_event_for_an_unknown_case_is_kept_aside(store: SQLiteStore) -> None:
    unknown = StatusEvent(
        event_id="u1",
        region="shenzhen",
        region_case_no="SZ-404",
        status=Status.ACCEPTED,
        occurred_at=T0,
    )
    assert await apply(store, unknown) is EventOutcome.UNKNOWN_CASE
    async with store.transaction() as conn:
        row = await conn.fetch_one("SELECT outcome FROM region_events WHERE event_id = 'u1'")
    assert row == {"outcome": "unknown_case"}


def early(event_id: str, status: Status, at: datetime, case_no: str = "SZ-9") -> StatusEvent:
    """An event naming only the region's case number (no application id)."""
    return StatusEvent(
        event_id=event_id, region="shenzhen", region_case_no=case_no, status=status, occurred_at=at
    )


async def land(store: SQLiteStore, case_id: str, case_no: str = "SZ-9") -> list[EventOutcome]:
    """Record the case number as the relay does when the submission is acknowledged."""
    async with store.transaction() as conn:
        await conn.execute(
            "UPDATE applications SET region_case_no = :no WHERE id = :id",
            {"no": case_no, "id": case_id},
        )
        row = await load(conn, case_id)
        return await region_events.apply_parked_events(conn, row, journal=JOURNAL)


async def event_outcome(store: SQLiteStore, event_id: str) -> str:
    async with store.transaction() as conn:
        row = await conn.fetch_one(
            "SELECT outcome FROM region_events WHERE event_id = :id", {"id": event_id}
        )
    assert row is not None
    return str(row["outcome"])


async def test_early_events_wait_for_the_case_number_then_apply_in_the_regions_order(
    store: SQLiteStore,
) -> None:
    case_id = await make_case(store, Status.FORWARDED)
    in_review = early("e2", Status.IN_REVIEW, T0 + timedelta(hours=2))
    accepted = early("e1", Status.ACCEPTED, T0 + timedelta(hours=1))
    assert await apply(store, in_review) is EventOutcome.UNKNOWN_CASE  # pushed out of order
    assert await apply(store, accepted) is EventOutcome.UNKNOWN_CASE
    assert await apply(store, accepted) is EventOutcome.DUPLICATE  # a re-push: still kept
    assert (await case_row(store, case_id))["status"] == "forwarded"

    assert await land(store, case_id) == [EventOutcome.APPLIED, EventOutcome.APPLIED]
    row = await case_row(store, case_id)
    assert row["status"] == "in_review"
    assert row["accepted_on"] is not None  # the clock started as for any acceptance
    moves = [(e["to_status"], e["region_event_id"]) for e in await history(store, case_id)]
    assert moves == [("accepted", "e1"), ("in_review", "e2")]
    assert await apply(store, accepted) is EventOutcome.DUPLICATE  # absorbed after, too
    assert await land(store, case_id) == []  # applied once
    assert len(await history(store, case_id)) == 2


async def test_an_early_event_older_than_one_applied_since_is_stale(store: SQLiteStore) -> None:
    case_id = await make_case(store, Status.FORWARDED)
    assert await apply(store, early("e1", Status.ACCEPTED, T0)) is EventOutcome.UNKNOWN_CASE
    # A later event names our application id: it applies, lands the number, and the
    # parked one, stamped before it, is ignored as stale instead of moving the case back.
    later = event(case_id, Status.IN_REVIEW, T0 + timedelta(hours=1), "e2").model_copy(
        update={"region_case_no": "SZ-9"}
    )
    assert await apply(store, later) is EventOutcome.APPLIED
    row = await case_row(store, case_id)
    assert (row["status"], row["region_case_no"]) == ("in_review", "SZ-9")
    assert await event_outcome(store, "e1") == "ignored"
    ignored = (await history(store, case_id))[-1]
    assert (ignored["kind"], json.loads(ignored["detail"])["reason"]) == ("ignored", "stale")


async def test_an_early_event_after_a_final_state_is_ignored(store: SQLiteStore) -> None:
    case_id = await make_case(store, Status.WITHDRAWN)
    assert await apply(store, early("e1", Status.ACCEPTED, T0)) is EventOutcome.UNKNOWN_CASE
    assert await land(store, case_id) == [EventOutcome.IGNORED]
    assert (await case_row(store, case_id))["status"] == "withdrawn"


async def test_an_event_naming_a_case_number_another_application_holds_is_ignored(
    store: SQLiteStore,
) -> None:
    await make_case(store, Status.ACCEPTED, region_case_no="SZ-1")
    case_id = await make_case(store, Status.RECEIVED)
    repeated = event(case_id, Status.ACCEPTED, T0, "e1")  # SZ-1, and our application id
    assert await apply(store, repeated) is EventOutcome.IGNORED
    row = await case_row(store, case_id)
    assert (row["status"], row["region_case_no"]) == ("received", None)
    assert json.loads((await history(store, case_id))[-1]["detail"])["reason"] == "case_no_taken"


async def test_events_find_the_case_by_region_case_number(store: SQLiteStore) -> None:
    case_id = await make_case(store, Status.ACCEPTED, region_case_no="SZ-77")
    by_number = StatusEvent(
        event_id="n1",
        region="shenzhen",
        region_case_no="SZ-77",
        status=Status.IN_REVIEW,
        occurred_at=T0,
    )
    assert await apply(store, by_number) is EventOutcome.APPLIED
    assert (await case_row(store, case_id))["status"] == "in_review"


async def test_supplement_request_records_missing_materials(store: SQLiteStore) -> None:
    case_id = await make_case(store, Status.ACCEPTED)
    request = event(
        case_id,
        Status.SUPPLEMENT_REQUIRED,
        T0,
        "s1",
        missing_materials=("photo",),
        supplement_deadline=date(2026, 3, 9),
    )
    assert await apply(store, request) is EventOutcome.APPLIED
    row = await case_row(store, case_id)
    assert json.loads(row["deferred_materials"]) == ["photo"]
    assert row["supplement_due"] == "2026-03-09"
