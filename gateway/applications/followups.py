"""Follow-ups of bad ratings (差评回访/整改): opened by the rating, closed by a supervisor.

A rating of 不满意 or 非常不满意 opens one follow-up for the centre that received
the case (its receiving region); the centre's supervisor closes it with a note of
what was done. The note is sealed like the rating's comment (it may name the
applicant); closing is a history event of the case, so it is audited.
"""

from __future__ import annotations

from typing import Any

import structlog

from gateway.applications import clocks, history, records
from gateway.errors import ActionRefused, FieldError, InvalidApplication
from gateway.store import Connection, Row

log = structlog.get_logger(__name__)

BAD_LEVELS = frozenset({1, 2})
"""非常不满意 (1) and 不满意 (2): a 差评, followed up."""
NOTE_MAX = 1000

_SELECT = (
    "SELECT f.application_id, f.level, f.opened_at, f.closed_at, f.closed_by, f.note, "
    "a.item_code, a.submitted_by FROM rating_followups f "
    "JOIN applications a ON a.id = f.application_id WHERE f.centre_region = :region "
)
_OPEN = _SELECT + "AND f.closed_at IS NULL ORDER BY f.opened_at LIMIT :limit"
_CLOSED = _SELECT + "AND f.closed_at IS NOT NULL ORDER BY f.closed_at DESC LIMIT :limit"


async def open_for(conn: Connection, application: Row, level: int, *, at: str) -> bool:
    """Open the case's follow-up on `conn` when `level` is a 差评; True if one was opened."""
    if level not in BAD_LEVELS:
        return False
    await conn.execute(
        "INSERT INTO rating_followups (application_id, centre_region, level, opened_at) "
        "VALUES (:id, :region, :level, :at)",
        {
            "id": application["id"],
            "region": application["receiving_region"],
            "level": level,
            "at": at,
        },
    )
    return True


async def of_centre(
    deps: records.Deps, centre_region: str, *, closed: bool = False, limit: int = 200
) -> list[dict[str, Any]]:
    """The centre's follow-ups, open (oldest first) or closed (latest first)."""
    async with deps.store.transaction() as conn:
        rows = await conn.fetch_all(
            _CLOSED if closed else _OPEN, {"region": centre_region, "limit": limit}
        )
    return [{**row, "note": _note(deps, row)} for row in rows]


def _note(deps: records.Deps, row: Row) -> str | None:
    if not row["note"]:
        return None
    opened = deps.cipher.open(row["note"], bound_to=f"followup:{row['application_id']}")
    return str(opened["note"])


async def close(
    deps: records.Deps,
    application_id: str,
    *,
    note: str,
    centre_region: str,
    caller: str,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Close the case's open follow-up with `note` (what was done, in the supervisor's words).

    Raises `InvalidApplication` (no note, or too long), `ApplicationNotFound`, or
    `ActionRefused` (no open follow-up of this centre for the case).
    """
    note = note.strip()
    if not note or len(note) > NOTE_MAX:
        raise InvalidApplication(
            [FieldError("note", f"请写明回访或整改情况（1 至 {NOTE_MAX} 字）", "required")]
        )
    now = clocks.now_utc()
    sealed = deps.cipher.seal({"note": note}, bound_to=f"followup:{application_id}")
    async with deps.store.transaction() as conn:
        row = await history.load(conn, application_id)
        changed = await conn.execute(
            "UPDATE rating_followups SET closed_at = :at, closed_by = :by, note = :note "
            "WHERE application_id = :id AND centre_region = :region AND closed_at IS NULL",
            {
                "at": now.isoformat(),
                "by": caller,
                "note": sealed,
                "id": application_id,
                "region": centre_region,
            },
        )
        if changed != 1:
            raise ActionRefused(application_id, "此办件没有本中心待处理的差评回访")
        await history.record_event(
            conn,
            row,
            "followup_closed",
            journal=deps.journal,
            actor=caller,
            occurred_at=now,
            request_id=request_id,
            detail={"note": note},
        )
    log.info("application.followup_closed", application_id=application_id, actor=caller)
    return {"application_id": application_id, "closed_at": now.isoformat()}
