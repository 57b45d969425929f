"""When a year's schedule is loaded, open cases whose due dates depend on it are recomputed.

Each case whose due dates or calendar basis change gets a ``due_dates_recomputed``
history event (and so an audit entry) with the dates before and after, written
on the same transaction as the new dates. A case changed by someone else since it
was read is left for the next run (compare-and-set on ``updated_at``), so two
processes reloading the same files at once record each change once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import structlog

from gateway.applications import clocks, history
from gateway.applications.journal import Journal
from gateway.envelope import FINAL_STATUSES
from gateway.store import Row, Store

log = structlog.get_logger(__name__)

_OPEN = ", ".join(f"'{status.value}'" for status in sorted(FINAL_STATUSES))
# One page of candidates after the id `:after` (keyset pagination): memory stays
# bounded by `PAGE` rows however many cases are open.
_CANDIDATES = (
    "SELECT * FROM applications WHERE status NOT IN (" + _OPEN + ") "  # noqa: S608 - our enum values
    "AND (legal_due IS NOT NULL OR promised_due IS NOT NULL) "
    "AND (calendar_basis <> 'exact' OR legal_due >= :since OR promised_due >= :since) "
    "AND id > :after ORDER BY id LIMIT :page"
)
PAGE = 500
EVENT = "due_dates_recomputed"


@dataclass
class RecomputeResult:
    """What a recompute run did."""

    examined: int = 0
    changed: list[str] = field(default_factory=list)
    moved: int = 0
    """Cases whose legal or promised due date moved (the rest changed basis only)."""

    def as_dict(self) -> dict[str, Any]:
        return {"examined": self.examined, "changed": len(self.changed), "moved": self.moved}


async def recompute_open_cases(
    store: Store, journal: Journal, *, years: Sequence[int], actor: str
) -> RecomputeResult:
    """Recompute open cases that depend on `years` (or whose basis is not exact).

    Uses the active calendar (`deadlines.use`). Returns how many were examined and
    which changed.
    """
    since = f"{min(years)}-01-01" if years else "9999-12-31"
    result = RecomputeResult()
    async for row in _candidates(store, since):
        result.examined += 1
        changes = _new_columns(row)
        if all(row[column] == value for column, value in changes.items()):
            continue
        if await _apply(store, journal, row, changes, actor):
            result.changed.append(str(row["id"]))
            if row["legal_due"] != changes["legal_due"] or (
                row["promised_due"] != changes["promised_due"]
            ):
                result.moved += 1
    log.info("calendar.recomputed", years=list(years), actor=actor, **result.as_dict())
    return result


async def _candidates(store: Store, since: str) -> AsyncIterator[Row]:
    """The open cases to recompute, by id, read a page at a time (no read held open
    while a case is updated)."""
    after: Any = ""
    while True:
        async with store.read() as conn:
            page = await conn.fetch_all(_CANDIDATES, {"since": since, "after": after, "page": PAGE})
        for row in page:
            yield row
        if len(page) < PAGE:
            return
        after = page[-1]["id"]


def _new_columns(row: Row) -> dict[str, Any]:
    if row["accepted_on"]:
        counted_from = date.fromisoformat(row["accepted_on"])
    else:  # not accepted yet: counted as if accepted on the day it was received
        counted_from = clocks.local_date(datetime.fromisoformat(row["created_at"]))
    return clocks.due_columns(row, counted_from, int(row["paused_working_days"]))


async def _apply(
    store: Store, journal: Journal, row: Row, changes: dict[str, Any], actor: str
) -> bool:
    now = clocks.now_utc()
    async with store.transaction() as conn:
        updated = await conn.execute(
            "UPDATE applications SET legal_due = :legal_due, promised_due = :promised_due, "
            "calendar_basis = :calendar_basis, updated_at = :now "
            "WHERE id = :id AND updated_at = :seen",
            {**changes, "now": now.isoformat(), "id": row["id"], "seen": row["updated_at"]},
        )
        if updated != 1:  # changed meanwhile: the next run sees its new state
            return False
        await history.record_event(
            conn,
            {**row, **changes},
            EVENT,
            journal=journal,
            actor=actor,
            occurred_at=now,
            detail={
                "previous_legal_due": row["legal_due"],
                "legal_due": changes["legal_due"],
                "previous_promised_due": row["promised_due"],
                "promised_due": changes["promised_due"],
                "previous_calendar_basis": row["calendar_basis"],
                "calendar_basis": changes["calendar_basis"],
            },
        )
    return True
