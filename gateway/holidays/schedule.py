"""One year's holiday schedule as a file says it, validated with file and line.

A national file (``CN-2026.toml``) holds the days off that would otherwise be
working days (Monday to Friday) and the weekend days worked instead (调休), each
named, and the sources it comes from: for an exact year, the State Council's
notice (国务院办公厅关于YYYY年部分节假日安排的通知); for a provisional year, the
rules it was derived from and a ``basis`` saying what is known and what is not.
A region's file (``shenzhen-2027.toml``) adds that region's extra local days off.

Only days that change something are listed: a "day off" on a Saturday or a
"working day" on a Tuesday needs no adjustment, so it is refused as the typo it
most likely is. Every refusal names the file and the line.
"""

from __future__ import annotations

import csv
import io
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from gateway.errors import CalendarProblem

NATIONAL = "CN"
"""The region key of the national (mainland) schedule."""

SOURCE_KINDS = ("notice", "regulation", "local_notice")
NOTICE_FIELDS = ("title", "number", "date", "url")
_FILE_NAME = re.compile(r"^(?P<region>CN|[a-z][a-z0-9_]*)-(?P<year>\d{4})\.toml$")
_DATE_IN_LINE = re.compile(r"\bdate\s*=\s*(\d{4}-\d{2}-\d{2})")
_KEY_LINE = re.compile(r"^\s*(\[\[?\s*)?([A-Za-z_]+)")


@dataclass(frozen=True)
class Source:
    """Where a schedule comes from: a notice, a regulation or a local notice.

    `unverified` names the fields (title, number, date, url) that could not be
    confirmed against a copy of the document; `url` may be a reprint
    (``url_kind = "reprint"``) when the official page could not be consulted.
    """

    kind: str
    title: str
    number: str | None
    date: date | None
    url: str | None
    url_kind: str = "official"
    unverified: tuple[str, ...] = ()
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "title": self.title,
            "number": self.number,
            "date": self.date.isoformat() if self.date else None,
            "url": self.url,
            "url_kind": self.url_kind,
            "unverified": list(self.unverified),
            "note": self.note,
        }


@dataclass(frozen=True)
class Entry:
    """One listed day: its date, its name and the line it is on."""

    day: date
    name: str
    line: int | None = None


@dataclass(frozen=True)
class YearSchedule:
    """One validated year of one calendar (national, or a region's extra days off)."""

    year: int
    region: str
    provisional: bool
    basis: str | None
    sources: tuple[Source, ...]
    days_off: tuple[Entry, ...]
    working_days: tuple[Entry, ...] = ()
    path: str = ""

    @property
    def national(self) -> bool:
        return self.region == NATIONAL

    @property
    def status(self) -> str:
        return "provisional" if self.provisional else "exact"


def file_name(region: str, year: int) -> str:
    """The file a year's schedule lives in: ``CN-2027.toml`` or ``shenzhen-2027.toml``."""
    return f"{region}-{year}.toml"


def parse_file(path: Path) -> YearSchedule:
    """Read and validate one calendar file; raise `CalendarFileError` listing every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CalendarFileError([CalendarProblem(str(path), f"cannot read: {exc}")]) from exc
    return parse_text(text, str(path), name=path.name)


def parse_text(text: str, where: str, *, name: str | None = None) -> YearSchedule:
    """Validate the TOML `text` of a calendar file shown as `where`.

    With `name` (the file name), the region and year it implies must match the
    file's own ``region`` and ``year``.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = _line_of_syntax_error(str(exc))
        raise CalendarFileError([CalendarProblem(where, f"TOML syntax: {exc}", line)]) from exc
    lines = _Lines(text)
    problems: list[CalendarProblem] = []
    schedule = _validate(document, where, lines, problems)
    if name is not None and schedule is not None:
        expected = file_name(schedule.region, schedule.year)
        if name != expected:
            problems.append(
                CalendarProblem(where, f"file name must be {expected} for its region and year", 1)
            )
    if problems or schedule is None:
        raise CalendarFileError(problems)
    return schedule


