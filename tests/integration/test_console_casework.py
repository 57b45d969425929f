"""The console after intake, over HTTP: post and hand-over, supplements, withdrawal, the
rating pad and its follow-up, the supervisor's and ops' pages, accounts, role checks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer
from support.console import EXAMPLE_FILES, add_account, hukou_form, open_form, sign_in
from test_console_http import console_settings, count

from gateway.app import create_app
from gateway.app_keys import APPLICATIONS, STORE
from gateway.applications import transitions
from gateway.applications.transitions import Origin
from gateway.envelope import Status
from gateway.staff.accounts import Role

Client = TestClient[Any, Any]


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[Client]:
    """The gateway (test catalogue) with a clerk, a supervisor, an ops user and an admin."""
    app = create_app(console_settings(tmp_path))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        await add_account(app[STORE], "clerk")
        await add_account(app[STORE], "boss", Role.SUPERVISOR)
        await add_account(app[STORE], "opsuser", Role.OPS)
        await add_account(app[STORE], "root", Role.ADMIN)
        yield client


async def take_case(client: Client, **fields: str) -> str:
    """Submit the test hukou form as the signed-in clerk; the new case's id."""
    tokens = await open_form(client, "TEST-SZ-HUKOU")
    response = await client.post(
        "/console/items/TEST-SZ-HUKOU/apply",
        data=hukou_form(tokens, **fields),
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    return str(response.headers["Location"].split("/")[3])


async def region_moves(client: Client, application_id: str, *targets: Status) -> None:
    """The competent region moves the case on, as its status events would."""
    deps = client.app[APPLICATIONS]
    for target in targets:
        async with deps.store.transaction() as conn:
            await transitions.transition(
                conn,
                application_id,
                target,
                journal=deps.journal,
                origin=Origin.REGION,
                actor="region:shenzhen",
            )


async def audit_actors(client: Client, kind: str) -> list[str]:
    async with client.app[STORE].transaction() as conn:
        rows = await conn.fetch_all(
            "SELECT actor FROM audit_entries WHERE kind = :kind ORDER BY seq", {"kind": kind}
        )
    return [row["actor"] for row in rows]


async def history_kinds(client: Client, application_id: str) -> list[str]:
    async with client.app[STORE].transaction() as conn:
        rows = await conn.fetch_all(
            "SELECT kind, actor FROM application_events WHERE application_id = :id ORDER BY id",
            {"id": application_id},
        )
    return [f"{row['kind']}:{row['actor']}" for row in rows]


async def status_of(client: Client, application_id: str) -> str:
    async with client.app[STORE].transaction() as conn:
        row = await conn.fetch_one(
            "SELECT status FROM applications WHERE id = :id", {"id": application_id}
        )
    assert row is not None
    return str(row["status"])


# --- post and hand-over ----------------------------------------------------------


async def test_a_tracking_number_is_recorded_in_the_history_and_audited(console: Client) -> None:
    csrf = await sign_in(console, "clerk")
    case = await take_case(console)
    response = await console.post(
        f"/console/cases/{case}/tracking",
        data={
            "csrf_token": csrf,
            "leg": "materials",
            "carrier": "EMS",
            "number": "ep 1234 5678 9cn",
        },
    )
    html = await response.text()
    assert response.status == 200, html
    assert "运单号已登记" in html
    assert "EP123456789CN" in html
    assert "tracking_recorded:staff:clerk" in await history_kinds(console, case)
    assert await audit_actors(console, "application.tracking_recorded") == ["staff:clerk"]
    again = await console.post(
        f"/console/cases/{case}/tracking",
        data={"csrf_token": csrf, "leg": "materials", "carrier": "EMS", "number": "EP123456789CN"},
    )
    assert again.status == 200
    assert await count(console, "postal_tracking") == 1  # the same number twice is one


async def test_a_bad_tracking_number_is_refused_next_to_its_form_and_kept(console: Client) -> None:
    csrf = await sign_in(console, "clerk")
    case = await take_case(console)
    response = await console.post(
        f"/console/cases/{case}/tracking",
        data={"csrf_token": csrf, "leg": "materials", "carrier": "顺丰", "number": "12-34"},
    )
    html = await response.text()
    assert response.status == 422
    assert "运单号应为 8 至 30 位字母或数字，请核对面单" in html
    assert 'value="12-34"' in html
    assert await count(console, "postal_tracking") == 0


async def test_the_result_leg_and_the_hand_over_wait_for_a_decision(console: Client) -> None:
    csrf = await sign_in(console, "clerk")
    case = await take_case(console)
    result_leg = await console.post(
        f"/console/cases/{case}/tracking",
        data={"csrf_token": csrf, "leg": "result", "carrier": "EMS", "number": "EP123456789CN"},
    )
    assert result_leg.status == 409
    assert "还没有结果可寄" in await result_leg.text()
    early = await console.post(f"/console/cases/{case}/hand-over", data={"csrf_token": csrf})
    assert early.status == 409
    assert "不能变为已送达" in await early.text()
    assert await status_of(console, case) == "received"


async def test_handing_over_an_approved_result_delivers_the_case(console: Client) -> None:
    csrf = await sign_in(console, "clerk")
    case = await take_case(console)
    await region_moves(console, case, Status.ACCEPTED, Status.APPROVED)
    page = await (await console.get(f"/console/cases/{case}")).text()
    assert 'id="hand-over"' in page
    response = await console.post(f"/console/cases/{case}/hand-over", data={"csrf_token": csrf})
    assert response.status == 200
    assert "已登记送达" in await response.text()
    assert await status_of(console, case) == "delivered"
    assert "transition:staff:clerk" in await history_kinds(console, case)
    twice = await console.post(f"/console/cases/{case}/hand-over", data={"csrf_token": csrf})
    assert twice.status == 409


# --- supplement and withdrawal ---------------------------------------------------


async def test_a_deferred_material_brought_later_is_supplemented_and_queued(
    console: Client,
) -> None:
    csrf = await sign_in(console, "clerk")
    case = await take_case(console)
    form = FormData()
    form.add_field("csrf_token", csrf)
    form.add_field("attest_photo", "on")
    form.add_field(
        "file_photo",
        (EXAMPLE_FILES / "photo.jpg").read_bytes(),
        filename="photo.jpg",
        content_type="image/jpeg",
    )
    response = await console.post(f"/console/cases/{case}/supplement", data=form)
    assert response.status == 200, await response.text()
    assert "补正材料已收下" in await response.text()
    async with console.app[STORE].transaction() as conn:
        row = await conn.fetch_one(
            "SELECT deferred_materials FROM applications WHERE id = :id", {"id": case}
        )
        kinds = await conn.fetch_all(
            "SELECT kind FROM deliveries WHERE application_id = :id ORDER BY created_at",
            {"id": case},
        )
    assert row is not None
    assert json.loads(row["deferred_materials"]) == []
    assert [k["kind"] for k in kinds] == ["submission", "supplement"]
    assert "supplement:staff:clerk" in await history_kinds(console, case)


async def test_a_supplement_without_its_csrf_token_stores_nothing(console: Client) -> None:
    await sign_in(console, "clerk")
    case = await take_case(console)
    before = await count(console, "attachments")
    form = FormData()
    form.add_field("csrf_token", "forged")
    form.add_field(
        "file_photo",
        (EXAMPLE_FILES / "photo.jpg").read_bytes(),
        filename="photo.jpg",
        content_type="image/jpeg",
    )
    response = await console.post(f"/console/cases/{case}/supplement", data=form)
    assert response.status == 403
    assert await count(console, "attachments") == before
    assert await count(console, "deliveries") == 1


async def test_withdrawal_on_the_applicant_s_request_needs_a_reason(console: Client) -> None:
    csrf = await sign_in(console, "clerk")
    case = await take_case(console)
    empty = await console.post(
        f"/console/cases/{case}/withdraw", data={"csrf_token": csrf, "reason": " "}
    )
    assert empty.status == 422
    assert "请填写申请人撤回的原因" in await empty.text()
    assert await status_of(console, case) == "received"
    done = await console.post(
        f"/console/cases/{case}/withdraw", data={"csrf_token": csrf, "reason": "申请人改日再办"}
    )
    assert done.status == 200
    assert await status_of(console, case) == "withdrawn"
    assert await audit_actors(console, "application.withdrawn") == ["staff:clerk"]


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("tracking", {"leg": "materials", "carrier": "EMS", "number": "EP123456789CN"}),
        ("hand-over", {}),
        ("withdraw", {"reason": "不办了"}),
        ("rate", {"level": "5"}),
    ],
)
async def test_case_actions_without_or_with_a_wrong_csrf_token_change_nothing(
    console: Client, path: str, fields: dict[str, str]
) -> None:
    await sign_in(console, "clerk")
    case = await take_case(console)
    await region_moves(console, case, Status.ACCEPTED, Status.APPROVED)
    events = len(await history_kinds(console, case))
    for csrf in ({}, {"csrf_token": "wrong"}):
        response = await console.post(f"/console/cases/{case}/{path}", data={**fields, **csrf})
        assert response.status == 403
        assert "安全校验未通过" in await response.text()
    assert await status_of(console, case) == "approved"
    assert len(await history_kinds(console, case)) == events
    assert await count(console, "postal_tracking") == 0
    assert await count(console, "ratings") == 0


