"""Loading a year's notice: open cases' due dates move, audited, and stop being provisional.

Over real HTTP and the real `tongban calendar import` command on the same SQLite
database. The 2027 file imported here is TEST DATA, not the State Council's notice.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from click.testing import CliRunner, Result
from support.at_rest import TEST_PASSPHRASE
from support.examples import example
from support.partner_signing import SignedClient
from support.region_events import region_says

from gateway.app import STORE, create_app
from gateway.app_keys import APPLICATIONS
from gateway.bench.loadgen import resident_id
from gateway.cli import main
from gateway.config import Settings
from gateway.envelope import Status
from gateway.errors import CalendarError
from gateway.holidays import recompute, runtime
from gateway.holidays.recompute import recompute_open_cases

CALENDAR_DIR = Path(__file__).resolve().parents[2] / "catalogs" / "calendar"

# TEST DATA. A made-up 2027 schedule: New Year's Day off and Saturday 9 January worked.
TEST_2027 = """\
year = 2027
provisional = false

days_off = [
  { date = 2027-01-01, name = "元旦" },
]

working_days = [
  { date = 2027-01-09, name = "测试调休上班" },
]

[[sources]]
kind = "notice"
title = "测试数据：并非国务院办公厅的通知"
unverified = ["number", "date", "url"]
"""


async def accepted_case(client: SignedClient, on: datetime, applicant: int = 0) -> str:
    body = example("proxy_person")
    if applicant:  # another person: not a business duplicate of the first
        body["applicant"]["id_number"] = resident_id(applicant)
    response = await client.post("/v1/applications", json=body)
    assert response.status == 202, await response.text()
    case_id = str((await response.json())["id"])
    await region_says(client, case_id, Status.ACCEPTED, f"accept-{case_id}", occurred_at=on)
    return case_id


async def case(client: SignedClient, case_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/applications/{case_id}")
    assert response.status == 200
    view: dict[str, Any] = await response.json()
    return view


def config_file(tmp_path: Path, settings: Settings) -> Path:
    path = tmp_path / "tongban.toml"
    path.write_text(
        f'data_dir = "{settings.data_dir}"\n\n'
        f'[calendar]\ndirectory = "{settings.calendar.directory}"\n\n'
        # The import writes audited history, so it opens the PII ring kept at rest.
        f'[security]\nkey_passphrase = "{TEST_PASSPHRASE}"\n',
        encoding="utf-8",
    )
    return path


async def import_notice(tmp_path: Path, settings: Settings, text: str) -> Result:
    """``tongban calendar import`` of `text` written to ``notice-2027.toml`` in `tmp_path`."""
    notice = tmp_path / "notice-2027.toml"
    notice.write_text(text, encoding="utf-8")
    args = ["calendar", "import", str(notice), "--config", str(config_file(tmp_path, settings))]
    return await asyncio.to_thread(CliRunner().invoke, main, args)


async def test_importing_2027_moves_the_due_date_audits_it_and_clears_provisional(
    applications_client: SignedClient, applications_settings: Settings, tmp_path: Path
) -> None:
    # Taken (accepted) on Monday 28 December 2026, Beijing time; 20 working days.
    case_id = await accepted_case(applications_client, datetime(2026, 12, 28, 2, tzinfo=UTC))
    before = await case(applications_client, case_id)
    assert before["due"]["accepted_on"] == "2026-12-28"
    assert before["due"]["legal"] == "2027-01-26"  # 1 January skipped (Mon-Fri: the 25th)
    assert before["due"]["promised"] == "2027-01-05"
    assert (before["due"]["calendar_basis"], before["due"]["calendar_exact"]) == (
        "provisional",
        False,
    )

    result = await import_notice(tmp_path, applications_settings, TEST_2027)
    assert result.exit_code == 0, result.output
    assert re.search(r"重新计算了 1 件在办办件的期限（其中 1 件办结期限改变", result.output)

    after = await case(applications_client, case_id)
    assert after["due"]["legal"] == "2027-01-25"  # the working Saturday counts
    assert after["due"]["promised"] == "2027-01-05"
    assert (after["due"]["calendar_basis"], after["due"]["calendar_exact"]) == ("exact", True)
    event = after["history"][-1]
    assert event["kind"] == "due_dates_recomputed"
    assert event["actor"].startswith("ops:")
    assert event["detail"] == {
        "previous_legal_due": "2027-01-26",
        "legal_due": "2027-01-25",
        "previous_promised_due": "2027-01-05",
        "promised_due": "2027-01-05",
        "previous_calendar_basis": "provisional",
        "calendar_basis": "exact",
    }
    async with applications_client.app[STORE].transaction() as conn:
        audited = await conn.fetch_all(
            "SELECT data FROM audit_entries WHERE application_id = :id "
            "AND kind = 'application.due_dates_recomputed'",
            {"id": case_id},
        )
    (entry,) = audited
    data = json.loads(entry["data"])
    assert (data["previous_legal_due"], data["legal_due"]) == ("2027-01-26", "2027-01-25")
    imported = applications_settings.calendar_imported_directory / "CN-2027.toml"
    assert imported.is_file()

    # The running gateway sees the file, installs it, and records nothing twice.
    app = applications_client.app
    changed = await runtime.reload(app, app[APPLICATIONS].journal)
    assert changed == [2027]
    again = await case(applications_client, case_id)
    assert len(again["history"]) == len(after["history"])
    ready = await (await applications_client.get("/readyz")).json()
    assert 2027 in ready["checks"]["calendar"]["exact"]
    assert ready["checks"]["calendar"]["provisional"] == []


async def test_a_malformed_import_is_refused_with_file_and_line_and_changes_nothing(
    applications_client: SignedClient, applications_settings: Settings, tmp_path: Path
) -> None:
    case_id = await accepted_case(applications_client, datetime(2026, 12, 28, 2, tzinfo=UTC))
    broken = TEST_2027.replace("2027-01-09", "2027-01-11")
    result = await import_notice(tmp_path, applications_settings, broken)
    notice = tmp_path / "notice-2027.toml"
    assert result.exit_code == 1
    assert f"{notice}:9: working day 2027-01-11 is a Monday" in result.output
    assert not (applications_settings.calendar_imported_directory / "CN-2027.toml").exists()
    view = await case(applications_client, case_id)
    assert view["due"]["calendar_basis"] == "provisional"
    assert view["history"][-1]["kind"] == "transition"


async def test_readiness_and_metrics_say_which_years_are_exact_provisional_or_missing(
    applications_client: SignedClient,
) -> None:
    ready = await (await applications_client.get("/readyz")).json()
    calendar = ready["checks"]["calendar"]
    assert calendar["ok"] is True
    assert calendar["exact"] == list(range(2019, 2027))
    assert calendar["provisional"] == [2027]
    text = await (await applications_client.get("/metrics")).text()
    assert 'tongban_calendar_year_status{status="provisional",year="2027"} 1.0' in text
    assert 'tongban_calendar_year_status{status="exact",year="2027"} 0.0' in text
    assert 'tongban_calendar_year_status{status="exact",year="2026"} 1.0' in text


async def test_due_dates_counted_monday_to_friday_before_the_upgrade_are_recomputed(
    applications_client: SignedClient,
) -> None:
    case_id = await accepted_case(applications_client, datetime(2026, 12, 28, 2, tzinfo=UTC))
    store, journal = applications_client.app[STORE], applications_client.app[APPLICATIONS].journal
    # What migration 0009 leaves for a case chinesecalendar 1.11 counted Monday to Friday.
    async with store.transaction() as conn:
        await conn.execute(
            "UPDATE applications SET legal_due = '2027-01-25', calendar_basis = 'missing' "
            "WHERE id = :id",
            {"id": case_id},
        )
    result = await recompute_open_cases(store, journal, years=[], actor="system:calendar")
    assert (result.changed, result.moved) == ([case_id], 1)
    view = await case(applications_client, case_id)
    assert (view["due"]["legal"], view["due"]["calendar_basis"]) == ("2027-01-26", "provisional")
    assert view["history"][-1]["actor"] == "system:calendar"
    assert view["history"][-1]["detail"]["previous_calendar_basis"] == "missing"
    again = await recompute_open_cases(store, journal, years=[2027], actor="system:calendar")
    assert (again.examined, again.changed) == (1, [])


async def test_recompute_reads_the_open_cases_a_page_at_a_time_and_finds_them_all(
    applications_client: SignedClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five stale cases, read two at a time: every one is recomputed, once, as the
    whole list was before paging (start-up memory must not grow with the store)."""
    monkeypatch.setattr(recompute, "PAGE", 2)
    on = datetime(2026, 12, 28, 2, tzinfo=UTC)
    case_ids = [await accepted_case(applications_client, on, n) for n in range(1, 6)]
    store, journal = applications_client.app[STORE], applications_client.app[APPLICATIONS].journal
    async with store.transaction() as conn:
        await conn.execute(
            "UPDATE applications SET legal_due = '2027-01-25', calendar_basis = 'missing'"
        )
    result = await recompute_open_cases(store, journal, years=[], actor="system:calendar")
    assert (result.examined, sorted(result.changed), result.moved) == (5, sorted(case_ids), 5)
    for case_id in case_ids:
        view = await case(applications_client, case_id)
        assert (view["due"]["legal"], view["due"]["calendar_basis"]) == (
            "2027-01-26",
            "provisional",
        )
    again = await recompute_open_cases(store, journal, years=[2027], actor="system:calendar")
    assert (again.examined, again.changed) == (5, [])


async def test_a_region_file_for_no_catalogue_region_fails_start_up(
    catalogue_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    directory = tmp_path / "calendar"
    directory.mkdir()
    for source in CALENDAR_DIR.glob("CN-*.toml"):
        (directory / source.name).write_bytes(source.read_bytes())
    (directory / "atlantis-2027.toml").write_text(
        'year = 2027\nregion = "atlantis"\ndays_off = []\n\n[[sources]]\n'
        'kind = "local_notice"\ntitle = "测试数据"\nunverified = ["number", "date", "url"]\n',
        encoding="utf-8",
    )
    runner = web.AppRunner(create_app(catalogue_settings(calendar={"directory": str(directory)})))
    try:
        with pytest.raises(CalendarError, match=r"atlantis-2027.toml:1: unknown region 'atlantis'"):
            await runner.setup()
    finally:
        await runner.cleanup()
