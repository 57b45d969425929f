"""Garbage posted to every console route gets a 4xx (or a page), never a 5xx."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer
from support.console import add_account, hukou_form, open_form, sign_in
from test_console_http import console_settings

from gateway.app import create_app
from gateway.app_keys import STORE
from gateway.console import create_console
from gateway.staff.accounts import Role

Client = TestClient[Any, Any]

_PARAM = re.compile(r"\{(\w+)\}")
JUNK_IDS = ["x", "..%2F..%2Fetc%2Fpasswd", "%00", "' OR 1=1 --", "%3Cscript%3E", "9" * 3000]


def console_routes() -> list[tuple[str, str]]:
    """(method, path template) of every console route, static files left out."""
    found = []
    for route in create_console().router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("formatter") or info.get("path")
        if not path or route.method == "HEAD" or "static" in path:
            continue
        found.append((route.method, "/console" + path))
    return sorted(set(found))


def bodies(csrf: str) -> list[dict[str, Any]]:
    """Request bodies a careless or hostile client might send."""
    multipart = FormData()
    multipart.add_field("csrf_token", csrf)
    multipart.add_field(
        "file_photo", b"\x00\xff" * 100, filename="../../x.jpg", content_type="image/jpeg"
    )
    multipart.add_field("level", "9" * 500)
    return [
        {
            "data": {
                "csrf_token": csrf,
                "level": "0",
                "leg": "sky",
                "number": "<>",
                "note": "\x00",
                "reason": "x" * 20_000,
                "id": "Ⅸ",
                "role": "root",
                "password": "p" * 10_000,
                "carrier": "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
                "from": "2026-13-45",
                "comment": "𝕏" * 600,
            }
        },
        {
            "data": b"\xff\xfe\x00garbage",
            "headers": {"Content-Type": "application/x-www-form-urlencoded"},
        },
        {
            "data": b"--nope\r\n\r\n",
            "headers": {"Content-Type": "multipart/form-data; boundary=zz"},
        },
        {"data": b'{"csrf_token": 1}', "headers": {"Content-Type": "application/json"}},
        {"data": multipart},
        {"data": [("csrf_token", "forged"), ("csrf_token", csrf)]},  # the token twice
    ]


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[Client]:
    app = create_app(console_settings(tmp_path))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        for account, role in (
            ("clerk", Role.STAFF),
            ("boss", Role.SUPERVISOR),
            ("root", Role.ADMIN),
            ("opsuser", Role.OPS),
        ):
            await add_account(app[STORE], account, role)
        yield client


@pytest.mark.parametrize("account", ["clerk", "boss", "root", "opsuser"])
async def test_every_console_route_answers_garbage_without_a_server_error(
    console: Client, account: str
) -> None:
    await sign_in(console, "clerk")
    tokens = await open_form(console, "TEST-SZ-HUKOU")
    made = await console.post(
        "/console/items/TEST-SZ-HUKOU/apply", data=hukou_form(tokens), allow_redirects=False
    )
    case = made.headers["Location"].split("/")[3]
    console.session.cookie_jar.clear()
    csrf = await sign_in(console, account)
    routes = console_routes()
    assert len(routes) > 20
    failures = []
    for method, template in routes:
        if template.endswith("/logout"):
            continue  # would end the session the rest of the run needs
        for value in [case, "TEST-SZ-HUKOU", *JUNK_IDS]:
            path = _PARAM.sub(value, template)
            if method == "GET":
                for query in (
                    "",
                    "?q=%FF%FE&status=nope&region=mars&from=x&to=y&cursor=%00&next=//evil",
                ):
                    response = await console.get(path + query, allow_redirects=False)
                    if response.status >= 500:
                        failures.append((method, path + query, response.status))
                continue
            for body in bodies(csrf):
                response = await console.post(path, allow_redirects=False, **body)
                if response.status >= 500:
                    failures.append((method, path, response.status))
            if "{" not in template:
                break  # no parameter: one pass is enough
    assert failures == []
    # and the session is still good: nothing above broke it
    assert (await console.get("/console/cases")).status in (200, 403)
