"""Deadline clocks in working days (行政许可法: statutory holidays are not counted).

Working days come from the holiday calendar files (`gateway.holidays`): the
State Council's schedule per year, with the adjusted working weekends (调休), and
a region's extra local days off, which count for that region's deadlines only.
The arithmetic is a bisect over a precomputed table of working days.

A year without a schedule counts Monday to Friday and is ``missing``; a year
derived from the rules alone (before its notice is published) is
``provisional``. A due date that depends on either is never presented as exact:
its `basis` says so, and it is recomputed when the year is loaded.

The process has one active calendar: `use` installs it (the gateway and every
CLI do at start-up, from the settings); until then the shipped directory is
read on first use. Like a time-zone database, it is data that every clock reads.

A time limit counts from the day of acceptance: N working days means the N-th
working day after that day. Natural-day limits end N days later, moved to the next
working day when that day is a holiday.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from gateway.catalog.models import Item, TimeUnit
from gateway.holidays.files import read_all
from gateway.holidays.workdays import Basis, WorkCalendar
from gateway.resources import packaged_calendar_dir

_active: list[WorkCalendar] = []


def use(calendar: WorkCalendar) -> None:
    """Make `calendar` the one every deadline in this process is counted on."""
    _active[:] = [calendar]


def calendar() -> WorkCalendar:
    """The active calendar (the shipped files, read once, if none was installed)."""
    if not _active:
        _active.append(WorkCalendar(read_all(packaged_calendar_dir(), None)))
    return _active[0]


def is_covered(day: date) -> bool:
    """True when `day`'s year has an exact (published) schedule."""
    return calendar().status(day.year) == "exact"


def is_working_day(day: date, region: str | None = None) -> bool:
    """Whether `day` is a working day (in `region`, with its extra days off)."""
    return calendar().is_working_day(day, region)


def add_working_days(start: date, days: int, region: str | None = None) -> date:
    """The `days`-th working day after `start` (`start` itself when `days` is 0)."""
    return calendar().add_working_days(start, days, region)


def working_days_between(start: date, end: date, region: str | None = None) -> int:
    """How many working days lie after `start`, up to and including `end`."""
    return calendar().working_days_between(start, end, region)


def add_limit(start: date, amount: int, unit: TimeUnit, region: str | None = None) -> date:
    """`start` plus a time limit in working or natural days."""
    if unit == "working_day":
        return add_working_days(start, amount, region)
    return calendar().working_day_on_or_after(start + timedelta(days=amount), region)


def basis(start: date, end: date, region: str | None = None) -> Basis:
    """How exact a date counted from `start` to `end` is."""
    return calendar().basis(start, end, region)


@dataclass(frozen=True)
class DueDates:
    """The legal (法定) and promised (承诺) due dates of one case."""

    legal: date | None
    promised: date | None
    counted_from: date
    basis: Basis

    @property
    def exact(self) -> bool:
        return self.basis.exact

    def as_dict(self) -> dict[str, object]:
        return {
            "legal": self.legal.isoformat() if self.legal else None,
            "promised": self.promised.isoformat() if self.promised else None,
            "counted_from": self.counted_from.isoformat(),
            "calendar_exact": self.exact,
            "calendar_basis": self.basis.status,
        }


def due_dates(
    item: Item, accepted_on: date, *, paused_working_days: int = 0, region: str | None = None
) -> DueDates:
    """The item's due dates for a case accepted on `accepted_on`.

    `paused_working_days` (time spent in 特别程序) extends both clocks.
    """
    legal = promised = None
    if item.anticipate_day is not None:
        legal = add_limit(accepted_on, item.anticipate_day, item.anticipate_type, region)
        legal = add_working_days(legal, paused_working_days, region)
    if item.promise_day is not None:
        promised = add_limit(accepted_on, item.promise_day, item.promise_type, region)
        promised = add_working_days(promised, paused_working_days, region)
    last = max((d for d in (legal, promised) if d is not None), default=accepted_on)
    return DueDates(legal, promised, accepted_on, basis(accepted_on, last, region))