# --- rating pad, follow-up, supervisor ---------------------------------------------


async def test_a_bad_rating_needs_a_reason_and_opens_a_follow_up_the_supervisor_closes(
    console: Client,
) -> None:
    csrf = await sign_in(console, "clerk")
    case = await take_case(console)
    await region_moves(console, case, Status.ACCEPTED, Status.APPROVED)
    pad = await (await console.get(f"/console/cases/{case}/rate")).text()
    assert 'aria-label="主导航"' not in pad  # the applicant sees no staff navigation
    for word in (
        "非常满意",
        "满意",
        "基本满意",
        "不满意",
        "非常不满意",
        "服务效率",
        "服务水平",
        "服务态度",
    ):
        assert word in pad
    no_reason = await console.post(
        f"/console/cases/{case}/rate", data={"csrf_token": csrf, "level": "2"}
    )
    assert no_reason.status == 422
    assert "请告诉我们原因" in await no_reason.text()
    assert await count(console, "ratings") == 0
    rated = await console.post(
        f"/console/cases/{case}/rate",
        data={
            "csrf_token": csrf,
            "level": "2",
            "service_attitude": "1",
            "comment": "等了很久没人理",
        },
    )
    assert rated.status == 200
    assert "感谢您的评价" in await rated.text()
    again = await console.post(
        f"/console/cases/{case}/rate", data={"csrf_token": csrf, "level": "5"}
    )
    assert "感谢您的评价" in await again.text()  # one rating per case: the first stands
    async with console.app[STORE].transaction() as conn:
        rating = await conn.fetch_one("SELECT level, setting, rated_by FROM ratings")
    assert rating == {"level": 2, "setting": "offline", "rated_by": "staff:clerk"}
    assert await audit_actors(console, "application.rated") == ["staff:clerk"]

    console.session.cookie_jar.clear()
    boss_csrf = await sign_in(console, "boss")
    queue = await (await console.get("/console/supervisor")).text()
    assert f'id="followup-{case}"' in queue
    assert "不满意" in queue
    empty = await console.post(
        f"/console/supervisor/followups/{case}/close", data={"csrf_token": boss_csrf, "note": ""}
    )
    assert empty.status == 422
    closed = await console.post(
        f"/console/supervisor/followups/{case}/close",
        data={"csrf_token": boss_csrf, "note": "已电话回访，调整午间窗口排班"},
    )
    html = await closed.text()
    assert closed.status == 200
    assert "回访已办结" in html
    assert "已电话回访，调整午间窗口排班" in html
    assert f'id="followup-{case}"' not in html
    assert await audit_actors(console, "application.followup_closed") == ["staff:boss"]
    async with console.app[STORE].transaction() as conn:
        row = await conn.fetch_one("SELECT note FROM rating_followups")
    assert row is not None
    assert "回访" not in str(row["note"])  # sealed at rest


