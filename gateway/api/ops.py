"""The ops REST API: the delivery queue and dead-letter replay (as `tongban deliveries`).

Guarded by a bearer token from ``ops.token``; with none configured the routes answer
404, so an unconfigured gateway exposes nothing. Listings carry no personal data.
"""

from __future__ import annotations

import hmac

from aiohttp import web

from gateway.api.params import range_zh, whole_number
from gateway.app_keys import APPLICATIONS, SETTINGS, STORE
from gateway.applications.relay_outcomes import ApplicationOutcomes
from gateway.http.responses import json_response
from gateway.problems import Problem
from gateway.relay import deliveries
from gateway.relay.replay import replay_all_failed, replay_delivery

routes = web.RouteTableDef()


def require_ops(request: web.Request) -> str:
    """The ops actor for a request bearing ``ops.token``; else a 404 (no token set) or
    401 problem. Every ops route (``/v1/ops/...``, ``/v1/trace/{id}``) calls it first."""
    token = request.app[SETTINGS].ops.token
    if token is None:
        raise Problem(404, detail="本网关未开启运维接口（未设置 ops.token）", type_="not-found")
    presented = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(presented.encode(), token.get_secret_value().encode()):
        raise Problem(
            401,
            detail="运维请求须带 Authorization: Bearer <ops.token>",
            type_="ops-token-required",
            headers={"WWW-Authenticate": 'Bearer realm="tongban-ops"'},
        )
    return "ops:api"


@routes.get("/v1/ops/deliveries")
async def list_deliveries(request: web.Request) -> web.Response:
    require_ops(request)
    state = request.query.get("state")
    if state is not None and state not in deliveries.STATES:
        raise Problem(
            422,
            detail=f"state 应为以下之一：{'、'.join(deliveries.STATES)}",
            type_="invalid-query",
            errors=[{"field": "state", "message": "不是已知的投递状态"}],
        )
    try:
        limit = whole_number(request.query.get("limit", "100"), low=1, high=10_000)
    except ValueError:
        raise Problem(
            422,
            detail="limit " + range_zh(1, 10_000),
            type_="invalid-query",
            errors=[{"field": "limit", "message": range_zh(1, 10_000)}],
        ) from None
    async with request.app[STORE].read() as conn:
        rows = await deliveries.list_deliveries(
            conn, state=state, destination=request.query.get("region"), limit=limit
        )
    return json_response({"deliveries": rows})


@routes.post("/v1/ops/deliveries/{id}/replay")
async def replay_one(request: web.Request) -> web.Response:
    actor = require_ops(request)
    result = await replay_delivery(
        request.app[STORE],
        request.match_info["id"],
        actor=actor,
        listener=ApplicationOutcomes(request.app[APPLICATIONS].journal),
    )
    if not result.replayed:
        status = 404 if result.reason == "no such delivery" else 409
        detail = "没有这条投递" if status == 404 else f"此投递现在不能重放：{result.reason}"
        raise Problem(
            status,
            detail=detail,
            type_="delivery-not-found" if status == 404 else "replay-refused",
            reason=result.reason,
            delivery_id=result.delivery_id,
        )
    return json_response(result.as_dict())


@routes.post("/v1/ops/deliveries/replay-failed")
async def replay_failed(request: web.Request) -> web.Response:
    actor = require_ops(request)
    results = await replay_all_failed(
        request.app[STORE],
        actor=actor,
        listener=ApplicationOutcomes(request.app[APPLICATIONS].journal),
        destination=request.query.get("region"),
    )
    return json_response({"results": [r.as_dict() for r in results]})
