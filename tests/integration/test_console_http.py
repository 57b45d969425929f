"""The console over HTTP: sign-in, CSRF, sessions, submission through intake, escaping."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer
from support.console import (
    PASSWORD,
    add_account,
    csrf_of,
    hukou_form,
    open_form,
    sign_in,
)

from gateway.app import create_app
from gateway.app_keys import STORE
from gateway.config import Settings, load_settings
from gateway.security.keys import KeyStore
from gateway.security.receipts import verify_receipt
from gateway.staff import accounts
from gateway.staff.accounts import Role

REPO = Path(__file__).resolve().parents[2]
TEST_CATALOGUE = REPO / "tests" / "data" / "applications_catalogue"

Client = TestClient[Any, Any]


PASSPHRASE = "console test passphrase"  # noqa: S105 - a throwaway key ring in tmp_path


def console_settings(tmp_path: Path, catalogue: Path = TEST_CATALOGUE) -> Settings:
    """The test catalogue, and an unlocked key ring so receipts are signed."""
    settings = load_settings(
        environ={},
        overrides={
            "data_dir": str(tmp_path / "var"),
            "catalog": {"directory": str(catalogue)},
            "applications": {"duplicate_window_minutes": 0},
            "security": {"key_passphrase": PASSPHRASE},
        },
    )
    KeyStore(settings.data_dir / "keys", PASSPHRASE).generate()
    return settings


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[Client]:
    """The gateway with the test catalogue and a clerk (staff) and an ops account."""
    app = create_app(console_settings(tmp_path))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        await add_account(app[STORE], "clerk")
        await add_account(app[STORE], "opsuser", Role.OPS)
        yield client


async def count(client: Client, table: str) -> int:
    async with client.app[STORE].transaction() as conn:
        row = await conn.fetch_one(f"SELECT COUNT(*) AS n FROM {table}")  # noqa: S608 - test table names
    assert row is not None
    return int(row["n"])


async def test_pages_need_a_session(console: Client) -> None:
    response = await console.get("/console/search?q=x", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"].startswith("/console/login?next=")


async def test_sign_in_sets_a_strict_http_only_cookie(console: Client) -> None:
    page = await console.get("/console/login")
    token = csrf_of(await page.text())
    response = await console.post(
        "/console/login",
        data={"csrf_token": token, "account": "clerk", "password": PASSWORD},
        allow_redirects=False,
    )
    assert response.status == 303
    cookie = response.headers["Set-Cookie"]
    assert "tongban_console=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Path=/console/" in cookie
    assert "Secure" not in cookie  # plain HTTP on loopback; Secure is set over TLS
    assert await count(console, "staff_sessions") == 1


async def test_sign_in_without_its_csrf_token_is_refused(console: Client) -> None:
    await console.get("/console/login")
    response = await console.post(
        "/console/login", data={"account": "clerk", "password": PASSWORD}, allow_redirects=False
    )
    assert response.status == 403
    assert await count(console, "staff_sessions") == 0


async def test_submission_without_or_with_a_wrong_csrf_token_changes_nothing(
    console: Client, tmp_path: Path
) -> None:
    await sign_in(console, "clerk")
    tokens = await open_form(console, "TEST-SZ-HUKOU")
    for csrf in (None, "wrong-token"):
        response = await console.post(
            "/console/items/TEST-SZ-HUKOU/apply", data=hukou_form(tokens, csrf=csrf)
        )
        assert response.status == 403
        assert "安全校验未通过" in await response.text()
    assert await count(console, "applications") == 0
    assert await count(console, "attachments") == 0
    assert not (tmp_path / "var" / "attachments").exists()  # no file stored either


async def test_sign_out_with_a_wrong_csrf_token_keeps_the_session(console: Client) -> None:
    await sign_in(console, "clerk")
    response = await console.post("/console/logout", data={"csrf_token": "forged"})
    assert response.status == 403
    assert (await console.get("/console/search")).status == 200


async def test_an_idle_session_ends_and_the_login_page_says_why(console: Client) -> None:
    await sign_in(console, "clerk")
    long_ago = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    async with console.app[STORE].transaction() as conn:
        await conn.execute("UPDATE staff_sessions SET last_seen_at = :t", {"t": long_ago})
    response = await console.get("/console/search", allow_redirects=False)
    assert response.status == 303
    assert "expired=1" in response.headers["Location"]
    login = await console.get(response.headers["Location"])
    assert "长时间未操作，已自动退出" in await login.text()
    assert await count(console, "staff_sessions") == 0


async def test_status_polling_does_not_keep_an_idle_session_alive(console: Client) -> None:
    await sign_in(console, "clerk")
    tokens = await open_form(console, "TEST-SZ-HUKOU")
    response = await console.post(
        "/console/items/TEST-SZ-HUKOU/apply", data=hukou_form(tokens), allow_redirects=False
    )
    application_id = response.headers["Location"].split("/")[3]
    quiet_since = (datetime.now(UTC) - timedelta(minutes=20)).isoformat()
    async with console.app[STORE].transaction() as conn:
        await conn.execute("UPDATE staff_sessions SET last_seen_at = :t", {"t": quiet_since})
    status = await console.get(f"/console/cases/{application_id}/status.json")
    assert status.status == 200
    assert (await status.json())["status_zh"] == "收件"
    async with console.app[STORE].transaction() as conn:
        row = await conn.fetch_one("SELECT last_seen_at FROM staff_sessions")
    assert row == {"last_seen_at": quiet_since}


async def test_a_disabled_account_s_session_stops_working(console: Client) -> None:
    await sign_in(console, "clerk")
    assert (await console.get("/console/search")).status == 200
    await accounts.disable(console.app[STORE], "clerk", now=datetime.now(UTC))
    response = await console.get("/console/search", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"].startswith("/console/login")


async def test_five_wrong_passwords_lock_the_account_even_for_the_right_one(
    console: Client,
) -> None:
    for _ in range(5):
        page = await console.get("/console/login")
        response = await console.post(
            "/console/login",
            data={"csrf_token": csrf_of(await page.text()), "account": "clerk", "password": "x"},
        )
        text = await response.text()
    assert response.status == 403
    assert "密码连续输错 5 次，账号已锁定" in text
    page = await console.get("/console/login")
    response = await console.post(
        "/console/login",
        data={"csrf_token": csrf_of(await page.text()), "account": "clerk", "password": PASSWORD},
    )
    assert response.status == 403
    assert "账号已锁定" in await response.text()
    await accounts.set_password(console.app[STORE], "clerk", PASSWORD, now=datetime.now(UTC))
    await sign_in(console, "clerk")


async def test_a_form_posted_twice_makes_one_application_with_a_verifiable_receipt(
    console: Client,
) -> None:
    await sign_in(console, "clerk")
    tokens = await open_form(console, "TEST-SZ-HUKOU")
    locations = []
    for _ in range(2):  # a double click, or a reload of the POST
        response = await console.post(
            "/console/items/TEST-SZ-HUKOU/apply", data=hukou_form(tokens), allow_redirects=False
        )
        assert response.status == 303, await response.text()
        locations.append(response.headers["Location"])
    assert locations[0] == locations[1]
    assert await count(console, "applications") == 1
    application_id = locations[0].split("/")[3]
    async with console.app[STORE].transaction() as conn:
        row = await conn.fetch_one("SELECT * FROM applications")
        audit = await conn.fetch_all(
            "SELECT actor FROM audit_entries WHERE kind = 'application.received'"
        )
    assert row is not None
    assert row["submitted_by"] == "staff:clerk"
    assert row["receiving_region"] == "dongguan"
    assert json.loads(row["deferred_materials"]) == ["photo"]
    assert json.loads(row["attestation"])["staff_id"] == "clerk"
    assert [entry["actor"] for entry in audit] == ["staff:clerk"]
    page = await console.get(locations[0])
    html = await page.text()
    assert application_id in html
    assert "容缺材料" in html
    assert "<svg" in html
    receipt = await (await console.get(f"/console/cases/{application_id}/receipt.json")).json()
    jwks = await (await console.get("/.well-known/tongban/keys")).json()
    verified = verify_receipt(receipt, jwks)
    assert verified["receipt_no"] == application_id
    assert verified["deferred_materials"][0]["material_id"] == "photo"


async def test_field_errors_come_back_next_to_their_fields_with_input_kept(
    console: Client,
) -> None:
    await sign_in(console, "clerk")
    tokens = await open_form(console, "TEST-SZ-HUKOU")
    response = await console.post(
        "/console/items/TEST-SZ-HUKOU/apply",
        data=hukou_form(tokens, applicant_id_number="110105194912310021", phone="123"),
    )
    html = await response.text()
    assert response.status == 422
    assert "<title>错误：" in html
    assert "提交未成功，请修改以下 2 处" in html
    assert 'id="applicant_id_number-error"' in html
    assert "居民身份证号码校验位不正确，请核对是否抄错" in html
    assert 'id="phone-error"' in html
    assert 'value="王小明"' in html  # what was typed is kept
    assert "已上传：id_card.pdf" in html  # and the uploaded file too
    assert await count(console, "applications") == 0


async def test_an_ops_account_cannot_take_applications_or_see_personal_data(
    console: Client,
) -> None:
    await sign_in(console, "opsuser")
    response = await console.get("/console/items/TEST-SZ-HUKOU/apply")
    assert response.status == 403
    assert "无权进行此操作" in await response.text()


async def test_personal_data_in_full_only_on_request_and_each_view_is_audited(
    console: Client,
) -> None:
    csrf = await sign_in(console, "clerk")
    tokens = await open_form(console, "TEST-SZ-HUKOU")
    response = await console.post(
        "/console/items/TEST-SZ-HUKOU/apply", data=hukou_form(tokens), allow_redirects=False
    )
    application_id = response.headers["Location"].split("/")[3]
    listing = await (await console.get("/console/cases")).text()
    assert "王*" in listing
    assert "王小明" not in listing
    case = await (await console.get(f"/console/cases/{application_id}")).text()
    assert "11010519491231002X" not in case
    full = await console.post(
        f"/console/cases/{application_id}/personal", data={"csrf_token": csrf}
    )
    assert "11010519491231002X" in await full.text()
    async with console.app[STORE].transaction() as conn:
        views = await conn.fetch_all(
            "SELECT actor, application_id FROM audit_entries "
            "WHERE kind = 'application.personal_data_viewed'"
        )
    assert views == [{"actor": "staff:clerk", "application_id": application_id}]


async def test_script_in_an_applicant_or_item_name_is_shown_as_text(tmp_path: Path) -> None:
    catalogue = tmp_path / "catalogue"
    shutil.copytree(TEST_CATALOGUE, catalogue)
    path = catalogue / "shenzhen.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    data["items"][0]["task_name"] = "户口<script>alert(1)</script>迁移"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    app = create_app(console_settings(tmp_path, catalogue))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        await add_account(app[STORE], "clerk")
        csrf = await sign_in(client, "clerk")
        search = await (await client.get("/console/search?q=TEST-SZ-HUKOU")).text()
        item = await (await client.get("/console/items/TEST-SZ-HUKOU")).text()
        tokens = await open_form(client, "TEST-SZ-HUKOU")
        name = "<script>alert(2)</script>"
        response = await client.post(
            "/console/items/TEST-SZ-HUKOU/apply",
            data=hukou_form(tokens, applicant_name=name),
            allow_redirects=False,
        )
        application_id = response.headers["Location"].split("/")[3]
        full = await client.post(
            f"/console/cases/{application_id}/personal", data={"csrf_token": csrf}
        )
        case = await full.text()
    for page in (search, item, case):
        assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in item
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in case
