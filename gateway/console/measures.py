"""The centre's own measures, as service centres report them, over a date range.

受理量 (applications taken) per day, item, competent region and window; the
comprehensive windows' share (综窗办件量); the satisfaction rate (满意率: 满意 and
非常满意 among ratings); and work on rest days (周六不打烊) and after hours
(延时服务), counted apart. Days are Beijing dates; rest days come from the
project's working-day calendar (gateway/holidays) for the centre's region.

Definitions the page states, since DOMAIN.md gives none for them:
- a window is the staff account that took the case (one clerk, one window);
- 综窗办件量 share: cases the centre received through the console's windows,
  among all cases whose receiving region is the centre's (the rest came from
  partner systems);
- 延时服务: taken on a working day before 09:00 or from 17:30 (the published
  hours most centres keep, 09:00–17:30, lunch counted as open).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from gateway.applications import deadlines
from gateway.console.text import BEIJING
from gateway.store import Store

OPENS, CLOSES = time(9, 0), time(17, 30)
SATISFIED = frozenset({4, 5})
MAX_DAYS = 366


@dataclass
class Measures:
    """The counts of one centre over ``first``..``last`` (Beijing dates, inclusive)."""

    first: date
    last: date
    taken: int = 0
    by_day: Counter[str] = field(default_factory=Counter)
    by_item: Counter[str] = field(default_factory=Counter)
    by_region: Counter[str] = field(default_factory=Counter)
    by_window: Counter[str] = field(default_factory=Counter)
    at_windows: int = 0
    rest_day: int = 0
    saturday: int = 0
    after_hours: int = 0
    ratings: int = 0
    satisfied: int = 0
    by_level: Counter[int] = field(default_factory=Counter)

    @property
    def window_share(self) -> float | None:
        return self.at_windows / self.taken if self.taken else None

    @property
    def satisfaction(self) -> float | None:
        return self.satisfied / self.ratings if self.ratings else None


async def of_centre(store: Store, region: str, first: date, last: date) -> Measures:
    """Count the centre's cases and ratings between `first` and `last` (Beijing days)."""
    measures = Measures(first, last)
    # created_at is UTC ISO text; comparing instants means converting, so fetch a
    # day's margin either side and keep what falls inside in Python.
    margin = {
        "start": (datetime.combine(first - timedelta(days=1), time(0))).isoformat(),
        "end": (datetime.combine(last + timedelta(days=2), time(0))).isoformat(),
    }
    async with store.read() as conn:
        cases = await conn.fetch_all(
            "SELECT created_at, item_code, competent_region, submitted_by FROM applications "
            "WHERE receiving_region = :region AND created_at >= :start AND created_at < :end",
            {"region": region, **margin},
        )
        ratings = await conn.fetch_all(
            "SELECT r.level, r.created_at FROM ratings r JOIN applications a "
            "ON a.id = r.application_id WHERE a.receiving_region = :region "
            "AND r.created_at >= :start AND r.created_at < :end",
            {"region": region, **margin},
        )
    for row in cases:
        local = datetime.fromisoformat(row["created_at"]).astimezone(BEIJING)
        if not first <= local.date() <= last:
            continue
        measures.taken += 1
        measures.by_day[local.date().isoformat()] += 1
        measures.by_item[row["item_code"]] += 1
        measures.by_region[row["competent_region"]] += 1
        submitted_by = str(row["submitted_by"] or "")
        if submitted_by.startswith("staff:"):
            measures.at_windows += 1
            measures.by_window[submitted_by.removeprefix("staff:")] += 1
        if not deadlines.is_working_day(local.date(), region):
            measures.rest_day += 1
            if local.weekday() == 5:
                measures.saturday += 1
        elif not OPENS <= local.time() < CLOSES:
            measures.after_hours += 1
    for row in ratings:
        local = datetime.fromisoformat(row["created_at"]).astimezone(BEIJING)
        if not first <= local.date() <= last:
            continue
        measures.ratings += 1
        measures.by_level[int(row["level"])] += 1
        if int(row["level"]) in SATISFIED:
            measures.satisfied += 1
    return measures


def as_rows(counter: Counter[str], names: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """A counter as table rows, largest first (ties by key), with display names."""
    names = names or {}
    return [
        {"key": key, "name": names.get(key, key), "count": count}
        for key, count in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
