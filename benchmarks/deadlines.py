"""Cost per call of the deadline arithmetic: the bisect table against the old day loop.

    .venv/bin/python benchmarks/deadlines.py [--calls 20000] [--days 20]

"before" is the loop the gateway used until the calendar became data (one
``chinese_calendar.is_workday`` per day, copied here verbatim in spirit);
"after" is `deadlines.add_working_days` on the calendar files (one bisect).
Both count the same N working days from the same random start dates in
2019-2026 (the years the library covers), and must agree on every answer.
Prints the median and p99 per call, in microseconds, and the table's build time.
chinesecalendar is a dev dependency: install with `make .venv/.installed`.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar

from gateway.applications import deadlines
from gateway.holidays.files import read_all
from gateway.holidays.workdays import WorkCalendar


def day_loop(start: date, days: int) -> date:
    """The previous implementation: walk day by day, asking the library about each."""
    current, left = start, days
    while left > 0:
        current += timedelta(days=1)
        if chinese_calendar.is_workday(current):
            left -= 1
    return current


def per_call_us(function: object, starts: list[date], days: int) -> list[float]:
    samples = []
    call = function  # a local name keeps the loop's overhead the same for both
    for start in starts:
        began = time.perf_counter_ns()
        call(start, days)  # type: ignore[operator]
        samples.append((time.perf_counter_ns() - began) / 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=20, help="working days to add per call")
    parser.add_argument("--calendar-dir", type=Path, default=Path("catalogs/calendar"))
    args = parser.parse_args()
    began = time.perf_counter()
    calendar = WorkCalendar(read_all(args.calendar_dir, None))
    calendar.add_working_days(date(2020, 1, 1), 1)  # builds the national table
    build_ms = (time.perf_counter() - began) * 1000
    deadlines.use(calendar)
    rng = random.Random(19)  # noqa: S311 - reproducible start dates, not secrets
    # Starts late enough that N working days stay inside 2026 (the library's last year).
    span = (date(2026, 12, 31) - timedelta(days=2 * args.days + 40) - date(2019, 1, 1)).days
    starts = [date(2019, 1, 1) + timedelta(days=rng.randrange(span)) for _ in range(args.calls)]
    wrong = [
        s for s in starts if day_loop(s, args.days) != deadlines.add_working_days(s, args.days)
    ]
    if wrong:
        raise SystemExit(f"the two disagree from {wrong[0]}")
    for name, function in (("before", day_loop), ("after", deadlines.add_working_days)):
        samples = per_call_us(function, starts, args.days)
        cuts = statistics.quantiles(samples, n=100)
        median = statistics.median(samples)
        print(
            f"{name:<7} add_working_days(start, {args.days}): median {median:7.2f} µs"
            f"  p99 {cuts[98]:7.2f} µs  ({args.calls} calls)"
        )
    print(f"table build (national, {calendar.first_year}-{calendar.last_year}): {build_ms:.1f} ms")


if __name__ == "__main__":
    main()
