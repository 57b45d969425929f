"""GET /v1/catalog/items over real HTTP: search, paging, 404/422 problems, ETag caching."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient

Client = TestClient[web.Request, web.Application]
PROBLEM = "application/problem+json"


async def test_search_by_pinyin_initials_and_region(client: Client) -> None:
    response = await client.get("/v1/catalog/items", params={"q": "sfz", "region": "shenzhen"})
    assert response.status == 200
    body = await response.json()
    assert body["total"] > 0
    assert body["page"] == 1
    assert body["page_size"] == 20
    for item in body["items"]:
        assert "身份证" in item["task_name"]
        assert item["competent_region"] == "shenzhen"
        assert item["href"] == f"/v1/catalog/items/{item['code']}"


async def test_filters_and_paging(client: Client) -> None:
    params = {"region": "shenzhen", "high_frequency": "true", "page_size": "100"}
    first = await (await client.get("/v1/catalog/items", params=params)).json()
    assert first["total"] == 182
    assert len(first["items"]) == 100
    last = await (await client.get("/v1/catalog/items", params={**params, "page": "2"})).json()
    assert len(last["items"]) == 82
    codes = {i["code"] for i in first["items"]} | {i["code"] for i in last["items"]}
    assert len(codes) == 182


async def test_department_mode_and_type_filters(client: Client) -> None:
    params = {"department": "公安局", "mode": "proxy", "type": "07", "region": "dongguan"}
    body = await (await client.get("/v1/catalog/items", params=params)).json()
    assert body["total"] > 0
    for item in body["items"]:
        assert "公安局" in item["dept_name"]
        assert "proxy" in item["handling_modes"]
        assert item["task_type"] == "confirmation"


async def test_bad_parameters_are_each_named_in_one_422(client: Client) -> None:
    params = {
        "region": "atlantis",
        "mode": "teleport",
        "type": "99",
        "high_frequency": "maybe",
        "page": "0",
        "page_size": "1000",
        "colour": "blue",
    }
    response = await client.get("/v1/catalog/items", params=params)
    assert response.status == 422
    assert response.content_type == PROBLEM
    body = await response.json()
    fields = {error["field"] for error in body["errors"]}
    assert fields == set(params)


async def test_item_in_full(client: Client) -> None:
    response = await client.get("/v1/catalog/items/SZ-P-0001")
    assert response.status == 200
    body = await response.json()
    assert body["task_name"] == "企业开办"
    assert body["source"]["kind"] == "press"
    assert "DG-P-0001" in body["counterparts"]
    assert body["materials"]


async def test_unknown_item_is_404_problem(client: Client) -> None:
    response = await client.get("/v1/catalog/items/NO-SUCH-CODE")
    assert response.status == 404
    assert response.content_type == PROBLEM
    body = await response.json()
    assert body["code"] == "NO-SUCH-CODE"
    assert body["type"].endswith("catalog-item-not-found")


async def test_etag_and_if_none_match(client: Client) -> None:
    first = await client.get("/v1/catalog/items/SZ-C-0001")
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"].startswith("public")
    again = await client.get("/v1/catalog/items/SZ-C-0001", headers={"If-None-Match": etag})
    assert again.status == 304
    assert again.headers["ETag"] == etag
    weak = await client.get("/v1/catalog/items/SZ-C-0001", headers={"If-None-Match": f"W/{etag}"})
    assert weak.status == 304
    other = await client.get("/v1/catalog/items/SZ-C-0002", headers={"If-None-Match": etag})
    assert other.status == 200


async def test_list_etag_depends_on_the_query(client: Client) -> None:
    one = await client.get("/v1/catalog/items", params={"q": "社保"})
    two = await client.get("/v1/catalog/items", params={"q": "公积金"})
    assert one.headers["ETag"] != two.headers["ETag"]
    cached = await client.get(
        "/v1/catalog/items", params={"q": "社保"}, headers={"If-None-Match": one.headers["ETag"]}
    )
    assert cached.status == 304
