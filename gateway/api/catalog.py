"""REST: the service catalogue, cacheable by partners.

``GET /v1/catalog/items`` searches and pages the catalogue (summaries);
``GET /v1/catalog/items/{code}`` returns one item in full. Both answer with a
strong ``ETag`` derived from the content and honour ``If-None-Match`` with 304,
so a partner polling the catalogue transfers it only when it changed.
"""

from __future__ import annotations

import hashlib
from typing import Any

from aiohttp import web

from gateway.api.params import range_zh, whole_number
from gateway.app_keys import CATALOG
from gateway.catalog.catalog import Catalog
from gateway.catalog.models import HandlingMode, TaskType
from gateway.catalog.search import summary
from gateway.http.responses import json_response
from gateway.problems import Problem

"""The loaded catalogue; `gateway.app.CATALOG` is this key (the app factory sets it)."""

CACHE_CONTROL = "public, max-age=300"
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_PAGE = 10_000
MAX_TEXT = 100
PARAMETERS = (
    "q",
    "region",
    "department",
    "mode",
    "type",
    "high_frequency",
    "page",
    "page_size",
)

routes = web.RouteTableDef()


@routes.get("/v1/catalog/items")
async def list_items(request: web.Request) -> web.StreamResponse:
    """Search the catalogue; every bad parameter is named in one 422."""
    catalog = request.app[CATALOG]
    query = _parse_query(request, catalog)
    etag = _etag(catalog.etag, repr(sorted(query.items())))
    if _not_modified(request, etag):
        return _not_modified_response(etag)
    hits = catalog.search_index.search(
        query["q"],
        region=query["region"],
        department=query["department"],
        mode=query["mode"],
        task_type=query["type"],
        high_frequency=query["high_frequency"],
    )
    number, size = query["page"], query["page_size"]
    shown = hits[(number - 1) * size : number * size]
    body = {
        "total": len(hits),
        "page": number,
        "page_size": size,
        "items": [
            {**summary(hit.item), "href": f"/v1/catalog/items/{hit.item.code}"} for hit in shown
        ],
    }
    return json_response(body, headers=_cache_headers(etag))


@routes.get("/v1/catalog/items/{code}")
async def get_item(request: web.Request) -> web.StreamResponse:
    """One item in full, or 404 problem+json."""
    catalog = request.app[CATALOG]
    code = request.match_info["code"]
    item = catalog.get(code)
    if item is None:
        raise Problem(
            404,
            "Item not found",
            f"目录中没有编码为 {code} 的事项。",
            type_="catalog-item-not-found",
            code=code,
        )
    etag = _etag(catalog.etag, code)
    if _not_modified(request, etag):
        return _not_modified_response(etag)
    return json_response(item.model_dump(mode="json"), headers=_cache_headers(etag))


def _parse_query(request: web.Request, catalog: Catalog) -> dict[str, Any]:
    errors: list[dict[str, str]] = []

    def fail(field: str, message: str) -> None:
        errors.append({"field": field, "message": message})

    params = request.query
    for name in params:
        if name not in PARAMETERS:
            fail(name, f"不是可用的参数，可用参数：{'、'.join(PARAMETERS)}")
        elif len(params.getall(name)) > 1:
            fail(name, "参数重复出现")
    parsed: dict[str, Any] = {}
    for name in ("q", "department"):
        value = params.get(name, "").strip()
        if len(value) > MAX_TEXT:
            fail(name, f"最多 {MAX_TEXT} 个字符")
        parsed[name] = value
    parsed["department"] = parsed["department"] or None
    region = params.get("region") or None
    if region is not None and region not in catalog.regions:
        fail("region", f"不是目录中的地区，可选：{'、'.join(catalog.regions)}")
    parsed["region"] = region
    parsed["mode"] = _enum(params.get("mode"), HandlingMode, "mode", fail)
    parsed["type"] = _task_type(params.get("type"), fail)
    parsed["high_frequency"] = _boolean(params.get("high_frequency"), fail)
    parsed["page"] = _integer(params.get("page"), "page", 1, MAX_PAGE, 1, fail)
    parsed["page_size"] = _integer(
        params.get("page_size"), "page_size", 1, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE, fail
    )
    if errors:
        raise Problem(
            422,
            "Invalid query parameters",
            "查询参数有误：" + "；".join(f"{e['field']} {e['message']}" for e in errors),
            type_="invalid-query",
            errors=errors,
        )
    return parsed


def _enum(value: str | None, kind: type[HandlingMode], field: str, fail: Any) -> Any:
    if not value:
        return None
    try:
        return kind(value)
    except ValueError:
        fail(field, f"应为以下之一：{'、'.join(m.value for m in kind)}")
        return None


def _task_type(value: str | None, fail: Any) -> TaskType | None:
    if not value:
        return None
    try:
        return TaskType.from_code(value) if value.isdigit() else TaskType(value)
    except ValueError:
        known = "、".join(f"{t.value}（{t.code}）" for t in TaskType)
        fail("type", f"应为事项类型名称或其两位编码：{known}")
        return None


def _boolean(value: str | None, fail: Any) -> bool | None:
    if value is None or value == "":
        return None
    lowered = value.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    fail("high_frequency", "应为 true 或 false")
    return None


def _integer(value: str | None, field: str, low: int, high: int, default: int, fail: Any) -> int:
    if value is None or value == "":
        return default
    try:
        return whole_number(value, low=low, high=high)
    except ValueError:
        fail(field, range_zh(low, high))
        return default


def _etag(*parts: str) -> str:
    digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]
    return f'"{digest}"'


def _not_modified(request: web.Request, etag: str) -> bool:
    header = request.headers.get("If-None-Match")
    if header is None:
        return False
    # Weak comparison, as RFC 9110 asks for If-None-Match.
    candidates = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in candidates or etag in candidates


def _not_modified_response(etag: str) -> web.Response:
    return web.Response(status=304, headers=_cache_headers(etag))


def _cache_headers(etag: str) -> dict[str, str]:
    return {"ETag": etag, "Cache-Control": CACHE_CONTROL}
