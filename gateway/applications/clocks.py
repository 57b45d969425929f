"""Deadline clocks: the mainland calendar date, and the due dates a status change moves.

A case's clock starts on acceptance (`CLOCK_STARTS`) and pauses during 特别程序:
`clock_changes` says which columns a transition changes, `due_columns` computes
``legal_due``/``promised_due`` on the competent region's working-day calendar.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from gateway.applications import deadlines
from gateway.envelope import Status
from gateway.store import Row

# Deadlines are counted on the mainland calendar, in its own time zone.
CHINA = ZoneInfo("Asia/Shanghai")

CLOCK_STARTS = frozenset({Status.ACCEPTED, Status.IN_REVIEW})


def now_utc() -> datetime:
    return datetime.now(UTC)


def local_date(moment: datetime) -> date:
    """The mainland calendar date of `moment`."""
    return moment.astimezone(CHINA).date()


def clock_changes(row: Row, current: Status, target: Status, today: date) -> dict[str, Any]:
    """Column changes for the deadline clocks caused by `current` → `target` on `today`."""
    changes: dict[str, Any] = {}
    paused = int(row["paused_working_days"])
    accepted_on = date.fromisoformat(row["accepted_on"]) if row["accepted_on"] else None
    if target in CLOCK_STARTS and accepted_on is None:
        accepted_on = today
        changes["accepted_on"] = today.isoformat()
    if target is Status.SPECIAL_PROCEDURE:
        changes["paused_since"] = today.isoformat()
    if current is Status.SPECIAL_PROCEDURE and row["paused_since"]:
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
