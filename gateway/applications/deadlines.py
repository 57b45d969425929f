"""Deadline clocks in working days (行政许可法: statutory holidays are not counted).

Working days come from the ``chinesecalendar`` package, which knows mainland
China's statutory holidays *and* the adjusted working weekends (调休) as published
by the State Council each year. Its data ends with the last published year (the
2027 schedule is published around December 2026). For a day beyond its data we
fall back to "Monday to Friday", say so in the result (``exact=False``) and log
``deadlines.calendar_beyond_data`` once per year: such a due date may fall on a
holiday and is recomputed as soon as a newer package version is installed.

A time limit counts from the day of acceptance: N working days means the N-th
working day after that day. Natural-day limits end N days later, moved to the next
working day when that day is a holiday.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, timedelta

import chinese_calendar
import structlog

from gateway.catalog.models import Item, TimeUnit

log = structlog.get_logger(__name__)


@functools.cache
def _warn_beyond(year: int) -> None:
    log.warning("deadlines.calendar_beyond_data", year=year, fallback="monday_to_friday")


def is_covered(day: date) -> bool:
    """True when the holiday data covers `day`'s year."""
    try:
        chinese_calendar.is_workday(day)
    except NotImplementedError:
        return False
    return True


def is_working_day(day: date) -> bool:
    """Whether `day` is a working day on the mainland calendar (weekdays beyond the data)."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        _warn_beyond(day.year)
        return day.weekday() < 5


def add_working_days(start: date, days: int) -> date:
    """The `days`-th working day after `start` (`start` itself when `days` is 0)."""
    current, left = start, days
    while left > 0:
        current += timedelta(days=1)
        if is_working_day(current):
            left -= 1
    return current


def working_days_between(start: date, end: date) -> int:
    """How many working days lie after `start`, up to and including `end`."""
    count, current = 0, start
    while current < end:
        current += timedelta(days=1)
        count += is_working_day(current)
    return count


def add_limit(start: date, amount: int, unit: TimeUnit) -> date:
    """`start` plus a time limit in working or natural days."""
    if unit == "working_day":
        return add_working_days(start, amount)
    end = start + timedelta(days=amount)
    while not is_working_day(end):
        end += timedelta(days=1)
    return end


@dataclass(frozen=True)
class DueDates:
    """The legal (法定) and promised (承诺) due dates of one case."""

    legal: date | None
    promised: date | None
    counted_from: date
    exact: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "legal": self.legal.isoformat() if self.legal else None,
            "promised": self.promised.isoformat() if self.promised else None,
            "counted_from": self.counted_from.isoformat(),
            "calendar_exact": self.exact,
        }


def due_dates(item: Item, accepted_on: date, *, paused_working_days: int = 0) -> DueDates:
    """The item's due dates for a case accepted on `accepted_on`.

    `paused_working_days` (time spent in 特别程序) extends both clocks.
    """
    legal = promised = None
    if item.anticipate_day is not None:
        legal = add_limit(accepted_on, item.anticipate_day, item.anticipate_type)
        legal = add_working_days(legal, paused_working_days)
    if item.promise_day is not None:
        promised = add_limit(accepted_on, item.promise_day, item.promise_type)
        promised = add_working_days(promised, paused_working_days)
    last = max((d for d in (legal, promised) if d is not None), default=accepted_on)
    return DueDates(legal, promised, accepted_on, exact=is_covered(last))
