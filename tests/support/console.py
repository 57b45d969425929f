"""Helpers the console tests share: accounts, signing in, reading tokens from pages."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import Page

from adapters.sandbox import SandboxCore
from gateway.applications import clocks
from gateway.staff import accounts
from gateway.staff.accounts import Account, Role
from gateway.store import Store

EXAMPLE_FILES = Path(__file__).resolve().parents[2] / "contracts" / "examples" / "attachments"
CENTRE = "松山湖政务服务中心"
PASSWORD = "correct-horse-9"  # noqa: S105 - test accounts in a throwaway store
VALID_ID = "11010519491231002X"

Shot = Callable[[Page, str], Awaitable[Path]]
"""Saves a screenshot of a page under a name; returns the file."""


@dataclass
class ConsoleWorld:
    """A running gateway (its base URL and server) and the sandboxes' cores by region."""

    url: str
    server: TestServer
    sandboxes: dict[str, SandboxCore] = field(default_factory=dict)


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')
_OPENED = re.compile(r'name="opened_at" value="([^"]+)"')


async def add_account(
    store: Store, account_id: str, role: Role = Role.STAFF, region: str = "dongguan"
) -> Account:
    return await accounts.add(
        store,
        account_id,
        password=PASSWORD,
        role=role,
        centre_region=region,
        centre_name=CENTRE,
        display_name=None,
        now=datetime.now(UTC),
    )


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found[1]


async def sign_in(client: TestClient[Any, Any], account_id: str, password: str = PASSWORD) -> str:
    """Sign in through the login form; returns the session's CSRF token."""
    page = await client.get("/console/login")
    token = csrf_of(await page.text())
    response = await client.post(
        "/console/login",
        data={"csrf_token": token, "account": account_id, "password": password, "next": ""},
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    home = await client.get("/console/")  # the role's own first page
    assert home.status == 200
    return csrf_of(await home.text())


async def open_form(client: TestClient[Any, Any], code: str) -> dict[str, str]:
    """The apply form's hidden tokens: csrf_token, idempotency_key, opened_at."""
    page = await client.get(f"/console/items/{code}/apply")
    assert page.status == 200, await page.text()
    html = await page.text()
    key, opened = _KEY.search(html), _OPENED.search(html)
    assert key
    assert opened
    return {"csrf_token": csrf_of(html), "idempotency_key": key[1], "opened_at": opened[1]}


def hukou_form(tokens: dict[str, str], *, csrf: str | None = "same", **fields: str) -> FormData:
    """A filled form for TEST-SZ-HUKOU (test catalogue), photo deferred (容缺)."""
    form = FormData()
    if csrf is not None:
        form.add_field("csrf_token", tokens["csrf_token"] if csrf == "same" else csrf)
    values = {
        "idempotency_key": tokens["idempotency_key"],
        "opened_at": tokens["opened_at"],
        "handling_mode": "proxy",
        "applicant_kind": "person",
        "applicant_name": "王小明",
        "applicant_id_type": "resident_id",
        "applicant_id_number": VALID_ID,
        "phone": "13812345678",
        "form_reason": "工作",
        "attest_id_card": "on",
        "deferred_photo": "on",
        "promised_photo": clocks.local_date(clocks.now_utc()).isoformat(),
        "delivery_method": "window_pickup",
        **fields,
    }
    for name, value in values.items():
        form.add_field(name, value)
    form.add_field(
        "file_id_card",
        (EXAMPLE_FILES / "id_card.pdf").read_bytes(),
        filename="id_card.pdf",
        content_type="application/pdf",
    )
    return form
