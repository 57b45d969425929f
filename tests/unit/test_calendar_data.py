"""The shipped calendar files against the library they were generated from, and 2027's basis."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import pytest
from lunardate import LunarDate

from gateway.holidays.files import read_all
from gateway.holidays.workdays import WorkCalendar

CALENDAR_DIR = Path(__file__).resolve().parents[2] / "catalogs" / "calendar"
SCHEDULES = read_all(CALENDAR_DIR, None)
CALENDAR = WorkCalendar(SCHEDULES)


@pytest.mark.parametrize("year", range(2019, 2027))
def test_files_equal_the_library_day_by_day(year: int) -> None:
    day, differences = date(year, 1, 1), []
    while day.year == year:
        if CALENDAR.is_working_day(day) != chinese_calendar.is_workday(day):
            differences.append(day)
        day += timedelta(days=1)
    assert differences == []
    assert CALENDAR.status(year) == "exact"


@pytest.mark.parametrize("year", range(2019, 2027))
def test_every_exact_year_names_its_notice(year: int) -> None:
    (schedule,) = [s for s in SCHEDULES if s.year == year and s.national]
    notices = [s for s in schedule.sources if s.kind == "notice"]
    assert notices
    assert notices[0].title == f"国务院办公厅关于{year}年部分节假日安排的通知"
    for notice in notices:
        assert notice.url
        assert notice.date
        assert notice.number or "number" in notice.unverified
    assert all(entry.name for entry in (*schedule.days_off, *schedule.working_days))


def test_2027_is_provisional_with_the_statutory_weekdays_only() -> None:
    (schedule,) = [s for s in SCHEDULES if s.year == 2027]
    assert schedule.provisional
    assert schedule.basis
    assert [s.kind for s in schedule.sources] == ["regulation"]
    assert schedule.working_days == ()  # 调休 only from the notice
    new_year = LunarDate(2027, 1, 1).to_solar_date()
    statutory = {
        date(2027, 1, 1),
        new_year - timedelta(days=1),  # 除夕
        *(new_year + timedelta(days=n) for n in range(3)),  # 初一 to 初三
        date(2027, 4, 5),  # 清明 (solar term)
        date(2027, 5, 1),
        date(2027, 5, 2),
        LunarDate(2027, 5, 5).to_solar_date(),  # 端午
        LunarDate(2027, 8, 15).to_solar_date(),  # 中秋
        date(2027, 10, 1),
        date(2027, 10, 2),
        date(2027, 10, 3),
    }
    assert {d for d in statutory if d.weekday() < 5} == {e.day for e in schedule.days_off}
    # The dates lunardate gives, pinned so that a change in the library shows here.
    assert new_year == date(2027, 2, 6)
    assert LunarDate(2027, 5, 5).to_solar_date() == date(2027, 6, 9)
    assert LunarDate(2027, 8, 15).to_solar_date() == date(2027, 9, 15)
    solar_terms = dict(chinese_calendar.get_solar_terms(date(2027, 4, 1), date(2027, 4, 10)))
    assert str(solar_terms[date(2027, 4, 5)]) == "清明"


def test_2028_is_missing() -> None:
    assert CALENDAR.status(2028) == "missing"
    assert CALENDAR.is_working_day(date(2028, 1, 3))  # a Monday, counted as worked
