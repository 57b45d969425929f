"""Finding an item as the applicant names it, and reading its guide.

The search is the catalogue's own (`SearchIndex`, the one ``GET /v1/catalog/items``
uses): Chinese, pinyin, initials, short forms and codes. Any region's item can be
opened from any centre: the centre takes it in, the item's region decides it.
Only the roles that take applications search and open items (`menu.INTAKE`).
"""

from __future__ import annotations

from aiohttp import web

from gateway.app_keys import CATALOG
from gateway.catalog.catalog import Catalog
from gateway.catalog.models import Item
from gateway.console.auth import render, session_of, staff_page
from gateway.console.menu import INTAKE

routes = web.RouteTableDef()

MAX_QUERY = 100
SHOWN = 30


def region_names(catalog: Catalog) -> dict[str, str]:
    return {key: region.name_zh for key, region in catalog.regions.items()}


def item_or_404(catalog: Catalog, code: str) -> Item:
    item = catalog.get(code)
    if item is None:
        raise web.HTTPNotFound(text=f"目录中没有编码为 {code} 的事项，请重新搜索。")
    return item


@routes.get("/search")
@staff_page(*INTAKE)
async def search(request: web.Request) -> web.StreamResponse:
    catalog = request.config_dict[CATALOG]
    query = request.query.get("q", "").strip()[:MAX_QUERY]
    region = request.query.get("region") or None
    if region not in catalog.regions:
        region = None
    hits = catalog.search_index.search(query, region=region) if query else []
    return render(
        "search.html",
        request,
        {
            "query": query,
            "region": region,
            "regions": region_names(catalog),
            "total": len(hits),
            "hits": [hit.item for hit in hits[:SHOWN]],
            "own_region": session_of(request).account.centre_region,
        },
    )


@routes.get("/items/{code}")
@staff_page(*INTAKE)
async def item_page(request: web.Request) -> web.StreamResponse:
    catalog = request.config_dict[CATALOG]
    item = item_or_404(catalog, request.match_info["code"])
    account = session_of(request).account
    return render(
        "item.html",
        request,
        {
            "item": item,
            "regions": region_names(catalog),
            "own_region": account.centre_region,
            "query": request.query.get("q", ""),
        },
    )
