"""Calendar files: malformed ones refused with file and line; regions; the bisect table."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import CalendarError
from gateway.holidays.files import read_all, read_directory, render
from gateway.holidays.schedule import CalendarFileError, parse_csv_text, parse_file, parse_text
from gateway.holidays.workdays import WorkCalendar

CALENDAR_DIR = Path(__file__).resolve().parents[2] / "catalogs" / "calendar"

GOOD = """\
year = 2030
provisional = false

days_off = [
  { date = 2030-01-01, name = "元旦" },
  { date = 2030-02-04, name = "春节" },
]

working_days = [
  { date = 2030-02-09, name = "春节调休上班" },
]

[[sources]]
kind = "notice"
title = "国务院办公厅关于2030年部分节假日安排的通知"
number = "国办发明电〔2029〕1号"
date = 2029-11-01
url = "https://example.org/notice-2030"
unverified = []
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def refusal(directory: Path, name: str, text: str) -> list[str]:
    with pytest.raises(CalendarFileError) as caught:
        parse_file(write(directory, name, text))
    return [str(problem) for problem in caught.value.problems]


def test_a_good_file_reads_back_as_rendered(tmp_path: Path) -> None:
    schedule = parse_file(write(tmp_path, "CN-2030.toml", GOOD))
    assert [(e.day, e.name, e.line) for e in schedule.days_off] == [
        (date(2030, 1, 1), "元旦", 5),
        (date(2030, 2, 4), "春节", 6),
    ]
    again = parse_text(render(schedule), "again", name="CN-2030.toml")
    assert again.sources == schedule.sources
    for ours, theirs in (
        (again.days_off, schedule.days_off),
        (again.working_days, schedule.working_days),
    ):
        assert [(e.day, e.name) for e in ours] == [(e.day, e.name) for e in theirs]


def test_a_date_listed_twice_is_refused_with_both_lines(tmp_path: Path) -> None:
    text = GOOD.replace(
        '  { date = 2030-02-04, name = "春节" },',
        '  { date = 2030-02-04, name = "春节" },\n  { date = 2030-01-01, name = "元旦" },',
    )
    path = tmp_path / "CN-2030.toml"
    assert refusal(tmp_path, "CN-2030.toml", text) == [
        f"{path}:7: 2030-01-01 listed twice (first on line 5)"
    ]


def test_a_weekend_day_off_is_refused_with_its_line(tmp_path: Path) -> None:
    text = GOOD.replace("2030-02-04, name", "2030-02-02, name")  # a Saturday
    (problem,) = refusal(tmp_path, "CN-2030.toml", text)
    assert problem.startswith(f"{tmp_path / 'CN-2030.toml'}:6: day off 2030-02-02 is a Saturday")


def test_a_weekday_working_day_needs_no_adjustment_and_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace("2030-02-09, name", "2030-02-11, name")  # a Monday
    (problem,) = refusal(tmp_path, "CN-2030.toml", text)
    assert problem.startswith(f"{tmp_path / 'CN-2030.toml'}:10: working day 2030-02-11 is a Monday")


def test_a_year_without_a_source_is_refused(tmp_path: Path) -> None:
    text = GOOD[: GOOD.index("[[sources]]")]
    (problem,) = refusal(tmp_path, "CN-2030.toml", text)
    assert problem == (
        f"{tmp_path / 'CN-2030.toml'}:1: no source: list the notice (or rules) in [[sources]]"
    )


def test_an_exact_year_needs_a_notice_and_its_fields_or_unverified(tmp_path: Path) -> None:
    text = GOOD.replace('kind = "notice"', 'kind = "regulation"').replace(
        'number = "国办发明电〔2029〕1号"\n', ""
    )
    problems = refusal(tmp_path, "CN-2030.toml", text)
    where = f"{tmp_path / 'CN-2030.toml'}:13"  # the [[sources]] line
    assert problems[0] == (
        f"{where}: source lacks number: give it, or name it in 'unverified' when it "
        "cannot be confirmed"
    )
    assert problems[1].startswith(f"{where}: an exact year needs the State Council's notice")
    # An unconfirmed number is allowed when it says so.
    marked = GOOD.replace('number = "国办发明电〔2029〕1号"\n', "").replace(
        "unverified = []", 'unverified = ["number"]'
    )
    assert parse_file(write(tmp_path, "CN-2030.toml", marked)).sources[0].number is None


def test_provisional_needs_a_basis_and_syntax_errors_name_the_line(tmp_path: Path) -> None:
    text = GOOD.replace("provisional = false", "provisional = true")
    assert refusal(tmp_path, "CN-2030.toml", text) == [
        f"{tmp_path / 'CN-2030.toml'}:2: a provisional year needs 'basis': what it follows "
        "from and what is missing"
    ]
    (problem,) = refusal(tmp_path, "CN-2030.toml", GOOD.replace("]\n\nworking", "\n\nworking"))
    assert problem.startswith(f"{tmp_path / 'CN-2030.toml'}:")
    assert "TOML syntax" in problem
    assert problem.split(":")[1].isdigit()


