"""The contract over real HTTP: served as committed, and real answers match its schemas.

Each answer is checked against the schema the spec documents for its path,
method, status and media type; an undocumented status or media type fails too.
"""

from __future__ import annotations

from typing import Any

import yaml
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient
from support.examples import EXAMPLES, example
from support.openapi import SPEC_PATH, errors_of, load_spec, response_validator

Client = TestClient[web.Request, web.Application]


async def check(response: ClientResponse, path: str, method: str = "get") -> Any:
    """Assert `response` matches the contract for `path`; return its JSON body."""
    body = await response.json(content_type=None)
    validator = response_validator(
        load_spec(), path, method, response.status, response.content_type
    )
    assert errors_of(validator, body) == []
    return body


async def test_yaml_is_served_as_committed_and_cacheable(client: Client) -> None:
    response = await client.get("/openapi.yaml")
    assert response.status == 200
    assert response.content_type == "application/yaml"
    assert await response.read() == SPEC_PATH.read_bytes()
    etag = response.headers["ETag"]
    again = await client.get("/openapi.yaml", headers={"If-None-Match": etag})
    assert again.status == 304
    assert await again.read() == b""


async def test_json_is_the_same_document(client: Client) -> None:
    response = await client.get("/openapi.json")
    assert response.status == 200
    assert response.content_type == "application/json"
    assert await response.json() == yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    yaml_etag = (await client.get("/openapi.yaml")).headers["ETag"]
    assert response.headers["ETag"] != yaml_etag  # two representations, two tags


async def test_catalogue_list_matches_the_contract(client: Client) -> None:
    response = await client.get("/v1/catalog/items", params={"q": "sfz", "page_size": "5"})
    assert response.status == 200
    body = await check(response, "/v1/catalog/items")
    assert body["items"]


async def test_catalogue_item_matches_the_contract(client: Client) -> None:
    listed = await (await client.get("/v1/catalog/items", params={"region": "dongguan"})).json()
    response = await client.get(listed["items"][0]["href"])
    assert response.status == 200
    await check(response, "/v1/catalog/items/{code}")


async def test_catalogue_problems_match_the_contract(client: Client) -> None:
    missing = await client.get("/v1/catalog/items/NO-SUCH-ITEM")
    assert missing.status == 404
    assert (await check(missing, "/v1/catalog/items/{code}"))["request_id"]
    invalid = await client.get("/v1/catalog/items", params={"page": "0", "colour": "blue"})
    assert invalid.status == 422
    body = await check(invalid, "/v1/catalog/items")
    assert {error["field"] for error in body["errors"]} == {"page", "colour"}


async def test_operations_routes_match_the_contract(client: Client) -> None:
    await check(await client.get("/healthz"), "/healthz")
    await check(await client.get("/readyz"), "/readyz")
    await check(await client.get("/.well-known/tongban/keys"), "/.well-known/tongban/keys")
    await check(await client.get("/v1/audit/checkpoints/latest"), "/v1/audit/checkpoints/latest")
    await check(await client.get("/v1/audit/proofs/x"), "/v1/audit/proofs/{seq}")


async def test_application_answers_match_the_contract(applications_client: Client) -> None:
    submission = example("proxy_person")
    headers = {"Idempotency-Key": "openapi-contract-1"}
    submitted = await applications_client.post("/v1/applications", json=submission, headers=headers)
    assert submitted.status == 202, await submitted.text()
    body = await check(submitted, "/v1/applications", "post")
    replayed = await applications_client.post("/v1/applications", json=submission, headers=headers)
    assert replayed.headers["Idempotent-Replayed"] == "true"
    await check(replayed, "/v1/applications", "post")

    detail = await applications_client.get(body["status_url"])
    await check(detail, "/v1/applications/{id}")
    await check(await applications_client.get("/v1/applications"), "/v1/applications")
    withdrawn = await applications_client.post(
        f"{body['status_url']}/withdrawal", json={"reason": "申请人不再需要"}
    )
    assert withdrawn.status == 202
    await check(withdrawn, "/v1/applications/{id}/withdrawal", "post")


async def test_application_problems_match_the_contract(applications_client: Client) -> None:
    bad = {**example("proxy_person"), "phone": "12", "handling_mode": "teleport"}
    invalid = await applications_client.post("/v1/applications", json=bad)
    assert invalid.status == 422
    body = await check(invalid, "/v1/applications", "post")
    assert {"phone", "handling_mode"} <= {error["field"] for error in body["errors"]}
    malformed = await applications_client.post("/v1/applications", data=b"{not json")
    assert malformed.status == 400
    await check(malformed, "/v1/applications", "post")
    missing = await applications_client.get("/v1/applications/no-such-id")
    assert missing.status == 404
    await check(missing, "/v1/applications/{id}")


async def test_attachment_answers_match_the_contract(applications_client: Client) -> None:
    pdf = (EXAMPLES / "attachments" / "id_card.pdf").read_bytes()
    response = await applications_client.post(
        "/v1/attachments", data=pdf, headers={"Content-Type": "application/pdf"}
    )
    assert response.status == 200  # the fixture uploaded it already
    await check(response, "/v1/attachments", "post")