async def test_a_good_rating_opens_no_follow_up(console: Client) -> None:
    csrf = await sign_in(console, "clerk")
    case = await take_case(console)
    await region_moves(console, case, Status.ACCEPTED, Status.APPROVED)
    await console.post(f"/console/cases/{case}/rate", data={"csrf_token": csrf, "level": "5"})
    assert await count(console, "ratings") == 1
    assert await count(console, "rating_followups") == 0


async def test_the_pad_refuses_a_case_not_yet_decided(console: Client) -> None:
    csrf = await sign_in(console, "clerk")
    case = await take_case(console)
    response = await console.post(
        f"/console/cases/{case}/rate", data={"csrf_token": csrf, "level": "4"}
    )
    assert response.status == 409
    assert "暂不能评价" in await response.text()
    assert await count(console, "ratings") == 0


async def test_the_supervisor_queue_is_the_centre_s_own(console: Client) -> None:
    await sign_in(console, "clerk")
    case = await take_case(console)
    async with console.app[STORE].transaction() as conn:
        await conn.execute(
            "UPDATE applications SET promised_due = '2020-01-06', legal_due = '2020-01-06' "
            "WHERE id = :id",
            {"id": case},
        )
    await add_account(console.app[STORE], "faraway", Role.SUPERVISOR, region="zhangjiagang")
    console.session.cookie_jar.clear()
    await sign_in(console, "boss")
    mine = await (await console.get("/console/supervisor")).text()
    assert f"/console/cases/{case}" in mine
    assert "已逾期" in mine
    console.session.cookie_jar.clear()
    await sign_in(console, "faraway")
    theirs = await (await console.get("/console/supervisor")).text()
    assert f"/console/cases/{case}" not in theirs


