"""``tongban calendar show|check|import``: the holiday schedules deadlines are counted on.

``import`` takes the State Council's notice typed in as TOML (the calendar file
format) or CSV (``date,kind,name`` plus the notice given as options), validates
it with everything already loaded, recomputes the open cases whose due dates
depend on that year (each change audited and shown in the case's history) and
only then puts the file in place, in the imported-calendar directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import os
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click

from gateway.applications import deadlines
from gateway.applications.journal import Journal
from gateway.audit import AuditLog
from gateway.cli_support import config_option, settings_or_fail
from gateway.config import Settings
from gateway.errors import CalendarError, TongbanError
from gateway.holidays.files import read_all, render, target_path
from gateway.holidays.recompute import RecomputeResult, recompute_open_cases
from gateway.holidays.schedule import (
    NATIONAL,
    CalendarFileError,
    Source,
    YearSchedule,
    parse_csv_text,
    parse_text,
)
from gateway.holidays.workdays import EXACT, WorkCalendar
from gateway.security.wiring import pii_cipher
from gateway.store import Store, open_store

STATUS_ZH = {
    "exact": "正式（已公布通知）",
    "provisional": "暂定（通知未公布）",
    "missing": "缺失（按周一至周五计）",
}
WEEKDAYS_ZH = "一二三四五六日"


@click.group("calendar")
def calendar_group() -> None:
    """The working-day calendar: holidays and 调休 per year, as data."""


def _load(settings: Settings) -> list[YearSchedule]:
    try:
        return read_all(settings.calendar.location, settings.calendar_imported_directory)
    except CalendarError as exc:
        raise click.ClickException(str(exc)) from exc


@calendar_group.command("show")
@config_option
@click.argument("year", type=click.IntRange(1950, 2199))
@click.option("--region", help="Also show this region's extra local days off.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def show_command(config: Path | None, year: int, region: str | None, as_json: bool) -> None:
    """Show YEAR: its status, its source, its days off and 调休 working days."""
    schedules = _load(settings_or_fail(config))
    calendar = WorkCalendar(schedules)
    chosen = [s for s in schedules if s.year == year and s.region in (NATIONAL, region or NATIONAL)]
    status = calendar.status(year, region)
    if as_json:
        document: dict[str, Any] = {"year": year, "region": region, "status": status}
        document["schedules"] = [_as_dict(s) for s in chosen]
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
        return
    click.echo(f"{year}年  {STATUS_ZH[status]}")
    if not chosen:
        click.echo("  没有该年度的节假日文件：期限按周一至周五计算，并标为非正式。")
    for schedule in chosen:
        click.echo("")
        click.echo(f"[{'全国' if schedule.national else schedule.region}]  {schedule.path}")
        if schedule.basis:
            click.echo(f"  依据：{schedule.basis}")
        for source in schedule.sources:
            click.echo(f"  来源：{_source_line(source)}")
        click.echo("  放假（原本为工作日的日子）：")
        for entry in schedule.days_off:
            click.echo(f"    {entry.day}  周{WEEKDAYS_ZH[entry.day.weekday()]}  {entry.name}")
        if schedule.national:
            click.echo("  调休上班（周末）：")
            for entry in schedule.working_days or ():
                click.echo(f"    {entry.day}  周{WEEKDAYS_ZH[entry.day.weekday()]}  {entry.name}")
            if not schedule.working_days:
                click.echo("    （无）")


@calendar_group.command("check")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def check_command(config: Path | None, as_json: bool) -> None:
    """Validate every calendar file; list the years that are exact, provisional or missing."""
    schedules = _load(settings_or_fail(config))
    calendar = WorkCalendar(schedules)
    this_year = datetime.now(UTC).year
    statuses = calendar.year_statuses(around=this_year)
    if as_json:
        document = {
            "files": len(schedules),
            "years": {str(y): s for y, s in statuses.items()},
            "regions_with_local_days": calendar.regions(),
        }
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
        return
    click.echo(f"{len(schedules)} 个日历文件均有效。")
    for year, status in statuses.items():
        click.echo(f"  {year}  {STATUS_ZH[status]}")
    for region in calendar.regions():
        years = ", ".join(str(y) for y in sorted(calendar.regional[region]))
        click.echo(f"  地方额外休息日：{region}（{years}）")
    if statuses.get(this_year + 1) != EXACT:
        click.echo(
            f"注意：{this_year + 1}年的节假日安排尚未导入正式通知；依赖它的期限标为暂定。"
            "通知公布后请用 `tongban calendar import` 导入。",
            err=True,
        )


@calendar_group.command("import")
@config_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--region", help="CSV: the region whose extra days off these are.")
@click.option("--title", help="CSV: the notice's title.")
@click.option("--number", help="CSV: the notice's document number (国办发明电〔…〕…号).")
@click.option("--notice-date", type=click.DateTime(["%Y-%m-%d"]), help="CSV: the notice's date.")
@click.option("--url", help="CSV: where the notice's text was read.")
@click.option(
    "--unverified",
    multiple=True,
    type=click.Choice(["title", "number", "date", "url"]),
    help="CSV: a field that could not be confirmed (repeatable).",
)
def import_command(
    config: Path | None,
    file: Path,
    region: str | None,
    title: str | None,
    number: str | None,
    notice_date: datetime | None,
    url: str | None,
    unverified: tuple[str, ...],
) -> None:
    """Load one year's schedule from FILE (TOML, or CSV date,kind,name) and recompute.

    The open cases whose due dates depend on that year are recomputed; each
    change is audited and shown in the case's history.
    """
    settings = settings_or_fail(config)
    schedule = _parse(file, region, title, number, notice_date, url, unverified)
    current = _load(settings)
    merged = [s for s in current if (s.region, s.year) != (schedule.region, schedule.year)]
    merged.append(schedule)
    calendar = WorkCalendar(merged)
    directory = settings.calendar_imported_directory
    directory.mkdir(parents=True, exist_ok=True)
    target = target_path(directory, schedule)
    header = [f"Imported {date.today().isoformat()} from {file.name} by `tongban calendar import`."]
    text = render(schedule, header)
    parse_text(text, str(target), name=target.name)  # what we write reads back the same way
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".import-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        result = _recompute(settings, calendar, schedule.year)
        os.replace(temporary, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    place = "全国" if schedule.national else schedule.region
    click.echo(f"已导入 {schedule.year}年（{place}）：{STATUS_ZH[schedule.status]} → {target}")
    if result is None:
        click.echo("尚无数据库：没有需要重新计算的办件。")
        return
    click.echo(
        f"重新计算了 {len(result.changed)} 件在办办件的期限"
        f"（其中 {result.moved} 件办结期限改变；共检查 {result.examined} 件），"
        "每项变更已写入办件历史和审计日志。"
    )


def _parse(
    file: Path,
    region: str | None,
    title: str | None,
    number: str | None,
    notice_date: datetime | None,
    url: str | None,
    unverified: tuple[str, ...],
) -> YearSchedule:
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{file}: cannot read: {exc}") from exc
    try:
        if file.suffix.lower() == ".csv":
            meta: dict[str, Any] = {"region": region or NATIONAL}
            if title:
                source: dict[str, Any] = {
                    "kind": "notice" if region is None else "local_notice",
                    "title": title,
                    "unverified": list(unverified),
                }
                for key, value in (("number", number), ("url", url)):
                    if value:
                        source[key] = value
                if notice_date is not None:
                    source["date"] = notice_date.date()
                meta["sources"] = [source]
            return parse_csv_text(text, str(file), meta)
        if file.suffix.lower() != ".toml":
            raise click.ClickException(f"{file}: give a .toml or .csv file")
        return parse_text(text, str(file))
    except CalendarFileError as exc:
        lines = "\n".join(f"  {p}" for p in exc.problems)
        raise click.ClickException(f"calendar file refused, nothing changed:\n{lines}") from exc


def _recompute(settings: Settings, calendar: WorkCalendar, year: int) -> RecomputeResult | None:
    url = settings.store_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        deadlines.use(calendar)
        return None
    actor = f"ops:{getpass.getuser()}"

    async def run() -> RecomputeResult:
        store = await open_store(settings)
        try:
            deadlines.use(calendar)
            return await recompute_open_cases(
                store, _journal(settings, store), years=[year], actor=actor
            )
        finally:
            await store.aclose()

    try:
        return asyncio.run(run())
    except TongbanError as exc:
        raise click.ClickException(f"{exc}\n(nothing imported)") from exc


def _journal(settings: Settings, store: Store) -> Journal:
    cipher = pii_cipher(settings)
    return Journal(AuditLog(store.backend), cipher)  # no transition, so no partner notice


def _source_line(source: Source) -> str:
    parts = [source.title]
    detail = "，".join(str(p) for p in (source.number, source.date) if p)
    if detail:
        parts.append(f"（{detail}）")
    if source.url:
        parts.append(f" {source.url}" + ("（转载）" if source.url_kind == "reprint" else ""))
    if source.unverified:
        parts.append(f" [未核实：{', '.join(source.unverified)}]")
    return "".join(parts)


def _as_dict(schedule: YearSchedule) -> dict[str, Any]:
    return {
        "region": schedule.region,
        "file": schedule.path,
        "provisional": schedule.provisional,
        "basis": schedule.basis,
        "sources": [s.as_dict() for s in schedule.sources],
        "days_off": [{"date": e.day.isoformat(), "name": e.name} for e in schedule.days_off],
        "working_days": [
            {"date": e.day.isoformat(), "name": e.name} for e in schedule.working_days
        ],
    }
