"""``POST /v1/regions/{region}/callbacks``: results pushed by a region.

The region's adapter verifies and parses the body (each region signs its own way);
the events are applied and committed; only then is the region answered in its own
protocol, so a region that gets no answer pushes again and nothing is lost.
Repeats change nothing: events are deduplicated by id.
"""

from __future__ import annotations

import structlog
from aiohttp import web

from adapters.base import PushAdapter
from gateway.app_keys import ADAPTERS, APPLICATIONS, STORE
from gateway.applications.region_events import apply_events
from gateway.errors import CallbackRejected
from gateway.problems import Problem

routes = web.RouteTableDef()
log = structlog.get_logger(__name__)


@routes.post("/v1/regions/{region}/callbacks")
async def region_callback(request: web.Request) -> web.StreamResponse:
    region = request.match_info["region"]
    adapter = request.app[ADAPTERS].get(region)
    if not isinstance(adapter, PushAdapter):
        raise Problem(
            404,
            "Unknown region",
            "没有向本网关推送结果的这个地区",
            type_="region-not-found",
        )
    with structlog.contextvars.bound_contextvars(region=region):
        try:
            events = await adapter.parse_callback(request)
        except CallbackRejected as exc:
            log.warning("region.callback_refused", reason=exc.reason)
            return adapter.callback_reply(exc)
        journal = request.app[APPLICATIONS].journal
        await apply_events(request.app[STORE], events, journal=journal)
        return adapter.callback_reply(None)
