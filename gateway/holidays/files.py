"""Calendar directories: read every year, render a year back to TOML, notice changes.

Two directories are read: the bundled one (`calendar.directory`, default the
years shipped inside the package) and the imported one (`tongban calendar import`
writes there, under the data directory, so an upgrade never loses a loaded
notice). A year in the imported directory replaces the bundled year, except
that a provisional import never hides an exact bundled year.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import structlog

from gateway.errors import CalendarError, CalendarProblem
from gateway.holidays.schedule import (
    CalendarFileError,
    YearSchedule,
    file_name,
    matches_file_name,
    parse_file,
)

log = structlog.get_logger(__name__)


def read_directory(directory: Path, *, required: bool) -> list[YearSchedule]:
    """Every calendar file in `directory`; raise `CalendarError` listing every problem."""
    if not directory.is_dir():
        if required:
            problem = CalendarProblem(str(directory), "calendar directory not found")
            raise CalendarError([problem])
        return []
    schedules, problems = [], []
    for path in sorted(directory.iterdir()):
        if path.suffix != ".toml":
            continue
        if not matches_file_name(path.name):
            problems.append(
                CalendarProblem(
                    str(path), "not a calendar file name (CN-2027.toml, REGION-2027.toml)"
                )
            )
            continue
        try:
            schedules.append(parse_file(path))
        except CalendarFileError as exc:
            problems.extend(exc.problems)
    if problems:
        raise CalendarError(problems)
    return schedules


def read_all(bundled: Path, imported: Path | None) -> list[YearSchedule]:
    """The bundled years overlaid with the imported ones (see the module docstring)."""
    chosen = {(s.region, s.year): s for s in read_directory(bundled, required=True)}
    if imported is not None:
        for schedule in read_directory(imported, required=False):
            key = (schedule.region, schedule.year)
            shipped = chosen.get(key)
            if shipped is not None and schedule.provisional and not shipped.provisional:
                log.warning("calendar.import_ignored", file=schedule.path, exact=shipped.path)
                continue
            chosen[key] = schedule
    return [chosen[key] for key in sorted(chosen)]


def signature(directories: Iterable[Path | None]) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and modification times of the calendar files: changes when a file does."""
    found = []
    for directory in directories:
        if directory is None or not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.toml")):
            stat = path.stat()
            found.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(found)


def render(schedule: YearSchedule, header: Sequence[str] = ()) -> str:
    """The TOML text of `schedule`: one day per line, so a review diff shows each day."""
    out = [f"# {line}" if line else "#" for line in header]
    out.append(f"year = {schedule.year}")
    if not schedule.national:
        out.append(f"region = {_string(schedule.region)}")
    out.append(f"provisional = {'true' if schedule.provisional else 'false'}")
    if schedule.basis:
        out.append(f"basis = {_string(schedule.basis)}")
    # Top-level keys first: in TOML, a key after [[sources]] belongs to that table.
    for array, entries in (
        ("days_off", schedule.days_off),
        ("working_days", schedule.working_days),
    ):
        if array == "working_days" and not schedule.national:
            continue
        out.append("")
        out.append(f"{array} = [")
        out += [
            f"  {{ date = {e.day.isoformat()}, name = {_string(e.name)} }},"
            for e in sorted(entries, key=lambda e: e.day)
        ]
        out.append("]")
    for source in schedule.sources:
        out += ["", "[[sources]]", f"kind = {_string(source.kind)}"]
        out.append(f"title = {_string(source.title)}")
        if source.number:
            out.append(f"number = {_string(source.number)}")
        if source.date:
            out.append(f"date = {source.date.isoformat()}")
        if source.url:
            out.append(f"url = {_string(source.url)}")
            out.append(f"url_kind = {_string(source.url_kind)}")
        out.append(f"unverified = [{', '.join(_string(f) for f in source.unverified)}]")
        if source.note:
            out.append(f"note = {_string(source.note)}")
    return "\n".join(out) + "\n"


def target_path(directory: Path, schedule: YearSchedule) -> Path:
    return directory / file_name(schedule.region, schedule.year)


def _string(value: str) -> str:
    # JSON string escapes are valid TOML basic-string escapes.
    return json.dumps(value, ensure_ascii=False)
