"""Liveness and readiness.

``/healthz`` answers while the process serves requests. ``/readyz`` runs every
registered readiness check (the store now; adapters and relay as they arrive) and
answers 503 if any fails, so a load balancer stops sending traffic.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from gateway import __version__
from gateway.app_keys import READINESS_CHECKS, ReadinessCheck
from gateway.errors import TongbanError
from gateway.http.responses import json_response

CHECK_TIMEOUT_SECONDS = 2.0

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok", "version": __version__})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    checks = request.app[READINESS_CHECKS]
    results = await asyncio.gather(*(_run(check) for check in checks.values()))
    report = dict(zip(checks, results, strict=True))
    ready = all(result["ok"] for result in report.values())
    return json_response(
        {"status": "ready" if ready else "not_ready", "checks": report},
        status=200 if ready else 503,
    )


async def _run(check: ReadinessCheck) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            details = await check()
    except TimeoutError:
        return {"ok": False, "error": f"no answer within {CHECK_TIMEOUT_SECONDS:g} s"}
    except TongbanError as exc:
        return {"ok": False, "error": str(exc)}
    elapsed_ms = round((time.perf_counter() - started) * 1000, 2)
    return {"ok": True, "latency_ms": elapsed_ms, **details}