def parse_csv_text(text: str, where: str, meta: Mapping[str, Any]) -> YearSchedule:
    """Validate a CSV of days (``date,kind,name``; kind ``off`` or ``work``) plus `meta`.

    `meta` holds the file-level keys a CSV cannot (year, region, provisional,
    basis, sources). Problems name the CSV's own lines.
    """
    problems: list[CalendarProblem] = []
    lines = _Lines("")
    document: dict[str, Any] = {**meta, "days_off": [], "working_days": []}
    rows = list(csv.reader(io.StringIO(text)))
    header = [cell.strip().lower() for cell in rows[0]] if rows else []
    if header[:3] != ["date", "kind", "name"]:
        problems.append(CalendarProblem(where, "the header must be: date,kind,name", 1))
        raise CalendarFileError(problems)
    kinds = {"off": "days_off", "放假": "days_off", "work": "working_days", "上班": "working_days"}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = [cell.strip() for cell in row] + ["", "", ""]
        array = kinds.get(cells[1].lower())
        try:
            day = date.fromisoformat(cells[0])
        except ValueError:
            problems.append(
                CalendarProblem(where, f"{cells[0]!r} is not a date (2027-01-01)", number)
            )
            continue
        if array is None:
            problems.append(
                CalendarProblem(where, "kind must be off (放假) or work (上班)", number)
            )
            continue
        document[array].append({"date": day, "name": cells[2]})
        lines.entries[array].append(number)
    if "year" not in document and (document["days_off"] or document["working_days"]):
        document["year"] = (document["days_off"] or document["working_days"])[0]["date"].year
    schedule = _validate(document, where, lines, problems)
    if problems or schedule is None:
        raise CalendarFileError(problems)
    return schedule


def matches_file_name(name: str) -> bool:
    """Whether `name` looks like a calendar file (``CN-2027.toml``, ``dongguan-2027.toml``)."""
    return _FILE_NAME.match(name) is not None


