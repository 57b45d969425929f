"""A region's business calendar: when its systems take deliveries.

Regions announce maintenance windows (weekly, e.g. Sunday 01:00–05:00) and some do
not accept deliveries at night. During such times deliveries are *held* until the
window ends, instead of failing and burning retry attempts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class WeeklyWindow:
    """A recurring closed period: on `weekdays` (0 = Monday) from `start` to `end`, local time.

    An `end` at or before `start` crosses midnight into the next day.
    """

    weekdays: frozenset[int]
    start: time
    end: time

    def __post_init__(self) -> None:
        if not self.weekdays or not self.weekdays <= set(range(7)):
            raise ValueError("weekdays must be a non-empty subset of 0..6")

    def end_if_inside(self, local: datetime) -> datetime | None:
        """The end of the window that contains `local`, or None if `local` is outside."""
        for days_back in (0, 1):
            day = (local - timedelta(days=days_back)).date()
            if day.weekday() not in self.weekdays:
                continue
            opened = datetime.combine(day, self.start, local.tzinfo)
            closes_on = day if self.end > self.start else day + timedelta(days=1)
            closed = datetime.combine(closes_on, self.end, local.tzinfo)
            if opened <= local < closed:
                return closed
        return None


@dataclass(frozen=True)
class BusinessCalendar:
    """When a region is closed to deliveries: maintenance windows and off-hours."""

    timezone: ZoneInfo
    closed: tuple[WeeklyWindow, ...] = ()

    def hold_until(self, now: datetime) -> datetime | None:
        """If the region is closed at `now` (aware), when it reopens; else None.

        Back-to-back windows are followed to the first open moment.
        """
        local = now.astimezone(self.timezone)
        reopens: datetime | None = None
        for _ in range(len(self.closed) + 1):
            ends = [end for w in self.closed if (end := w.end_if_inside(local)) is not None]
            if not ends:
                break
            local = reopens = max(ends)
        return None if reopens is None else reopens.astimezone(now.tzinfo)


ALWAYS_OPEN = BusinessCalendar(ZoneInfo("Asia/Shanghai"))
