"""Partner authentication on the real application routes, over loopback HTTP.

Every route refuses an unsigned request (401) and writes nothing; a partner sees
and acts on only its own applications (another's is a 404, like an unknown id);
an item outside the partner's rules is a 403 with nothing written; each
submission keeps its signature evidence and exact body, which re-verify offline.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.examples import example
from support.partner_signing import NARROW_PARTNER, OTHER_PARTNER, PARTNER, SignedClient

from gateway.app import STORE
from gateway.app_keys import APPLICATIONS
from gateway.applications.proof import open_submission_body
from gateway.errors import SignatureError
from gateway.security import SubmissionEvidence, verify_evidence

PROBLEM = "application/problem+json"
TABLES = ("applications", "application_events", "deliveries", "audit_entries", "ratings")


async def counts(client: SignedClient) -> dict[str, int]:
    """Row counts of every table a write could touch."""
    result = {}
    async with client.app[STORE].transaction() as conn:
        for table in TABLES:
            row = await conn.fetch_one(f"SELECT COUNT(*) AS n FROM {table}")  # noqa: S608 - test table names
            assert row is not None
            result[table] = int(row["n"])
    return result


async def submit(client: SignedClient, name: str = "full_online_person") -> str:
    response = await client.post("/v1/applications", json=example(name))
    assert response.status == 202, await response.text()
    return str((await response.json())["id"])


ROUTES: list[tuple[str, str, Any]] = [
    ("POST", "/v1/applications", {"item_code": "TEST-SZ-HUKOU"}),
    ("GET", "/v1/applications", None),
    ("GET", "/v1/applications/{id}", None),
    ("POST", "/v1/applications/{id}/supplements", {"materials": []}),
    ("POST", "/v1/applications/{id}/withdrawal", {"reason": "不办了"}),
    ("POST", "/v1/applications/{id}/rating", {"level": 5, "setting": "online"}),
    ("POST", "/v1/attachments", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_unsigned_request_is_a_401_problem_and_writes_nothing(
    applications_client: SignedClient, method: str, path: str, body: Any
) -> None:
    case_id = await submit(applications_client)
    before = await counts(applications_client)
    response = await applications_client.client.request(method, path.format(id=case_id), json=body)
    problem = await response.json(content_type=PROBLEM)
    assert response.status == 401
    assert problem["check"] == "signature_missing"
    assert "Accept-Signature" in response.headers
    assert await counts(applications_client) == before


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [route for route in ROUTES if "{id}" in route[1]],
)
async def test_another_partners_application_is_a_404_like_an_unknown_one(
    applications_client: SignedClient, method: str, path: str, body: Any
) -> None:
    case_id = await submit(applications_client)
    before = await counts(applications_client)
    other = applications_client.as_partner(OTHER_PARTNER)
    theirs = await other.request(method, path.format(id=case_id), json=body)
    unknown = await other.request(method, path.format(id="0" * 36), json=body)
    assert theirs.status == unknown.status == 404
    mine = await theirs.json(content_type=PROBLEM)
    assert mine["type"] == (await unknown.json(content_type=PROBLEM))["type"]
    assert await counts(applications_client) == before


async def test_a_partner_lists_only_its_own_applications(
    applications_client: SignedClient,
) -> None:
    mine = await submit(applications_client, "full_online_person")
    other = applications_client.as_partner(OTHER_PARTNER)
    theirs = await submit(other, "proxy_person")
    my_list = await (await applications_client.get("/v1/applications")).json()
    their_list = await (await other.get("/v1/applications")).json()
    assert [item["id"] for item in my_list["items"]] == [mine]
    assert [item["id"] for item in their_list["items"]] == [theirs]


async def test_same_applicant_from_another_partner_is_not_a_business_duplicate(
    applications_client: SignedClient,
) -> None:
    """Duplicate detection never answers one partner with another partner's case."""
    first = await submit(applications_client, "proxy_person")
    second = await submit(applications_client.as_partner(OTHER_PARTNER), "proxy_person")
    assert first != second


async def test_item_outside_the_partners_rules_is_a_403_and_writes_nothing(
    applications_client: SignedClient,
) -> None:
    narrow = applications_client.as_partner(NARROW_PARTNER)
    before = await counts(applications_client)
    response = await narrow.post("/v1/applications", json=example("full_online_person"))
    problem = await response.json(content_type=PROBLEM)
    assert response.status == 403
    assert problem["type"].endswith("/item-not-allowed")
    assert problem["item_code"] == "TEST-SZ-HUKOU"
    assert await counts(applications_client) == before


async def test_item_inside_the_partners_rules_is_accepted(
    applications_client: SignedClient,
) -> None:
    narrow = applications_client.as_partner(NARROW_PARTNER)
    response = await narrow.post("/v1/applications", json=example("full_online_enterprise"))
    assert response.status == 202, await response.text()


async def test_evidence_is_kept_shown_to_its_partner_and_verifies_offline(
    applications_client: SignedClient,
) -> None:
    case_id = await submit(applications_client)
    view = await (await applications_client.get(f"/v1/applications/{case_id}")).json()
    evidence = SubmissionEvidence.model_validate(view["evidence"])
    assert evidence.partner_id == PARTNER.id
    assert evidence.keyid == PARTNER.keyid
    assert evidence.method == "POST"
    assert evidence.target_uri.endswith("/v1/applications")
    # The gateway keeps the exact body, sealed; with it the signature re-verifies.
    deps = applications_client.app[APPLICATIONS]
    async with deps.store.transaction() as conn:
        row = await conn.fetch_one("SELECT * FROM applications WHERE id = :id", {"id": case_id})
    assert row is not None
    body = open_submission_body(deps.cipher, row)
    assert body is not None
    assert json.loads(body) == example("full_online_person")
    verify_evidence(evidence, PARTNER.key.public_key(), body)
    with pytest.raises(SignatureError):
        verify_evidence(evidence, PARTNER.key.public_key(), body.replace(b"13812345678", b"1"))
    with pytest.raises(SignatureError):
        verify_evidence(evidence, OTHER_PARTNER.key.public_key(), body)
    assert b"13812345678" not in row["submission_body"].encode()  # sealed, not in clear


async def test_supplement_withdrawal_and_rating_act_as_the_partner(
    applications_client: SignedClient,
) -> None:
    case_id = await submit(applications_client)
    response = await applications_client.post(
        f"/v1/applications/{case_id}/withdrawal", json={"reason": "申请人决定不办了"}
    )
    assert response.status == 202, await response.text()
    view = await (await applications_client.get(f"/v1/applications/{case_id}")).json()
    assert view["history"][-1]["actor"] == f"partner:{PARTNER.id}"
    assert view["history"][-1]["to_status"] == "withdrawn"
