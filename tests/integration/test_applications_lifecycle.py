"""After intake, over real HTTP: status and lists, 容缺 supplements, withdrawal, rating,
region events, attachments, and personal data encrypted at rest."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient
from structlog.typing import EventDict
from support.examples import EXAMPLES, example
from support.partner_signing import PARTNER, SignedClient, multipart
from support.region_events import region_says, shenzhen_case_no

from gateway.app import STORE
from gateway.app_keys import APPLICATIONS
from gateway.applications.clocks import local_date, now_utc
from gateway.config import Settings
from gateway.envelope import Status
from gateway.outbox import open_envelope

Client = SignedClient
PHOTO = hashlib.sha256((EXAMPLES / "attachments" / "photo.jpg").read_bytes()).hexdigest()


async def submit(client: Client, name: str = "proxy_person", **changes: Any) -> str:
    response = await client.post("/v1/applications", json=example(name) | changes)
    assert response.status == 202, await response.text()
    return str((await response.json())["id"])


async def deliveries(client: Client, case_id: str) -> list[dict[str, Any]]:
    async with client.app[STORE].transaction() as conn:
        return await conn.fetch_all(
            "SELECT * FROM deliveries WHERE application_id = :id ORDER BY created_at, id",
            {"id": case_id},
        )


async def test_status_view_has_history_due_dates_and_masked_data(
    applications_client: Client,
) -> None:
    case_id = await submit(applications_client)
    await region_says(applications_client, case_id, Status.ACCEPTED, "e1")
    response = await applications_client.get(f"/v1/applications/{case_id}")
    view = await response.json()
    assert response.status == 200
    assert view["status"] == "accepted"
    assert view["status_zh"] == "受理"
    assert view["region_case_no"] == shenzhen_case_no(case_id)
    assert [(e["from_status"], e["to_status"]) for e in view["history"]] == [
        (None, "received"),
        ("received", "accepted"),
    ]
    assert view["due"]["provisional"] is False
    assert view["due"]["legal"]
    assert view["due"]["promised"]
    text = json.dumps(view, ensure_ascii=False)
    assert "360426199101010071" not in text
    assert "李华" not in text
    assert view["applicant"]["agent"] == "陈**"
    assert [d["kind"] for d in view["deliveries"]] == ["submission"]


async def test_unknown_application_is_a_404_problem(applications_client: Client) -> None:
    response = await applications_client.get("/v1/applications/nope")
    assert response.status == 404
    assert "找不到" in (await response.json())["detail"]


async def test_list_filters_and_cursor_pages(applications_client: Client) -> None:
    ids = [
        await submit(applications_client, "full_online_person"),
        await submit(applications_client, "proxy_person"),
        await submit(applications_client, "full_online_enterprise"),
    ]
    first = await (await applications_client.get("/v1/applications?limit=2")).json()
    assert [i["id"] for i in first["items"]] == [ids[2], ids[1]]
    second = await (
        await applications_client.get(f"/v1/applications?limit=2&cursor={first['next_cursor']}")
    ).json()
    assert [i["id"] for i in second["items"]] == [ids[0]]
    assert second["next_cursor"] is None
    by_item = await (await applications_client.get("/v1/applications?item=TEST-DG-QIYE")).json()
    assert [i["id"] for i in by_item["items"]] == [ids[2]]
    by_region = await (await applications_client.get("/v1/applications?region=shenzhen")).json()
    assert {i["id"] for i in by_region["items"]} == set(ids[:2])
    by_number = await (
        await applications_client.post(
            "/v1/applications/search", json={"id_number": "360426199101010071", "limit": 10}
        )
    ).json()
    assert [i["id"] for i in by_number["items"]] == [ids[1]]
    await region_says(applications_client, ids[0], Status.ACCEPTED, "a1")
    accepted = await (await applications_client.get("/v1/applications?status=accepted")).json()
    assert [i["id"] for i in accepted["items"]] == [ids[0]]
    bad = await applications_client.get("/v1/applications?status=lost&overdue=maybe&limit=0")
    assert bad.status == 422
    assert {e["field"] for e in (await bad.json())["errors"]} == {"status", "overdue", "limit"}


async def test_overdue_and_due_soon_are_queryable(applications_client: Client) -> None:
    late = await submit(applications_client, "proxy_person")
    soon = await submit(applications_client, "full_online_enterprise")
    fine = await submit(applications_client, "multi_region_enterprise")
    async with applications_client.app[STORE].transaction() as conn:
        await conn.execute(
            "UPDATE applications SET promised_due = '2020-01-06' WHERE id = :id", {"id": late}
        )
        await conn.execute(
            # Due today on the mainland calendar, which is the gateway's (not UTC's).
            "UPDATE applications SET promised_due = :d WHERE id = :id",
            {"d": local_date(now_utc()).isoformat(), "id": soon},
        )
        await conn.execute(
            "UPDATE applications SET promised_due = '2099-01-05' WHERE id = :id", {"id": fine}
        )
    overdue = await (await applications_client.get("/v1/applications?overdue=true")).json()
    assert [i["id"] for i in overdue["items"]] == [late]
    assert overdue["items"][0]["due"]["overdue"] is True
    due_soon = await (await applications_client.get("/v1/applications?due_soon=true")).json()
    assert [i["id"] for i in due_soon["items"]] == [soon]


async def test_deferred_material_supplement_is_its_own_delivery(
    applications_client: Client,
) -> None:
    case_id = await submit(applications_client)
    body = {"materials": [{"material_id": "photo", "attachments": [PHOTO]}]}
    response = await applications_client.post(f"/v1/applications/{case_id}/supplements", json=body)
    answer = await response.json()
    assert response.status == 202, answer
    assert answer["deferred_materials"] == []
    assert answer["supplement_due"] is None
    rows = await deliveries(applications_client, case_id)
    assert [r["kind"] for r in rows] == ["submission", "supplement"]
    envelope = open_envelope(rows[1], applications_client.app[APPLICATIONS].cipher)
    assert envelope.body.kind == "supplement"
    assert envelope.competent_region == "shenzhen"
    again = await applications_client.post(f"/v1/applications/{case_id}/supplements", json=body)
    assert again.status == 200
    assert (await again.json())["delivery_id"] == answer["delivery_id"]
    view = await (await applications_client.get(f"/v1/applications/{case_id}")).json()
    assert view["history"][-1]["kind"] == "supplement"


async def test_supplement_is_refused_when_nothing_is_pending(applications_client: Client) -> None:
    case_id = await submit(applications_client, "full_online_person")
    body = {"materials": [{"material_id": "photo", "attachments": [PHOTO]}]}
    response = await applications_client.post(f"/v1/applications/{case_id}/supplements", json=body)
    assert response.status == 409
    assert "无需补正" in (await response.json())["detail"]


async def test_supplement_required_by_the_region_accepts_corrections(
    applications_client: Client,
) -> None:
    case_id = await submit(applications_client, "full_online_person")
    await region_says(applications_client, case_id, Status.SUPPLEMENT_REQUIRED, "s1")
    body = {"materials": [{"material_id": "photo", "attachments": [PHOTO]}], "remarks": "重拍"}
    response = await applications_client.post(f"/v1/applications/{case_id}/supplements", json=body)
    assert response.status == 202


async def test_supplement_with_unknown_material_is_a_422(applications_client: Client) -> None:
    case_id = await submit(applications_client)
    body = {"materials": [{"material_id": "ghost", "attachments": [PHOTO]}]}
    response = await applications_client.post(f"/v1/applications/{case_id}/supplements", json=body)
    assert response.status == 422
    assert (await response.json())["errors"][0]["field"] == "materials.0.material_id"


async def test_withdrawal_before_a_decision(applications_client: Client) -> None:
    case_id = await submit(applications_client)
    response = await applications_client.post(
        f"/v1/applications/{case_id}/withdrawal", json={"reason": "申请人不再需要"}
    )
    assert response.status == 202
    assert (await response.json())["status"] == "withdrawn"
    kinds = [r["kind"] for r in await deliveries(applications_client, case_id)]
    assert kinds == ["submission", "withdrawal"]
    again = await applications_client.post(
        f"/v1/applications/{case_id}/withdrawal", json={"reason": "再次"}
    )
    assert again.status == 409


async def test_withdrawal_after_a_decision_is_refused(applications_client: Client) -> None:
    case_id = await submit(applications_client)
    await region_says(applications_client, case_id, Status.ACCEPTED, "w1")
    await region_says(applications_client, case_id, Status.APPROVED, "w2")
    response = await applications_client.post(
        f"/v1/applications/{case_id}/withdrawal", json={"reason": "晚了"}
    )
    assert response.status == 409
    assert "不能撤回" in (await response.json())["detail"]
    assert len(await deliveries(applications_client, case_id)) == 1


async def test_rating_after_a_final_state_once(applications_client: Client) -> None:
    case_id = await submit(applications_client)
    rating = {
        "setting": "offline",
        "level": 5,
        "indicators": {"service_efficiency": 5, "service_attitude": 4},
        "comment": "很快",
    }
    early = await applications_client.post(f"/v1/applications/{case_id}/rating", json=rating)
    assert early.status == 409
    await region_says(applications_client, case_id, Status.ACCEPTED, "r1")
    await region_says(applications_client, case_id, Status.APPROVED, "r2")
    response = await applications_client.post(f"/v1/applications/{case_id}/rating", json=rating)
    assert response.status == 202
    rows = await deliveries(applications_client, case_id)
    assert [r["kind"] for r in rows] == ["submission", "rating"]
    envelope = open_envelope(rows[1], applications_client.app[APPLICATIONS].cipher)
    assert envelope.body.kind == "rating"
    twice = await applications_client.post(f"/v1/applications/{case_id}/rating", json=rating)
    assert twice.status == 409
    assert "一事一评" in (await twice.json())["detail"]


async def test_rating_indicators_must_fit_the_setting(applications_client: Client) -> None:
    case_id = await submit(applications_client)
    rating = {"setting": "online", "level": 6, "indicators": {"service_attitude": 5}}
    response = await applications_client.post(f"/v1/applications/{case_id}/rating", json=rating)
    assert response.status == 422
    fields = {e["field"] for e in (await response.json())["errors"]}
    assert fields == {"level", "indicators"}


async def test_attachments_are_content_addressed_and_limited(
    applications_client: Client, applications_settings: Settings
) -> None:
    data = b"%PDF-1.7\nhello"
    digest = hashlib.sha256(data).hexdigest()
    form, content_type = multipart("file", "a.pdf", "application/pdf", data)
    first = await applications_client.post(
        "/v1/attachments", data=form, headers={"Content-Type": content_type}
    )
    assert first.status == 201
    assert (await first.json())["digest"] == digest
    path = applications_settings.data_dir / "attachments" / digest[:2] / digest[2:4] / digest
    assert path.read_bytes() == data
    again = await applications_client.post(
        "/v1/attachments", data=data, headers={"Content-Type": "application/pdf"}
    )
    assert again.status == 200
    wrong = await applications_client.post(
        "/v1/attachments", data=b"not a pdf", headers={"Content-Type": "application/pdf"}
    )
    assert wrong.status == 415
    refused = await applications_client.post(
        "/v1/attachments", data=b"MZ", headers={"Content-Type": "application/x-msdownload"}
    )
    assert refused.status == 415
    leftovers = list(path.parents[2].rglob(".upload-*"))
    assert leftovers == []


async def test_attachment_over_the_size_limit_is_a_413(
    catalogue_settings: Callable[..., Settings],
) -> None:
    from aiohttp.test_utils import TestServer

    from gateway.app import create_app

    settings = catalogue_settings(attachments={"max_bytes": 1000})
    async with TestClient(TestServer(create_app(settings), host="127.0.0.1")) as test_client:
        client = SignedClient(test_client, PARTNER)
        response = await client.post(
            "/v1/attachments",
            data=b"%PDF-" + b"x" * 2000,
            headers={"Content-Type": "application/pdf"},
        )
        assert response.status == 413
        assert not list((settings.data_dir / "attachments").rglob("*.pdf"))


async def test_no_personal_data_in_the_database_file_or_logs(
    applications_settings: Settings, applications_client: Client, logs: list[EventDict]
) -> None:
    await submit(applications_client, "proxy_person")
    await submit(applications_client, "multi_region_enterprise")
    await applications_client.close()  # closes the store: everything is in the files
    raw = b"".join(path.read_bytes() for path in applications_settings.data_dir.glob("tongban.db*"))
    assert len(raw) > 10_000
    for secret in (
        "360426199101010071",  # applicant ID
        "11010519491231002X",  # legal representative ID
        "H12345678",  # agent's permit
        "李华",
        "陈代办",
        "赵强",
        "13900001234",
        "13700001111",
        "南山区科技园",
    ):
        assert secret.encode() not in raw, secret
        assert secret not in json.dumps(logs, ensure_ascii=False, default=str), secret
    assert b"Y1440300MA5F0000XB" not in raw
