"""``GET /metrics``: the Prometheus exposition of the app's own registry.

The store-derived gauges come from `gateway.observability.store_metrics` (read
at most once per ``metrics.store_cache_seconds``); breaker states are read from
the relay's lanes at scrape time.
"""

from __future__ import annotations

from aiohttp import web

from gateway.app_keys import METRICS, METRICS_CACHE, RELAY
from gateway.observability.metrics import CONTENT_TYPE_LATEST, GatewayMetrics
from gateway.observability.store_metrics import ScrapeCache, refresh

routes = web.RouteTableDef()


def setup_metrics(app: web.Application, metrics: GatewayMetrics) -> None:
    """Give `app` its metrics and the HTTP middleware's data, and serve ``GET /metrics``."""
    app[METRICS] = metrics
    app[METRICS_CACHE] = ScrapeCache()
    app.router.add_routes(routes)


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """The Prometheus text exposition (version 0.0.4)."""
    app = request.app
    await refresh(app)
    worker = app.get(RELAY)
    if worker is not None:
        app[METRICS].breakers({r: lane.breaker.state.value for r, lane in worker.lanes.items()})
    response = web.Response(body=app[METRICS].exposition())
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response