class CalendarFileError(Exception):
    """Problems found in one file (collected by the loader into a `CalendarError`)."""

    def __init__(self, problems: list[CalendarProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


class _Lines:
    """Where things are in the TOML text (tomllib gives values, not positions)."""

    def __init__(self, text: str) -> None:
        self.keys: dict[str, int] = {}
        self.sources: list[int] = []
        self.entries: dict[str, list[int]] = {"days_off": [], "working_days": []}
        current: str | None = None
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.split("#", 1)[0]
            key = _KEY_LINE.match(line)
            if key is not None:
                table, name = key.group(1), key.group(2)
                if table is not None or name not in ("date", "name"):
                    current = name if name in self.entries else None
                    self.keys.setdefault(name, number)
                    if table is not None and name == "sources":
                        self.sources.append(number)
            if current is not None:
                self.entries[current].extend(number for _ in _DATE_IN_LINE.finditer(line))

    def key(self, name: str) -> int | None:
        return self.keys.get(name)

    def entry(self, array: str, index: int) -> int | None:
        found = self.entries[array]
        return found[index] if index < len(found) else self.keys.get(array)

    def source(self, index: int) -> int | None:
        return self.sources[index] if index < len(self.sources) else self.keys.get("sources")


def _validate(
    document: Mapping[str, Any], where: str, lines: _Lines, problems: list[CalendarProblem]
) -> YearSchedule | None:
    def refuse(message: str, line: int | None) -> None:
        problems.append(CalendarProblem(where, message, line))

    known = {"year", "region", "provisional", "basis", "sources", "days_off", "working_days"}
    for key in sorted(set(document) - known):
        refuse(f"unknown key {key!r} (allowed: {', '.join(sorted(known))})", lines.key(key))
    year = document.get("year")
    if not isinstance(year, int) or isinstance(year, bool) or not 1949 < year < 2200:
        refuse("'year' must be a year such as 2027", lines.key("year") or 1)
        return None
    region = document.get("region", NATIONAL)
    if not isinstance(region, str) or not _FILE_NAME.match(file_name(region, year)):
        refuse("'region' must be a region key such as shenzhen", lines.key("region"))
        return None
    provisional = document.get("provisional", False)
    if not isinstance(provisional, bool):
        refuse("'provisional' must be true or false", lines.key("provisional"))
        provisional = True
    basis = document.get("basis")
    if basis is not None and (not isinstance(basis, str) or not basis.strip()):
        refuse("'basis' must be a non-empty text", lines.key("basis"))
        basis = None
    sources = _sources(document.get("sources"), lines, refuse)
    if not sources:
        refuse("no source: list the notice (or rules) in [[sources]]", lines.key("sources") or 1)
    elif not provisional and region == NATIONAL and not any(s.kind == "notice" for s in sources):
        refuse(
            "an exact year needs the State Council's notice in [[sources]] "
            '(kind = "notice"); otherwise mark it provisional = true with its basis',
            lines.source(0),
        )
    if provisional and basis is None:
        refuse(
            "a provisional year needs 'basis': what it follows from and what is missing",
            lines.key("provisional") or 1,
        )
    days_off = _entries(document, "days_off", year, lines, refuse)
    working = _entries(document, "working_days", year, lines, refuse)
    if region != NATIONAL and working:
        refuse("a region's file lists extra days off only", lines.key("working_days"))
    for entry in days_off:
        if entry.day.weekday() >= 5:
            refuse(
                f"day off {entry.day} is a {entry.day:%A}: weekends are already off, "
                "list only days that change (wrong date?)",
                entry.line,
            )
    for entry in working:
        if entry.day.weekday() < 5:
            refuse(
                f"working day {entry.day} is a {entry.day:%A}: weekdays are already worked, "
                "list only weekend days worked instead (调休) (wrong date?)",
                entry.line,
            )
    seen: dict[date, Entry] = {}
    for entry in (*days_off, *working):
        first = seen.setdefault(entry.day, entry)
        if first is not entry:
            refuse(f"{entry.day} listed twice (first on line {first.line})", entry.line)
    return YearSchedule(
        year=year,
        region=region,
        provisional=provisional,
        basis=basis,
        sources=tuple(sources),
        days_off=tuple(days_off),
        working_days=tuple(working),
        path=where,
    )


def _sources(value: Any, lines: _Lines, refuse: Any) -> list[Source]:
    if value is None:
        return []
    if not isinstance(value, list):
        refuse("'sources' must be an array of tables ([[sources]])", lines.key("sources"))
        return []
    sources = []
    for index, raw in enumerate(value):
        line = lines.source(index)
        if not isinstance(raw, dict):
            refuse("each source must be a table", line)
            continue
        allowed = {"kind", "title", "number", "date", "url", "url_kind", "unverified", "note"}
        for key in sorted(set(raw) - allowed):
            refuse(f"source: unknown key {key!r}", line)
        kind = raw.get("kind", "notice")
        title = raw.get("title")
        if kind not in SOURCE_KINDS:
            refuse(f"source kind must be one of {', '.join(SOURCE_KINDS)}", line)
            continue
        if not isinstance(title, str) or not title.strip():
            refuse("source needs a 'title'", line)
            continue
        unverified = raw.get("unverified", [])
        if not isinstance(unverified, list) or not set(unverified) <= set(NOTICE_FIELDS):
            refuse(f"source 'unverified' lists fields among {', '.join(NOTICE_FIELDS)}", line)
            unverified = []
        missing = [name for name in ("number", "date", "url") if raw.get(name) in (None, "")]
        missing = [name for name in missing if name not in unverified]
        if missing:
            refuse(
                f"source lacks {', '.join(missing)}: give it, or name it in 'unverified' "
                "when it cannot be confirmed",
                line,
            )
        when = raw.get("date")
        if when is not None and (not isinstance(when, date) or hasattr(when, "hour")):
            refuse("source 'date' must be a date (2025-11-04)", line)
            when = None
        url = raw.get("url")
        if url is not None and (not isinstance(url, str) or not url.startswith("http")):
            refuse("source 'url' must be an http(s) URL", line)
            url = None
        url_kind = raw.get("url_kind", "official")
        if url_kind not in ("official", "reprint"):
            refuse("source 'url_kind' must be official or reprint", line)
        sources.append(
            Source(
                kind=kind,
                title=title,
                number=raw.get("number") or None,
                date=when,
                url=url,
                url_kind=str(url_kind),
                unverified=tuple(unverified),
                note=raw.get("note"),
            )
        )
    return sources


def _entries(
    document: Mapping[str, Any], array: str, year: int, lines: _Lines, refuse: Any
) -> list[Entry]:
    value = document.get(array, [])
    if not isinstance(value, list):
        refuse(f"'{array}' must be an array of {{ date = ..., name = ... }}", lines.key(array))
        return []
    entries = []
    for index, raw in enumerate(value):
        line = lines.entry(array, index)
        if not isinstance(raw, dict) or set(raw) != {"date", "name"}:
            refuse(f"each entry of '{array}' is {{ date = YYYY-MM-DD, name = \"...\" }}", line)
            continue
        day, name = raw["date"], raw["name"]
        if not isinstance(day, date) or hasattr(day, "hour"):
            refuse(f"'{array}' date must be a date such as {year}-01-01", line)
            continue
        if not isinstance(name, str) or not name.strip():
            refuse(f"{day} needs a name (元旦, 春节, 春节调休上班...)", line)
            continue
        if day.year != year:
            refuse(f"{day} is not in {year}: it belongs in the {day.year} file", line)
            continue
        entries.append(Entry(day, name.strip(), line))
    return entries


def _line_of_syntax_error(message: str) -> int | None:
    found = re.search(r"line (\d+)", message)
    return int(found.group(1)) if found else None
