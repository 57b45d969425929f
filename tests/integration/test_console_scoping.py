"""Who opens which case, over HTTP: a centre's clerk and supervisor their centre's cases
only (another centre's case is the unknown-id 404), ops and admin any case but masked;
each role's menu holds exactly the pages it may use; a purged case says it was purged."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from support.console import add_account, sign_in
from test_console_casework import region_moves, take_case
from test_console_http import console_settings

from gateway.app import create_app
from gateway.app_keys import APPLICATIONS, AUDIT, STORE
from gateway.applications import clocks
from gateway.console import text
from gateway.envelope import Status
from gateway.retention.purge import purge_due
from gateway.staff.accounts import Role

Client = TestClient[Any, Any]

UNKNOWN_ID = "0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee"
NAV = re.compile(r'<nav aria-label="主导航">(.*?)</nav>', re.S)
LINK = re.compile(r'href="([^"]+)"')
EVERY_MENU_PAGE = (
    "/console/search",
    "/console/cases",
    "/console/supervisor",
    "/console/ops",
    "/console/admin/accounts",
)


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[Client]:
    """The gateway (test catalogue): a Dongguan centre with each role, and a
    Zhangjiagang centre with each role too."""
    app = create_app(console_settings(tmp_path))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        for role in Role:
            await add_account(app[STORE], f"dg-{role.value}", role)
            await add_account(app[STORE], f"zjg-{role.value}", role, region="zhangjiagang")
        yield client


async def as_account(client: Client, account: str) -> str:
    client.session.cookie_jar.clear()
    return await sign_in(client, account)


async def dongguan_case(client: Client) -> str:
    """A case the Dongguan clerk takes (a Shenzhen item: Shenzhen decides it)."""
    await as_account(client, "dg-staff")
    return await take_case(client)


async def case_state(client: Client, case: str) -> dict[str, Any]:
    async with client.app[STORE].transaction() as conn:
        row = await conn.fetch_one(
            "SELECT status, (SELECT COUNT(*) FROM postal_tracking t "
            "WHERE t.application_id = a.id) AS legs FROM applications a WHERE id = :id",
            {"id": case},
        )
    assert row is not None
    return dict(row)


@pytest.mark.parametrize("account", ["zjg-staff", "zjg-supervisor"])
async def test_another_centre_s_case_is_the_unknown_id_404_for_its_staff_and_supervisor(
    console: Client, account: str
) -> None:
    case = await dongguan_case(console)
    before = await case_state(console, case)
    csrf = await as_account(console, account)
    reads = ("", "/receipt", "/receipt.json", "/rate")
    for suffix in reads:
        theirs = await console.get(f"/console/cases/{case}{suffix}")
        unknown = await console.get(f"/console/cases/{UNKNOWN_ID}{suffix}")
        assert theirs.status == unknown.status == 404, suffix
        # The same page word for word: nothing tells a foreign case from no case.
        assert (await theirs.text()).replace(case, "ID") == (await unknown.text()).replace(
            UNKNOWN_ID, "ID"
        )
    assert "找不到编号为" in await (await console.get(f"/console/cases/{case}")).text()
    assert (await console.get(f"/console/cases/{case}/status.json")).status == 404
    posts = {
        "/personal": {},
        "/tracking": {"leg": "materials", "carrier": "EMS", "number": "EM123456789CN"},
        "/withdraw": {"reason": "不办了"},
        "/hand-over": {},
        "/rate": {"level": "1"},
    }
    close = f"/console/supervisor/followups/{case}/close"
    if account.endswith("supervisor"):
        posts[close] = {"note": "已回访"}
    for suffix, fields in posts.items():
        path = suffix if suffix.startswith("/console/") else f"/console/cases/{case}{suffix}"
        response = await console.post(path, data={"csrf_token": csrf, **fields})
        assert response.status == 404, suffix
    assert await case_state(console, case) == before
    listing = await (await console.get("/console/cases?region=dongguan")).text()
    assert f"/console/cases/{case}" not in listing


@pytest.mark.parametrize("account", ["dg-staff", "dg-supervisor"])
async def test_the_centre_s_own_staff_and_supervisor_open_its_case_and_may_ask_for_it_in_full(
    console: Client, account: str
) -> None:
    case = await dongguan_case(console)
    csrf = await as_account(console, account)
    page = await console.get(f"/console/cases/{case}")
    assert page.status == 200
    assert 'id="show-personal"' in await page.text()
    full = await console.post(f"/console/cases/{case}/personal", data={"csrf_token": csrf})
    assert "王小明" in await full.text()
    listing = await (await console.get("/console/cases?region=zhangjiagang")).text()
    assert f"/console/cases/{case}" in listing  # a supervisor's list is the centre's own too


@pytest.mark.parametrize("account", ["zjg-ops", "zjg-admin", "dg-ops", "dg-admin"])
async def test_ops_and_admin_open_any_centre_s_case_masked_and_take_no_action(
    console: Client, account: str
) -> None:
    case = await dongguan_case(console)
    csrf = await as_account(console, account)
    page = await console.get(f"/console/cases/{case}")
    html = await page.text()
    assert page.status == 200
    assert "王*" in html  # the masked applicant, as lists show it
    assert "王小明" not in html
    assert "11010519491231002X" not in html
    assert 'id="show-personal"' not in html
    assert 'id="tracking-form"' not in html
    full = await console.post(f"/console/cases/{case}/personal", data={"csrf_token": csrf})
    assert full.status == 403
    assert "王小明" not in await full.text()
    withdraw = await console.post(
        f"/console/cases/{case}/withdraw", data={"csrf_token": csrf, "reason": "x"}
    )
    assert withdraw.status == 403
    assert (await case_state(console, case))["status"] == "received"


MENUS = {
    "staff": ["/console/search", "/console/cases"],
    "supervisor": ["/console/search", "/console/cases", "/console/supervisor"],
    "ops": ["/console/cases", "/console/ops"],
    "admin": ["/console/cases", "/console/supervisor", "/console/ops", "/console/admin/accounts"],
}

HOMES = {
    "staff": "/console/search",
    "supervisor": "/console/search",
    "ops": "/console/ops",
    "admin": "/console/admin/accounts",
}


@pytest.mark.parametrize("role", list(MENUS))
async def test_each_role_s_menu_holds_exactly_the_pages_it_may_use(
    console: Client, role: str
) -> None:
    await as_account(console, f"dg-{role}")
    home = await console.get("/console/")
    nav = NAV.search(await home.text())
    assert nav is not None
    shown = LINK.findall(nav[1])
    assert shown == MENUS[role]
    assert home.url.path == HOMES[role]  # the console opens on a page the role may use
    for path in EVERY_MENU_PAGE:
        response = await console.get(path)
        assert response.status == (200 if path in shown else 403), (role, path)
        if path not in shown:
            continue
        page_nav = NAV.search(await response.text())
        assert page_nav is not None
        assert LINK.findall(page_nav[1]) == shown  # the same menu on every page
    if role in ("ops", "admin"):
        item = await console.get("/console/items/TEST-SZ-HUKOU")
        assert item.status == 403  # no way round the menu into intake


async def test_a_purged_case_says_so_with_the_date_instead_of_empty_fields(
    console: Client,
) -> None:
    case = await dongguan_case(console)
    csrf = await as_account(console, "dg-staff")
    await console.post(
        f"/console/cases/{case}/tracking",
        data={"csrf_token": csrf, "leg": "materials", "carrier": "EMS", "number": "EM123456789CN"},
    )
    await region_moves(console, case, Status.ACCEPTED, Status.DENIED)
    app = console.app
    async with app[STORE].transaction() as conn:
        await conn.execute(
            "UPDATE deliveries SET state = 'delivered' WHERE application_id = :id", {"id": case}
        )
    report = await purge_due(
        app[STORE],
        audit=app[AUDIT].log,
        cipher=app[APPLICATIONS].cipher,
        days=0,
        batch=10,
        dry_run=False,
    )
    assert report.cases == [case]
    async with app[STORE].transaction() as conn:
        row = await conn.fetch_one(
            "SELECT personal_purged_at FROM applications WHERE id = :id", {"id": case}
        )
    assert row is not None
    purged_at = datetime.fromisoformat(row["personal_purged_at"])
    notice = f"个人信息已按保存期限清除（{text.day(clocks.local_date(purged_at))}）"  # Beijing
    page = await (await console.get(f"/console/cases/{case}")).text()
    assert notice in page
    assert 'id="masked"' not in page
    assert 'id="show-personal"' not in page
    assert "EM123456789CN" not in page
    assert "（已清除）" in page  # the leg was posted; its number is gone
    full = await console.post(f"/console/cases/{case}/personal", data={"csrf_token": csrf})
    html = await full.text()
    assert full.status == 200
    assert notice in html
    assert "<dd>窗口领取</dd>" not in html  # not the purged record read as a delivery method
    async with app[STORE].transaction() as conn:
        views = await conn.fetch_all(
            "SELECT 1 AS v FROM audit_entries WHERE kind = 'application.personal_data_viewed'"
        )
    assert views == []  # nothing was shown, so no view is recorded
    listing = await (await console.get("/console/cases")).text()
    assert "个人信息已按保存期限清除" in listing