async def test_measures_count_taken_cases_window_share_satisfaction_and_after_hours(
    console: Client,
) -> None:
    csrf = await sign_in(console, "clerk")
    first = await take_case(console)
    second = await take_case(console, applicant_name="李四", phone="13912345678")
    third = await take_case(console, applicant_name="赵六", phone="13712345678")
    fourth = await take_case(console, applicant_name="钱七", phone="13612345678")
    # Beijing time: Wednesday 10:00 (regular), Wednesday 19:00 and Thursday 08:00
    # (延时服务), Saturday 10:00 (周六不打烊).
    taken_at = {
        first: "2026-12-02T02:00:00+00:00",
        second: "2026-12-02T11:00:00+00:00",
        fourth: "2026-12-03T00:00:00+00:00",
        third: "2026-12-05T02:00:00+00:00",
    }
    async with console.app[STORE].transaction() as conn:
        for case, moment in taken_at.items():
            await conn.execute(
                "UPDATE applications SET created_at = :at WHERE id = :id",
                {"at": moment, "id": case},
            )
    await region_moves(console, first, Status.ACCEPTED, Status.APPROVED)
    await console.post(f"/console/cases/{first}/rate", data={"csrf_token": csrf, "level": "4"})
    console.session.cookie_jar.clear()
    await sign_in(console, "boss")
    page = await console.get("/console/supervisor/measures?from=2026-11-01&to=2026-12-31")
    html = await page.text()
    assert page.status == 200
    assert 'id="taken">4 件' in html
    assert "4 件（占 100.0%）" in html
    assert 'id="rest-day">1 件，其中周六 1 件' in html
    assert "100.0%（1/1 条评价）" in html
    assert 'id="after-hours">2 件' in html
    assert "延时服务：工作日 09:00 前或 17:30 后" in html  # the page says how it counts
    assert "本系统暂未登记各中心的办公时间" in html  # the assumption is stated
    bad = await console.get("/console/supervisor/measures?from=yesterday")
    assert bad.status == 200
    assert "日期应写作" in await bad.text()


# --- ops and admin ------------------------------------------------------------------


async def test_ops_sees_a_dead_letter_in_plain_words_and_replays_it(console: Client) -> None:
    await sign_in(console, "clerk")
    case = await take_case(console)
    async with console.app[STORE].transaction() as conn:
        await conn.execute(
            "UPDATE deliveries SET state = 'failed', dead_reason_zh = '对方系统维护或暂不可用，"
            "多次重试未成功' WHERE application_id = :id",
            {"id": case},
        )
        delivery = await conn.fetch_one(
            "SELECT id FROM deliveries WHERE application_id = :id", {"id": case}
        )
    assert delivery is not None
    console.session.cookie_jar.clear()
    csrf = await sign_in(console, "opsuser")
    page = await (await console.get("/console/ops")).text()
    assert "对方系统维护或暂不可用，多次重试未成功" in page
    assert "深圳" in page
    assert "王小明" not in page
    replayed = await console.post(
        f"/console/ops/deliveries/{delivery['id']}/replay", data={"csrf_token": csrf}
    )
    assert replayed.status == 200
    assert "已重新排队转发" in await replayed.text()
    async with console.app[STORE].transaction() as conn:
        row = await conn.fetch_one(
            "SELECT replays FROM deliveries WHERE id = :id", {"id": delivery["id"]}
        )
    assert row == {"replays": 1}  # queued again (the relay may already be at it)
    assert "submission_replayed:staff:opsuser" in await history_kinds(console, case)
    twice = await console.post(
        f"/console/ops/deliveries/{delivery['id']}/replay", data={"csrf_token": csrf}
    )
    assert twice.status == 409
    assert "已不是死信" in await twice.text()


