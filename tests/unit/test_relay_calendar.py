"""Business calendars: deliveries are held through maintenance windows and off-hours."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from gateway.relay.calendar import ALWAYS_OPEN, BusinessCalendar, WeeklyWindow

SHANGHAI = ZoneInfo("Asia/Shanghai")
SUNDAY_NIGHT = WeeklyWindow(frozenset({6}), time(1, 0), time(5, 0))
NIGHTS = WeeklyWindow(frozenset(range(7)), time(22, 0), time(7, 0))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def test_outside_every_window_nothing_is_held() -> None:
    calendar = BusinessCalendar(SHANGHAI, (SUNDAY_NIGHT,))
    assert calendar.hold_until(at("2026-11-29T06:00")) is None  # a Sunday, after the window


def test_inside_a_window_hold_until_it_ends() -> None:
    calendar = BusinessCalendar(SHANGHAI, (SUNDAY_NIGHT,))
    assert calendar.hold_until(at("2026-11-29T02:30")) == at("2026-11-29T05:00")


def test_window_end_is_exclusive_and_start_inclusive() -> None:
    calendar = BusinessCalendar(SHANGHAI, (SUNDAY_NIGHT,))
    assert calendar.hold_until(at("2026-11-29T05:00")) is None
    assert calendar.hold_until(at("2026-11-29T01:00")) == at("2026-11-29T05:00")


@pytest.mark.parametrize(
    ("now", "reopens"),
    [("2026-11-27T23:30", "2026-11-28T07:00"), ("2026-11-28T03:00", "2026-11-28T07:00")],
)
def test_window_crossing_midnight(now: str, reopens: str) -> None:
    calendar = BusinessCalendar(SHANGHAI, (NIGHTS,))
    assert calendar.hold_until(at(now)) == at(reopens)


def test_overlapping_windows_hold_to_the_first_open_moment() -> None:
    late_maintenance = WeeklyWindow(frozenset({6}), time(6, 30), time(9, 0))
    calendar = BusinessCalendar(SHANGHAI, (NIGHTS, late_maintenance))
    # Sunday 03:00: nights end at 07:00, but Sunday maintenance runs 06:30-09:00.
    assert calendar.hold_until(at("2026-11-29T03:00")) == at("2026-11-29T09:00")


def test_answer_keeps_the_callers_time_zone() -> None:
    calendar = BusinessCalendar(SHANGHAI, (SUNDAY_NIGHT,))
    now_utc = datetime(2026, 11, 28, 18, 30, tzinfo=UTC)  # Sunday 02:30 in Shanghai
    held = calendar.hold_until(now_utc)
    assert held == datetime(2026, 11, 28, 21, 0, tzinfo=UTC)
    assert held is not None
    assert held.tzinfo is UTC


def test_always_open() -> None:
    assert ALWAYS_OPEN.hold_until(at("2026-11-29T02:30")) is None


def test_empty_weekdays_refused() -> None:
    with pytest.raises(ValueError, match="weekdays"):
        WeeklyWindow(frozenset(), time(1), time(2))
