"""``GET /v1/trace/{id}``: the timeline ops read (as ``tongban trace``).

An ops route: it takes the ``ops.token`` bearer token like ``/v1/ops/...`` (404
when none is configured). The id may be a request id, application id, region
case number or trace id; nothing matching is a 404 problem. Personal data appears
only masked.
"""

from __future__ import annotations

from aiohttp import web

from gateway.api.ops import require_ops
from gateway.app_keys import SETTINGS, STORE
from gateway.http.responses import json_response
from gateway.problems import Problem
from gateway.trace.timeline import find_trace

routes = web.RouteTableDef()


@routes.get("/v1/trace/{id}")
async def get_trace(request: web.Request) -> web.Response:
    """Every application the id names, each with its timeline, status, due dates and totals."""
    require_ops(request)
    identifier = request.match_info["id"]
    result = await find_trace(
        request.app[STORE],
        identifier,
        due_soon_days=request.app[SETTINGS].applications.due_soon_working_days,
    )
    if not result["applications"]:
        raise Problem(
            404,
            "Nothing to trace",
            "没有与此编号对应的办件、请求、追踪或地区受理编号",
            type_="trace-not-found",
        )
    return json_response(result)
