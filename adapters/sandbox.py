"""What every region sandbox shares: the HTTP server around the simulated authority.

A sandbox is a real aiohttp server speaking one region's native protocol (the
region's module renders and parses its messages); this module holds the part that
is the same everywhere. The cases and their simulated review are in
`adapters.sandbox_cases` (re-exported here, so a region's sandbox imports one module).

- `fault_middleware` injects latency, transient errors (in the region's own form),
  responses lost *after* the case was created, and down windows.
- `SandboxCore.seen` keeps the trace headers (``X-Request-ID``, ``traceparent``)
  of the latest business requests, so tests can check a trace reached the region.
- ``GET /_sandbox/cases`` lists the cases (``GET /_sandbox/count``: how many, for
  callers that poll while thousands arrive); ``POST /_sandbox/down?seconds=S`` starts a
  down window. Neither is subject to faults.
- `Pusher` posts results to the gateway's callback; `Nonces` spots replayed requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, TypeVar

import aiohttp
import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from adapters.base import AdapterSettings, validate_region_settings
from adapters.sandbox_cases import (
    FOLLOW_UPS,
    CaseEvent,
    OnEvent,
    Review,
    SandboxCase,
    SandboxCore,
    SandboxError,
    SandboxOptions,
    decide,
    follow_up,
    json_follow_up,
    json_review,
    resident_id_valid,
)

log = structlog.get_logger("adapters.sandbox")

FollowUpHandler = Callable[[web.Request, str], Awaitable[web.StreamResponse]]


def add_follow_up_routes(
    routes: web.RouteTableDef, paths: Mapping[str, str], handle: FollowUpHandler
) -> None:
    """``POST paths[kind]`` for each of `FOLLOW_UPS`, answered by ``handle(request, kind)``."""
    for kind in FOLLOW_UPS:

        async def route(request: web.Request, kind: str = kind) -> web.StreamResponse:
            return await handle(request, kind)

        routes.post(paths[kind])(route)


class Nonces:
    """The nonces a signed protocol has seen: a repeated one is a replayed request."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def first_use(self, nonce: str) -> bool:
        """True the first time `nonce` is seen, False (a replay) every time after."""
        if nonce in self._seen:
            return False
        self._seen.add(nonce)
        return True


TransientReply = Callable[[str], web.Response]
"""Renders the region's own "busy / down" answer for a message."""

_SANDBOX_PREFIX = "/_sandbox/"


def fault_middleware(core: SandboxCore, transient: TransientReply) -> Any:
    """Latency, transient errors, lost responses and down windows for business routes."""

    @web.middleware
    async def faults(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(_SANDBOX_PREFIX):
            return await handler(request)
        # Recorded before any fault: a region that is down still saw the request arrive.
        core.seen.append(
            {
                "path": request.path,
                "request_id": request.headers.get("X-Request-ID"),
                "traceparent": request.headers.get("traceparent"),
            }
        )
        options = core.options
        if time.monotonic() < core.down_until:
            return transient("系统维护中")
        if options.latency_ms:
            await asyncio.sleep(options.latency_ms / 1000)
        if options.fault_rate and core.random.random() < options.fault_rate:
            return transient("系统繁忙，请稍后重试")
        response = await handler(request)
        if options.drop_response_rate and core.random.random() < options.drop_response_rate:
            # The work is done (the case exists); the caller never hears of it.
            log.info("sandbox.response_dropped", path=request.path)
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError
        return response

    return faults


CORE = web.AppKey("sandbox_core", SandboxCore)
SETTINGS = web.AppKey("sandbox_settings", AdapterSettings)
"""The region's settings the sandbox runs with (``tongban sandbox`` listens on its url's port)."""

SettingsT = TypeVar("SettingsT", bound=AdapterSettings)


def sandbox_settings(
    model: type[SettingsT], region: str, table: Mapping[str, Any], options: SandboxOptions
) -> SettingsT:
    """The ``[adapters.REGION]`` table the sandbox shares with the adapter, validated by the
    region's model (demo defaults included); `ConfigError` naming a bad key and where."""
    return validate_region_settings(model, region, table, options.origin_of)


class Pusher:
    """The region's side of callbacks: one client session, retries per result."""

    UNREACHABLE_SECONDS = 15.0

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def post(self, url: str, data: bytes, headers: dict[str, str]) -> bytes | None:
        """POST a result; the response body once the receiver took it (2xx), else None."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        # A refusal is retried briefly; a gateway that does not answer at all (restarting)
        # for up to UNREACHABLE_SECONDS, as a region's system keeps a result to push.
        refusals, attempt = 0, 0
        give_up_at = time.monotonic() + self.UNREACHABLE_SECONDS
        while refusals < 3 and time.monotonic() < give_up_at:
            with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                async with self._session.post(url, data=data, headers=headers) as response:
                    body = await response.read()
                    if response.status < 300:
                        return body
                    refusals += 1
                    log.warning("sandbox.push_refused", url=url, status=response.status)
            await asyncio.sleep(min(0.05 * 2**attempt, 1.0))
            attempt += 1
        log.warning("sandbox.push_failed", url=url)
        return None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def sandbox_app(
    core: SandboxCore,
    routes: web.RouteTableDef,
    transient: TransientReply,
    settings: AdapterSettings,
    pusher: Pusher | None = None,
) -> web.Application:
    """An aiohttp app: the region's `routes`, faults, and the ``/_sandbox`` routes."""
    app = web.Application(middlewares=[fault_middleware(core, transient)])
    app[CORE] = core
    app[SETTINGS] = settings
    app.router.add_routes(routes)

    async def list_cases(request: web.Request) -> web.Response:
        return web.json_response({"cases": request.app[CORE].listing()})

    async def count_cases(request: web.Request) -> web.Response:
        return web.json_response({"cases": len(request.app[CORE].cases)})

    async def go_down(request: web.Request) -> web.Response:
        seconds = float(request.query.get("seconds", "5"))
        request.app[CORE].down_until = time.monotonic() + seconds
        return web.json_response({"down_for": seconds})

    app.router.add_get("/_sandbox/cases", list_cases)
    app.router.add_get("/_sandbox/count", count_cases)
    app.router.add_post("/_sandbox/down", go_down)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        yield
        await core.aclose()
        if pusher is not None:
            await pusher.aclose()

    app.cleanup_ctx.append(lifecycle)
    return app


__all__ = [
    "CORE",
    "FOLLOW_UPS",
    "SETTINGS",
    "CaseEvent",
    "FollowUpHandler",
    "Nonces",
    "OnEvent",
    "Pusher",
    "Review",
    "SandboxCase",
    "SandboxCore",
    "SandboxError",
    "SandboxOptions",
    "TransientReply",
    "add_follow_up_routes",
    "decide",
    "fault_middleware",
    "follow_up",
    "json_follow_up",
    "json_review",
    "resident_id_valid",
    "sandbox_app",
    "sandbox_settings",
]
