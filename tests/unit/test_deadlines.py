"""Working-day deadlines on the mainland calendar, and what happens beyond its data."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from gateway.applications import clocks, deadlines, records
from gateway.catalog.models import Item, Source
from gateway.holidays.files import read_all
from gateway.holidays.workdays import WorkCalendar

CALENDAR_DIR = Path(__file__).resolve().parents[2] / "catalogs" / "calendar"


def item(**limits: object) -> Item:
    return Item.model_validate(
        {
            "code": "X",
            "task_name": "t",
            "competent_region": "shenzhen",
            "task_type": "licence",
            "dept_name": "d",
            "handling_modes": ["proxy"],
            "channels": ["window"],
            "source": Source(kind="composed"),
            **limits,
        }
    )


def test_national_day_holiday_and_adjusted_working_saturday_2026() -> None:
    # 2026: 1-7 October off; Saturday 10 October is an adjusted working day (调休).
    assert not deadlines.is_working_day(date(2026, 10, 1))
    assert deadlines.is_working_day(date(2026, 10, 10))
    # Accepted Wednesday 30 Sept: day 1 is Thursday 8 Oct, day 3 the working Saturday.
    assert deadlines.add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 10)


def test_working_days_between_skips_holidays() -> None:
    assert deadlines.working_days_between(date(2026, 9, 30), date(2026, 10, 12)) == 4


def test_natural_day_limit_ending_on_a_holiday_moves_to_the_next_working_day() -> None:
    assert deadlines.add_limit(date(2026, 9, 28), 5, "natural_day") == date(2026, 10, 8)


def test_due_dates_for_an_item() -> None:
    due = deadlines.due_dates(item(anticipate_day=20, promise_day=5), date(2026, 3, 2))
    assert (due.legal, due.promised, due.exact) == (date(2026, 3, 30), date(2026, 3, 9), True)


def test_beyond_the_loaded_years_weekdays_are_counted_and_flagged_missing() -> None:
    far = date(2061, 1, 3)  # a Monday, decades past the last shipped file
    assert not deadlines.is_covered(far)
    due = deadlines.due_dates(item(anticipate_day=3), date(2061, 1, 7))  # a Friday
    assert due.legal == date(2061, 1, 12)
    assert (due.exact, due.basis.status) == (False, "missing")


def test_a_case_taken_on_28_december_2026_skips_new_year_2027_and_is_provisional() -> None:
    # 20 working days from Monday 2026-12-28: 29-31 Dec, then 2027 from 4 January, with
    # Friday 1 January (元旦, statutory) off. Monday to Friday would give 25 January.
    due = deadlines.due_dates(item(anticipate_day=20), date(2026, 12, 28))
    assert not deadlines.is_working_day(date(2027, 1, 1))
    assert due.legal == date(2027, 1, 26)
    assert due.exact is False
    assert due.basis.status == "provisional"
    assert due.basis.inexact_years() == [2027]
    assert due.as_dict()["calendar_exact"] is False


def test_the_receipt_flags_dates_that_rest_on_an_unpublished_year() -> None:
    row = {
        "legal_due": "2027-01-26",
        "promised_due": "2027-01-05",
        "supplement_due": None,
        "competent_region": "shenzhen",
    }
    basis = records.receipt_basis(row, date(2026, 12, 28))
    assert (basis.status, basis.inexact_years()) == ("provisional", [2027])
    text = records._notice([], None, basis)
    assert "2027年的节假日安排尚未由国务院办公厅公布，上述日期为暂定" in text
    exact = records.receipt_basis(
        {**row, "legal_due": "2026-12-31", "promised_due": None}, date(2026, 12, 3)
    )
    assert exact.exact
    assert "暂定" not in records._notice([], None, exact)


def test_a_cases_clock_counts_its_competent_regions_extra_days_off(tmp_path: Path) -> None:
    for name in ("CN-2026.toml", "CN-2027.toml"):
        (tmp_path / name).write_bytes((CALENDAR_DIR / name).read_bytes())
    (tmp_path / "shenzhen-2026.toml").write_text(
        'year = 2026\nregion = "shenzhen"\n\ndays_off = [\n'
        '  { date = 2026-12-29, name = "测试用地方休息日" },\n]\n\n[[sources]]\n'
        'kind = "local_notice"\ntitle = "测试数据：并非真实的地方通知"\n'
        'unverified = ["number", "date", "url"]\n',
        encoding="utf-8",
    )
    deadlines.use(WorkCalendar(read_all(tmp_path, None)))
    row = {"anticipate_day": 3, "anticipate_type": "working_day", "promise_day": None}
    row["promise_type"] = "working_day"
    monday = date(2026, 12, 28)
    shenzhen = clocks.due_columns({**row, "competent_region": "shenzhen"}, monday, 0)
    dongguan = clocks.due_columns({**row, "competent_region": "dongguan"}, monday, 0)
    assert shenzhen["legal_due"] == "2027-01-04"  # 30, 31 December, then 4 January
    assert dongguan["legal_due"] == "2026-12-31"
    assert shenzhen["calendar_basis"] == "provisional"
    assert dongguan["calendar_basis"] == "exact"


def _reference_working_day(calendar: WorkCalendar, region: str | None):  # type: ignore[no-untyped-def]
    """A working day straight from the schedule files, day by day: the table's oracle."""
    schedules = [*calendar.national.values(), *calendar.regional.get(region or "", {}).values()]
    off = {entry.day for s in schedules for entry in s.days_off}
    worked = {entry.day for s in schedules for entry in s.working_days}

    def working(day: date) -> bool:
        return (day.weekday() < 5 and day not in off) or day in worked

    return working


def test_the_working_day_table_agrees_with_a_day_loop_over_the_whole_calendar() -> None:
    """Bisect over the precomputed table == counting day by day, every day the files cover."""
    calendar = WorkCalendar(read_all(CALENDAR_DIR, None))
    first, last = date(calendar.first_year, 1, 1), date(calendar.last_year, 12, 31)
    for region in (None, *sorted(calendar.regional)):
        working = _reference_working_day(calendar, region)
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        flags = [working(day) for day in days]
        # next_working[i]: index of the first working day at or after days[i]
        next_working, upcoming = [len(days)] * len(days), len(days)
        for i in range(len(days) - 1, -1, -1):
            if flags[i]:
                upcoming = i
            next_working[i] = upcoming
        for i, day in enumerate(days):
            assert calendar.is_working_day(day, region) == flags[i], (region, day)
            if next_working[i] < len(days):
                on_or_after = days[next_working[i]]
                assert calendar.working_day_on_or_after(day, region) == on_or_after, (region, day)
            counted, current = 0, i
            for amount in (1, 5, 20):
                while counted < amount and current + 1 < len(days):
                    current += 1
                    counted += flags[current]
                if counted < amount:
                    break  # runs past the table: the slow path, covered elsewhere
                assert calendar.add_working_days(day, amount, region) == days[current], (
                    region,
                    day,
                    amount,
                )
                assert calendar.working_days_between(day, days[current], region) == amount
