"""Working-day arithmetic as a table lookup: a sorted array of working days and bisect.

A `WorkCalendar` is built once from validated `YearSchedule`s. For each calendar
(national, and each region with extra days off) it keeps the ordinals of every
working day from the first loaded year to `HORIZON_YEARS` after the last, sorted;
"the N-th working day after D" is then one bisect and one index, whatever N is.
Years with no schedule count Monday to Friday and are reported ``missing``;
years whose schedule is derived from the rules only are ``provisional``. Every
answer that depends on such a year says so through `basis`.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from gateway.holidays.schedule import NATIONAL, YearSchedule

EXACT, PROVISIONAL, MISSING = "exact", "provisional", "missing"
STATUSES = (EXACT, PROVISIONAL, MISSING)
_RANK = {EXACT: 0, PROVISIONAL: 1, MISSING: 2}
HORIZON_YEARS = 30
"""Years after the last loaded one the table still covers (Monday to Friday)."""
FIRST_YEAR_IF_EMPTY = 2019


@dataclass(frozen=True)
class Basis:
    """How exact an answer is: the worst status over the years it depends on."""

    status: str
    years: Mapping[int, str]

    @property
    def exact(self) -> bool:
        return self.status == EXACT

    def inexact_years(self) -> list[int]:
        return sorted(year for year, status in self.years.items() if status != EXACT)


class WorkCalendar:
    """Working days of the mainland calendar, and of regions with extra local days off."""

    def __init__(self, schedules: Iterable[YearSchedule]) -> None:
        self.national: dict[int, YearSchedule] = {}
        self.regional: dict[str, dict[int, YearSchedule]] = {}
        for schedule in schedules:
            if schedule.national:
                self.national[schedule.year] = schedule
            else:
                self.regional.setdefault(schedule.region, {})[schedule.year] = schedule
        loaded = [*self.national, *(y for years in self.regional.values() for y in years)]
        self.first_year = min(loaded, default=FIRST_YEAR_IF_EMPTY)
        self.last_year = max(loaded, default=FIRST_YEAR_IF_EMPTY) + HORIZON_YEARS
        self._start = date(self.first_year, 1, 1)
        self._end = date(self.last_year, 12, 31)
        self._tables: dict[str, list[int]] = {}

    # What is known ------------------------------------------------------------

    def status(self, year: int, region: str | None = None) -> str:
        """``exact``, ``provisional`` or ``missing`` for `year` (and `region`'s own file)."""
        national = self.national.get(year)
        status = MISSING if national is None else national.status
        local = self.regional.get(region or NATIONAL, {}).get(year)
        if local is not None and local.provisional and status == EXACT:
            status = PROVISIONAL
        return status

    def basis(self, start: date, end: date, region: str | None = None) -> Basis:
        """The basis of an answer that counted days from `start` to `end`."""
        low, high = sorted((start.year, end.year))
        years = {year: self.status(year, region) for year in range(low, high + 1)}
        return Basis(max(years.values(), key=_RANK.__getitem__), years)

    def year_statuses(self, around: int | None = None) -> dict[int, str]:
        """National status per year: every loaded year, plus `around` and the year after."""
        years = set(self.national)
        if around is not None:
            years |= {around, around + 1}
        return {year: self.status(year) for year in sorted(years)}

    def regions(self) -> list[str]:
        return sorted(self.regional)

    def fingerprint(self, year: int, region: str | None = None) -> tuple[object, ...]:
        """What decides `year`'s working days (and its status): equal means nothing moved."""
        national = self.national.get(year)
        local = self.regional.get(region or NATIONAL, {}).get(year)
        return (
            self.status(year, region),
            _days(national),
            _days(local),
        )

    # Arithmetic -----------------------------------------------------------------

    def is_working_day(self, day: date, region: str | None = None) -> bool:
        if not self._start <= day <= self._end:
            return day.weekday() < 5
        table = self._table(region)
        index = bisect.bisect_left(table, day.toordinal())
        return index < len(table) and table[index] == day.toordinal()

    def add_working_days(self, start: date, days: int, region: str | None = None) -> date:
        """The `days`-th working day after `start` (`start` itself when `days` is 0)."""
        if days <= 0:
            return start
        table = self._table(region)
        index = bisect.bisect_right(table, start.toordinal()) + days - 1
        if self._start <= start and index < len(table):
            return date.fromordinal(table[index])
        return self._slow_add(start, days, region)

    def working_days_between(self, start: date, end: date, region: str | None = None) -> int:
        """How many working days lie after `start`, up to and including `end`."""
        if end <= start:
            return 0
        if not (self._start <= start and end <= self._end):
            return sum(
                self.is_working_day(start + timedelta(days=n), region)
                for n in range(1, (end - start).days + 1)
            )
        table = self._table(region)
        return bisect.bisect_right(table, end.toordinal()) - bisect.bisect_right(
            table, start.toordinal()
        )

    def working_day_on_or_after(self, day: date, region: str | None = None) -> date:
        """`day` if it is a working day, else the next one."""
        table = self._table(region)
        index = bisect.bisect_left(table, day.toordinal())
        if self._start <= day and index < len(table):
            return date.fromordinal(table[index])
        while not self.is_working_day(day, region):
            day += timedelta(days=1)
        return day

    def _slow_add(self, start: date, days: int, region: str | None) -> date:
        # Only outside the table's span (before the first loaded year or decades ahead).
        current, left = start, days
        while left > 0:
            current += timedelta(days=1)
            left -= self.is_working_day(current, region)
        return current

    def _table(self, region: str | None) -> list[int]:
        key = region if region in self.regional else NATIONAL
        table = self._tables.get(key)
        if table is None:
            table = self._tables[key] = self._build(key)
        return table

    def _build(self, region: str) -> list[int]:
        off: set[date] = set()
        worked: set[date] = set()
        for schedule in (*self.national.values(), *self.regional.get(region, {}).values()):
            off.update(entry.day for entry in schedule.days_off)
            worked.update(entry.day for entry in schedule.working_days)
        table = []
        day, one = self._start, timedelta(days=1)
        while day <= self._end:
            if (day.weekday() < 5 and day not in off) or day in worked:
                table.append(day.toordinal())
            day += one
        return table


def _days(schedule: YearSchedule | None) -> tuple[object, ...]:
    if schedule is None:
        return ()
    return (
        tuple(sorted(entry.day for entry in schedule.days_off)),
        tuple(sorted(entry.day for entry in schedule.working_days)),
    )


def changed_years(old: WorkCalendar, new: WorkCalendar) -> list[int]:
    """Years whose working days or status differ between `old` and `new`, any calendar."""
    regions = [None, *sorted(set(old.regional) | set(new.regional))]
    years = set(old.national) | set(new.national)
    for calendar in (old, new):
        for by_year in calendar.regional.values():
            years |= set(by_year)
    return sorted(
        year
        for year in years
        if any(old.fingerprint(year, r) != new.fingerprint(year, r) for r in regions)
    )