def test_a_day_in_another_year_and_a_wrong_file_name_are_refused(tmp_path: Path) -> None:
    text = GOOD.replace("2030-02-04, name", "2031-02-04, name")
    (problem,) = refusal(tmp_path, "CN-2030.toml", text)
    assert problem == (
        f"{tmp_path / 'CN-2030.toml'}:6: 2031-02-04 is not in 2030: it belongs in the 2031 file"
    )
    (problem,) = refusal(tmp_path, "CN-2031.toml", GOOD)
    assert problem.endswith(":1: file name must be CN-2030.toml for its region and year")


def test_the_directory_refuses_with_every_problem_and_stray_names(tmp_path: Path) -> None:
    write(tmp_path, "CN-2030.toml", GOOD.replace("2030-02-04, name", "2030-02-02, name"))
    write(tmp_path, "holidays.toml", GOOD)
    with pytest.raises(CalendarError) as caught:
        read_directory(tmp_path, required=True)
    assert [p.line for p in caught.value.problems] == [6, None]
    assert "holidays.toml" in str(caught.value)
    with pytest.raises(CalendarError, match="calendar directory not found"):
        read_directory(tmp_path / "absent", required=True)


def test_csv_rows_are_refused_with_their_csv_lines() -> None:
    meta = {"sources": [{"kind": "notice", "title": "t", "unverified": ["number", "date", "url"]}]}
    text = (
        "date,kind,name\n2030-01-01,off,元旦\n2030-13-01,off,x\n"
        "2030-02-09,holiday,x\n2030-01-05,off,x\n"
    )
    with pytest.raises(CalendarFileError) as caught:
        parse_csv_text(text, "n.csv", meta)
    assert [str(p) for p in caught.value.problems] == [
        "n.csv:3: '2030-13-01' is not a date (2027-01-01)",
        "n.csv:4: kind must be off (放假) or work (上班)",
        "n.csv:5: day off 2030-01-05 is a Saturday: weekends are already off, list only days "
        "that change (wrong date?)",
    ]
    good = parse_csv_text("date,kind,name\n2030-01-01,off,元旦\n2030-02-09,上班,调休\n", "g", meta)
    assert (good.year, len(good.days_off), len(good.working_days)) == (2030, 1, 1)


def test_a_regions_extra_day_off_counts_for_that_region_only(tmp_path: Path) -> None:
    write(tmp_path, "CN-2030.toml", GOOD)
    write(
        tmp_path,
        "dongguan-2030.toml",
        'year = 2030\nregion = "dongguan"\n\ndays_off = [\n'
        '  { date = 2030-03-05, name = "地方活动" },\n]\n\n[[sources]]\n'
        'kind = "local_notice"\ntitle = "东莞市测试通知（测试数据）"\n'
        'unverified = ["number", "date", "url"]\n',
    )
    calendar = WorkCalendar(read_all(tmp_path, None))
    tuesday = date(2030, 3, 5)
    assert calendar.is_working_day(tuesday)
    assert calendar.is_working_day(tuesday, "shenzhen")
    assert not calendar.is_working_day(tuesday, "dongguan")
    assert calendar.add_working_days(date(2030, 3, 4), 1, "dongguan") == date(2030, 3, 6)
    assert calendar.add_working_days(date(2030, 3, 4), 1, "shenzhen") == tuesday
    # A region's file may not carry 调休 working days, and its days off must be weekdays.
    with pytest.raises(CalendarFileError, match="extra days off only"):
        parse_text(
            'year = 2030\nregion = "dongguan"\nworking_days = [\n'
            '  { date = 2030-03-09, name = "x" },\n]\n[[sources]]\ntitle = "t"\n'
            'kind = "local_notice"\nunverified = ["number", "date", "url"]\n',
            "r",
        )


def test_an_imported_year_replaces_the_shipped_one_unless_it_is_less_exact(
    tmp_path: Path,
) -> None:
    shipped, imported = tmp_path / "shipped", tmp_path / "imported"
    shipped.mkdir()
    imported.mkdir()
    write(shipped, "CN-2030.toml", GOOD)
    provisional = GOOD.replace("provisional = false", 'provisional = true\nbasis = "b"')
    write(imported, "CN-2030.toml", provisional)
    (chosen,) = read_all(shipped, imported)
    assert not chosen.provisional
    write(shipped, "CN-2030.toml", provisional)
    write(imported, "CN-2030.toml", GOOD)
    (chosen,) = read_all(shipped, imported)
    assert not chosen.provisional
    assert chosen.path == str(imported / "CN-2030.toml")


SHIPPED = WorkCalendar(read_all(CALENDAR_DIR, None))


def naive_add(start: date, days: int) -> date:
    current = start
    while days > 0:
        current += timedelta(days=1)
        days -= SHIPPED.is_working_day(current)
    return current


@given(
    start=st.dates(min_value=date(2018, 6, 1), max_value=date(2030, 12, 31)),
    days=st.integers(min_value=0, max_value=80),
)
def test_the_table_lookup_equals_a_day_by_day_count(start: date, days: int) -> None:
    due = SHIPPED.add_working_days(start, days)
    assert due == naive_add(start, days)
    assert SHIPPED.working_days_between(start, due) == days