async def test_admin_adds_and_disables_an_account_through_the_accounts_service(
    console: Client,
) -> None:
    csrf = await sign_in(console, "root")
    added = await console.post(
        "/console/admin/accounts",
        data={
            "csrf_token": csrf,
            "id": "newclerk",
            "display_name": "张三",
            "role": "staff",
            "region": "dongguan",
            "centre": "松山湖政务服务中心",
            "password": "long-enough-1",
        },
    )
    assert added.status == 200
    assert "已创建账号 newclerk" in await added.text()
    short = await console.post(
        "/console/admin/accounts",
        data={
            "csrf_token": csrf,
            "id": "other",
            "role": "staff",
            "region": "dongguan",
            "centre": "中心",
            "password": "short",
        },
    )
    assert short.status == 422
    assert "密码至少需要 8 个字符" in await short.text()
    disabled = await console.post(
        "/console/admin/accounts/newclerk/disable", data={"csrf_token": csrf}
    )
    assert disabled.status == 200
    async with console.app[STORE].transaction() as conn:
        row = await conn.fetch_one("SELECT disabled FROM staff_accounts WHERE id = 'newclerk'")
    assert row == {"disabled": 1}
    assert await audit_actors(console, "staff.account_added") == ["staff:root"]
    assert await audit_actors(console, "staff.account_disabled") == ["staff:root"]


# --- roles ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("account", "path"),
    [
        ("clerk", "/console/ops"),
        ("clerk", "/console/supervisor"),
        ("clerk", "/console/supervisor/measures"),
        ("clerk", "/console/admin/accounts"),
        ("opsuser", "/console/supervisor"),
        ("opsuser", "/console/admin/accounts"),
        ("boss", "/console/ops"),
        ("boss", "/console/admin/accounts"),
    ],
)
async def test_a_role_is_refused_other_roles_pages_with_a_chinese_403_page(
    console: Client, account: str, path: str
) -> None:
    await sign_in(console, account)
    response = await console.get(path)
    html = await response.text()
    assert response.status == 403
    assert "<title>错误：无权进行此操作" in html
    assert "你的角色无权使用此页面" in html


async def test_a_clerk_cannot_replay_or_add_accounts_by_posting(console: Client) -> None:
    csrf = await sign_in(console, "clerk")
    for path in ("/console/ops/deliveries/x/replay", "/console/admin/accounts"):
        response = await console.post(path, data={"csrf_token": csrf, "id": "sneaky"})
        assert response.status == 403
    assert await count(console, "staff_accounts") == 4


async def test_an_ops_account_cannot_act_on_a_case(console: Client) -> None:
    await sign_in(console, "clerk")
    case = await take_case(console)
    console.session.cookie_jar.clear()
    csrf = await sign_in(console, "opsuser")
    response = await console.post(
        f"/console/cases/{case}/withdraw", data={"csrf_token": csrf, "reason": "x"}
    )
    assert response.status == 403
    assert await status_of(console, case) == "received"


async def test_script_in_a_carrier_name_or_rating_reason_is_shown_as_text(
    console: Client,
) -> None:
    csrf = await sign_in(console, "clerk")
    case = await take_case(console)
    await console.post(
        f"/console/cases/{case}/tracking",
        data={
            "csrf_token": csrf,
            "leg": "materials",
            "carrier": "<script>x</script>",
            "number": "EP123456789CN",
        },
    )
    page = await (await console.get(f"/console/cases/{case}")).text()
    assert "<script>x" not in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page


async def test_every_page_carries_the_idle_warning_s_setting_and_keepalive_works(
    console: Client,
) -> None:
    await sign_in(console, "clerk")
    page = await (await console.get("/console/cases")).text()
    assert 'data-idle-minutes="' in page
    keep = await console.get("/console/keepalive.json")
    assert keep.status == 204


async def test_a_clerk_s_case_list_is_the_centre_s_own_whatever_region_is_asked(
    console: Client,
) -> None:
    await sign_in(console, "clerk")
    case = await take_case(console)
    await add_account(console.app[STORE], "faraway", Role.STAFF, region="zhangjiagang")
    own = await (await console.get("/console/cases?region=zhangjiagang")).text()
    assert f"/console/cases/{case}" in own  # the region asked for is not the clerk's to pick
    console.session.cookie_jar.clear()
    await sign_in(console, "faraway")
    theirs = await (await console.get("/console/cases?region=dongguan")).text()
    assert f"/console/cases/{case}" not in theirs
    assert "本中心的办件" in theirs
