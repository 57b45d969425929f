"""The calendar in a running gateway: loaded at start-up, watched, visible, recomputing.

`calendar_context` reads the calendar files before anything else opens (a
broken file fails boot, naming file and line), installs them for every deadline
(`deadlines.use`) and registers the ``calendar`` readiness check, whose detail
lists the years that are exact, provisional or missing. `recompute_context`
(after the applications are ready) recomputes the open cases whose due dates
rest on a provisional or missing year, then looks for changed files every
``calendar.reload_seconds``: a changed year is installed and the open cases
that depend on it are recomputed, each change in the case's history. A file
broken after start-up is refused (logged, shown in readiness) and the calendar
already loaded stays in force.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from aiohttp import web

from gateway.app_keys import (
    APPLICATIONS,
    CALENDAR,
    CATALOG,
    METRICS,
    READINESS_CHECKS,
    SETTINGS,
    STORE,
)
from gateway.applications import deadlines
from gateway.applications.clocks import local_date
from gateway.applications.journal import Journal
from gateway.config import Settings
from gateway.errors import CalendarError, CalendarProblem
from gateway.holidays.files import read_all, signature
from gateway.holidays.recompute import recompute_open_cases
from gateway.holidays.workdays import STATUSES, WorkCalendar, changed_years

log = structlog.get_logger(__name__)
ACTOR = "system:calendar"


@dataclass
class CalendarState:
    """The calendar in force, the files it came from, and the last reload's problem."""

    calendar: WorkCalendar
    files: tuple[tuple[str, int, int], ...]
    loaded_at: datetime
    reload_error: str | None = None
    recomputed: dict[str, int] = field(default_factory=dict)

    def by_status(self, today: datetime) -> dict[str, list[int]]:
        """Years per status: the loaded ones, this year and the next."""
        statuses = self.calendar.year_statuses(around=local_date(today).year)
        return {s: [y for y, status in statuses.items() if status == s] for s in STATUSES}


def load_configured(settings: Settings) -> tuple[WorkCalendar, tuple[tuple[str, int, int], ...]]:
    """The calendar the settings point at, and the files' signature. Raises `CalendarError`."""
    directories = (settings.calendar.location, settings.calendar_imported_directory)
    files = signature(directories)
    return WorkCalendar(read_all(*directories)), files


async def calendar_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    calendar, files = await asyncio.to_thread(load_configured, settings)
    _check_regions(calendar, app[CATALOG].regions)
    deadlines.use(calendar)
    state = app[CALENDAR] = CalendarState(calendar, files, datetime.now(UTC))
    _publish(app, state)

    async def calendar_ready() -> dict[str, Any]:
        detail: dict[str, Any] = state.by_status(datetime.now(UTC))
        detail["regions_with_local_days"] = state.calendar.regions()
        detail["loaded_at"] = state.loaded_at.isoformat()
        if state.reload_error:
            detail["reload_error"] = state.reload_error
        return detail

    app[READINESS_CHECKS]["calendar"] = calendar_ready
    log.info("calendar.loaded", directory=str(settings.calendar.location), **_summary(state))
    yield


async def recompute_context(app: web.Application) -> AsyncIterator[None]:
    """Recompute what rests on inexact years at start-up, then watch the files."""
    journal = app[APPLICATIONS].journal
    app[CALENDAR].recomputed = (
        await recompute_open_cases(app[STORE], journal, years=[], actor=ACTOR)
    ).as_dict()
    task = asyncio.create_task(_watch(app, journal), name="calendar-watch")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _watch(app: web.Application, journal: Journal) -> None:
    while True:
        await asyncio.sleep(app[SETTINGS].calendar.reload_seconds)
        try:
            await reload(app, journal)
        except Exception:  # keep watching: the calendar in force stays valid
            log.exception("calendar.reload_failed")


async def reload(app: web.Application, journal: Journal) -> list[int]:
    """Load changed calendar files, install them, recompute what depends on them.

    Returns the years that changed (empty when no file did or a file is broken).
    """
    settings, state = app[SETTINGS], app[CALENDAR]
    directories = (settings.calendar.location, settings.calendar_imported_directory)
    files = await asyncio.to_thread(signature, directories)
    if files == state.files:
        return []
    try:
        calendar, files = await asyncio.to_thread(load_configured, settings)
        _check_regions(calendar, app[CATALOG].regions)
    except CalendarError as exc:
        state.files, state.reload_error = files, str(exc)
        log.error("calendar.reload_refused", problems=[str(p) for p in exc.problems])
        return []
    years = changed_years(state.calendar, calendar)
    deadlines.use(calendar)
    state.calendar, state.files, state.reload_error = calendar, files, None
    state.loaded_at = datetime.now(UTC)
    _publish(app, state)
    log.info("calendar.reloaded", changed_years=years, **_summary(state))
    if years:
        result = await recompute_open_cases(app[STORE], journal, years=years, actor=ACTOR)
        state.recomputed = result.as_dict()
    return years


def _check_regions(calendar: WorkCalendar, regions: Iterable[str]) -> None:
    """A region file for no region of the catalogue would apply nowhere: refuse it."""
    known = set(regions)
    problems = [
        CalendarProblem(schedule.path, f"unknown region {region!r} (catalogue: {sorted(known)})", 1)
        for region, years in sorted(calendar.regional.items())
        if region not in known
        for schedule in years.values()
    ]
    if problems:
        raise CalendarError(problems)


def _publish(app: web.Application, state: CalendarState) -> None:
    metrics = app.get(METRICS)
    if metrics is not None:
        metrics.calendar_years(
            state.calendar.year_statuses(around=local_date(datetime.now(UTC)).year)
        )


def _summary(state: CalendarState) -> dict[str, Any]:
    return state.by_status(datetime.now(UTC))
