"""Reading cases: one with its history, or a filtered page of many.

Pages are ordered newest first by the time-sortable id; the cursor is the last id
of the previous page, so a page never skips or repeats a case while new ones
arrive. Personal data appears only masked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from gateway.applications import clocks, deadlines, history, records
from gateway.envelope import FINAL_STATUSES, Status
from gateway.errors import ApplicationNotFound
from gateway.store import Row, Store

_NOT_RUNNING = (*(s.value for s in FINAL_STATUSES), Status.SPECIAL_PROCEDURE.value)


@dataclass(frozen=True)
class Filters:
    """What ``GET /v1/applications`` may filter on."""

    status: Status | None = None
    region: str | None = None
    item: str | None = None
    overdue: bool | None = None
    due_soon: bool | None = None
    created_from: date | None = None  # UTC dates of created_at, inclusive
    created_to: date | None = None
    applicant_index: str | None = None
    cursor: str | None = None
    limit: int = 50
    submitted_by: str | None = None  # only this caller's applications


async def get(
    deps: records.Deps, application_id: str, *, submitted_by: str | None = None
) -> dict[str, Any]:
    """One case: status, due dates, region case number, history, deliveries, and
    the submission's signature evidence and signed attestation, if any.

    With `submitted_by`, a case someone else submitted raises `ApplicationNotFound`
    exactly like an unknown id (ids do not leak).
    """
    # Four lookups by key: quick (on the loop's thread with SQLite, no hop each).
    async with deps.store.read(quick=True) as conn:
        row = await history.load(conn, application_id)
        if submitted_by is not None and row["submitted_by"] != submitted_by:
            raise ApplicationNotFound(application_id)
        events = await conn.fetch_all(
            "SELECT * FROM application_events WHERE application_id = :id ORDER BY id",
            {"id": application_id},
        )
        deliveries = await conn.fetch_all(
            "SELECT id, kind, destination AS region, state, attempts, next_attempt_at, last_error, "
            "created_at "
            "FROM deliveries WHERE application_id = :id ORDER BY created_at, id",
            {"id": application_id},
        )
        rating = await conn.fetch_one(
            "SELECT setting, level, indicators, created_at FROM ratings WHERE application_id = :id",
            {"id": application_id},
        )
    today = clocks.local_date(clocks.now_utc())
    view = records.summary(row, today, deps.settings.due_soon_working_days)
    view["materials"] = json.loads(row["materials"])
    view["attestation"] = json.loads(row["attestation"]) if row["attestation"] else None
    view["attestation_signed"] = _json_or_none(row["attestation_signed"])
    view["evidence"] = _json_or_none(row["evidence"])
    view["history"] = [records.event_view(event) for event in events]
    view["deliveries"] = deliveries
    view["rating"] = {**rating, "indicators": json.loads(rating["indicators"])} if rating else None
    return view


def _json_or_none(text: str | None) -> Any:
    return json.loads(text) if text else None


async def page(deps: records.Deps, filters: Filters) -> dict[str, Any]:
    """A page of cases matching `filters`, newest first, with the next cursor."""
    today = clocks.local_date(clocks.now_utc())
    soon = deadlines.add_working_days(today, deps.settings.due_soon_working_days)
    clauses: list[str] = []
    params: dict[str, Any] = {"limit": filters.limit}
    due = "COALESCE(promised_due, legal_due)"
    running = f"status NOT IN ({', '.join(repr(s) for s in _NOT_RUNNING)})"
    if filters.status is not None:
        clauses.append("status = :status")
        params["status"] = filters.status.value
    if filters.region is not None:
        clauses.append("(receiving_region = :region OR competent_region = :region)")
        params["region"] = filters.region
    if filters.item is not None:
        clauses.append("item_code = :item")
        params["item"] = filters.item
    if filters.overdue is not None:
        overdue = f"({running} AND {due} < :today)"
        clauses.append(overdue if filters.overdue else f"NOT {overdue}")
    if filters.due_soon is not None:
        in_window = f"({running} AND {due} >= :today AND {due} <= :soon)"
        clauses.append(in_window if filters.due_soon else f"NOT {in_window}")
    if filters.created_from is not None:
        clauses.append("created_at >= :created_from")
        params["created_from"] = filters.created_from.isoformat()
    if filters.created_to is not None:
        # Inclusive of the whole `to` day (UTC): compare with the next day's start.
        clauses.append("created_at < :created_to")
        params["created_to"] = (filters.created_to + timedelta(days=1)).isoformat()
    if filters.applicant_index is not None:
        clauses.append("applicant_index = :applicant_index")
        params["applicant_index"] = filters.applicant_index
    if filters.submitted_by is not None:
        clauses.append("submitted_by = :submitted_by")
        params["submitted_by"] = filters.submitted_by
    if filters.cursor is not None:
        clauses.append("id < :cursor")
        params["cursor"] = filters.cursor
    if filters.overdue is not None or filters.due_soon is not None:
        params["today"] = today.isoformat()
        params["soon"] = soon.isoformat()
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    async with deps.store.read() as conn:
        rows = await conn.fetch_all(
            f"SELECT * FROM applications {where} ORDER BY id DESC LIMIT :limit",  # noqa: S608 - clauses are ours, values are parameters
            params,
        )
    items = [records.summary(row, today, deps.settings.due_soon_working_days) for row in rows]
    next_cursor = rows[-1]["id"] if len(rows) == filters.limit else None
    return {"items": items, "next_cursor": next_cursor}


async def owner_of(store: Store, application_id: str) -> Row | None:
    """Reads only: the case's ``item_code`` and ``submitted_by``, or None if there is none."""
    async with store.read(quick=True) as conn:
        return await conn.fetch_one(
            "SELECT item_code, submitted_by FROM applications WHERE id = :id",
            {"id": application_id},
        )
