"""Intake over real HTTP: examples accepted, receipts, idempotency, duplicates, 422s."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from support.examples import EXAMPLES, example
from support.partner_signing import PARTNER, SignedClient

from gateway.app import STORE
from gateway.app_keys import APPLICATIONS
from gateway.config import Settings
from gateway.security import RequestSigner

Client = SignedClient
PROBLEM = "application/problem+json"


async def count(client: Client, table: str) -> int:
    async with client.app[STORE].transaction() as conn:
        row = await conn.fetch_one(f"SELECT COUNT(*) AS n FROM {table}")  # noqa: S608 - test table names
    assert row is not None
    return int(row["n"])


@pytest.mark.parametrize(
    "name",
    [
        "full_online_person",
        "proxy_person",
        "multi_region_enterprise",
        "full_online_enterprise",
    ],
)
async def test_every_example_is_accepted_with_a_receipt(
    applications_client: Client, name: str
) -> None:
    response = await applications_client.post("/v1/applications", json=example(name))
    body = await response.json()
    assert response.status == 202, body
    assert body["status"] == "received"
    assert body["status_url"] == f"/v1/applications/{body['id']}"
    assert response.headers["Location"] == body["status_url"]
    assert body["request_id"] == response.headers["X-Request-ID"]
    receipt = body["receipt"]
    assert receipt["receipt_no"] == body["id"]
    assert receipt["due_dates"]["legal"] is not None
    assert "*" in receipt["applicant"]["id_number"]
    assert await count(applications_client, "deliveries") == 1
    assert await count(applications_client, "application_events") == 1


async def test_receipt_lists_deferred_materials_and_supplement_deadline(
    applications_client: Client,
) -> None:
    response = await applications_client.post("/v1/applications", json=example("proxy_person"))
    receipt = (await response.json())["receipt"]
    assert [m["material_id"] for m in receipt["deferred_materials"]] == ["photo"]
    assert receipt["supplement_due"] is not None
    assert "近期免冠照片" in receipt["notice_zh"]
    assert receipt["applicant"]["name"] == "李*"
    assert receipt["applicant"]["phone"] == "139****1234"
    assert receipt["applicant"]["id_number"] == "360***********0071"


async def test_same_key_same_body_replays_the_same_answer(applications_client: Client) -> None:
    headers = {"Idempotency-Key": "replay-1"}
    first = await applications_client.post(
        "/v1/applications", json=example("full_online_person"), headers=headers
    )
    second = await applications_client.post(
        "/v1/applications", json=example("full_online_person"), headers=headers
    )
    assert first.status == second.status == 202
    assert await first.json() == await second.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert await count(applications_client, "applications") == 1
    assert await count(applications_client, "deliveries") == 1


async def test_same_key_other_body_is_a_409_problem(applications_client: Client) -> None:
    headers = {"Idempotency-Key": "conflict-1"}
    await applications_client.post(
        "/v1/applications", json=example("full_online_person"), headers=headers
    )
    other = example("full_online_person") | {"remarks": "changed"}
    response = await applications_client.post("/v1/applications", json=other, headers=headers)
    assert response.status == 409
    assert response.content_type == PROBLEM
    assert (await response.json())["type"].endswith("/idempotency-conflict")
    assert await count(applications_client, "applications") == 1


async def test_concurrent_requests_with_one_key_make_one_application(
    applications_settings: Any, applications_client: Client
) -> None:
    headers = {"Idempotency-Key": "concurrent-1"}
    responses = await asyncio.gather(
        *(
            applications_client.post(
                "/v1/applications", json=example("proxy_person"), headers=headers
            )
            for _ in range(8)
        )
    )
    bodies = [await r.json() for r in responses]
    assert {r.status for r in responses} == {202}
    assert len({b["id"] for b in bodies}) == 1
    assert await count(applications_client, "applications") == 1
    assert await count(applications_client, "deliveries") == 1


async def test_business_duplicate_answers_with_the_existing_application(
    applications_client: Client,
) -> None:
    first = await applications_client.post("/v1/applications", json=example("proxy_person"))
    again = example("proxy_person") | {"remarks": "第二次提交"}
    second = await applications_client.post("/v1/applications", json=again)
    assert second.status == 200
    body = await second.json()
    assert body["duplicate"] is True
    assert body["id"] == (await first.json())["id"]
    assert second.headers["Tongban-Duplicate-Of"] == body["id"]
    assert await count(applications_client, "applications") == 1


async def test_duplicate_detection_can_be_turned_off(
    catalogue_settings: Callable[..., Settings],
) -> None:
    from aiohttp.test_utils import TestServer

    from gateway.app import create_app

    settings = catalogue_settings(applications={"duplicate_window_minutes": 0})
    async with TestClient(TestServer(create_app(settings), host="127.0.0.1")) as test_client:
        client = SignedClient(test_client, PARTNER)
        body = example("full_online_enterprise")
        await client.post(
            "/v1/attachments",
            data=(EXAMPLES / "attachments/licence.pdf").read_bytes(),
            headers={"Content-Type": "application/pdf"},
        )
        first = await client.post("/v1/applications", json=body)
        second = await client.post("/v1/applications", json=body)
        assert (first.status, second.status) == (202, 202)
        assert await count(client, "applications") == 2


async def test_validation_lists_every_bad_field_and_writes_nothing(
    applications_client: Client,
) -> None:
    body = example("proxy_person")
    body["applicant"]["id_number"] = "360426199101010072"  # check digit wrong
    body["phone"] = "12345"
    body["form"] = {"reason": "旅游", "colour": "red"}
    body["materials"] = [
        {"material_id": "photo", "provided": False},
        {"material_id": "nonsense", "attachments": []},
    ]
    body["delivery"] = {"method": "mail"}
    response = await applications_client.post("/v1/applications", json=body)
    problem = await response.json()
    assert response.status == 422
    assert response.content_type == PROBLEM
    assert problem["title"] == "Invalid application"
    fields = {e["field"]: e["message"] for e in problem["errors"]}
    assert "校验位" in fields["applicant.id_number"]
    assert "手机" in fields["phone"]
    assert "邮寄" in fields["delivery"]
    assert "form.reason" in fields
    assert "form.colour" in fields
    assert "materials.1.material_id" in fields
    missing = [e["message"] for e in problem["errors"] if e["field"] == "materials"]
    assert any("居民身份证" in m for m in missing)
    assert any("户口簿" in m for m in missing)
    assert "处需要更正" in problem["detail"]
    assert await count(applications_client, "applications") == 0
    assert await count(applications_client, "deliveries") == 0


async def test_missing_non_deferrable_material_is_refused(applications_client: Client) -> None:
    body = example("proxy_person")
    body["materials"][0] = {"material_id": "id_card", "provided": False}
    response = await applications_client.post("/v1/applications", json=body)
    problem = await response.json()
    assert response.status == 422
    assert problem["errors"][0]["field"] == "materials.0.provided"
    assert "不属于容缺材料" in problem["errors"][0]["message"]


async def test_unknown_attachment_digest_is_refused(applications_client: Client) -> None:
    body = example("full_online_person")
    body["materials"][0]["attachments"] = ["0" * 64]
    response = await applications_client.post("/v1/applications", json=body)
    assert response.status == 422
    fields = [e["field"] for e in (await response.json())["errors"]]
    assert fields == ["materials.0.attachments.0"]


async def test_every_attachment_is_checked_in_the_database_and_on_disk(
    applications_client: Client,
) -> None:
    """Unknown digests, files lost from the disk and refused media types are each named
    at their place, in order, however many attachments there are (one query, one hop)."""
    digests = {path.stem: hashlib.sha256(path.read_bytes()).hexdigest()
               for path in (EXAMPLES / "attachments").iterdir()}  # fmt: skip
    applications_client.app[APPLICATIONS].attachments.path_of(digests["licence"]).unlink()
    body = example("full_online_person")
    body["materials"][0]["attachments"] = [
        digests["id_card"], "0" * 64, digests["licence"], digests["id_card"],
    ]  # fmt: skip
    body["materials"][1]["attachments"] = [digests["resolution"], digests["photo"]]
    response = await applications_client.post("/v1/applications", json=body)
    assert response.status == 422
    errors = [(e["field"], e["code"]) for e in (await response.json())["errors"]]
    assert errors == [
        ("materials.0.attachments.1", "missing"),
        ("materials.0.attachments.2", "missing"),
        ("materials.1.attachments.0", "media_type"),
    ]
    assert await count(applications_client, "applications") == 0


async def test_trust_level_b_needs_the_staff_attestation(applications_client: Client) -> None:
    body = example("proxy_person")
    del body["attestation"]
    response = await applications_client.post("/v1/applications", json=body)
    assert response.status == 422
    fields = [e["field"] for e in (await response.json())["errors"]]
    assert fields == ["materials.0.trust_level"]


async def test_malformed_json_is_a_400_problem(applications_client: Client) -> None:
    response = await applications_client.post(
        "/v1/applications", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    assert response.content_type == PROBLEM


async def test_an_expired_idempotency_key_may_be_used_afresh(applications_client: Client) -> None:
    headers = {"Idempotency-Key": "old-1"}
    await applications_client.post(
        "/v1/applications", json=example("full_online_person"), headers=headers
    )
    async with applications_client.app[STORE].transaction() as conn:
        await conn.execute("UPDATE idempotency_keys SET created_at = '2020-01-01T00:00:00+00:00'")
    other = example("full_online_enterprise")
    response = await applications_client.post("/v1/applications", json=other, headers=headers)
    assert response.status == 202
    assert await count(applications_client, "applications") == 2


async def resend(client: Client, body: dict[str, Any]) -> tuple[int, int, dict[str, Any]]:
    """POST `body` signed once, then the very same bytes and headers again (a replay)."""
    raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json", "Idempotency-Key": "replayed-request"}
    url = str(client.client.make_url("/v1/applications"))
    headers.update(
        RequestSigner(client.partner.key, client.partner.keyid)("POST", url, headers, raw)
    )
    first = await client.client.post("/v1/applications", data=raw, headers=headers)
    again = await client.client.post("/v1/applications", data=raw, headers=headers)
    return first.status, again.status, await again.json()


async def test_a_replayed_submission_is_refused_by_its_nonce(applications_client: Client) -> None:
    """The nonce is recorded in the intake transaction: a replay is 401, not a replay answer."""
    nonces = await count(applications_client, "signature_nonces")
    first, again, problem = await resend(applications_client, example("full_online_person"))
    assert (first, again) == (202, 401)
    assert problem["check"] == "nonce_replayed"
    assert await count(applications_client, "applications") == 1
    assert await count(applications_client, "signature_nonces") == nonces + 1


async def test_a_refused_submission_still_spends_its_nonce(applications_client: Client) -> None:
    """No intake transaction commits for a 422: the nonce is recorded on its own."""
    body = example("full_online_person")
    body["channel"] = "carrier_pigeon"
    first, again, problem = await resend(applications_client, body)
    assert (first, again) == (422, 401)
    assert problem["check"] == "nonce_replayed"
    assert await count(applications_client, "applications") == 0
