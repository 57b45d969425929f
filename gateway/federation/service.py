"""The federation's running parts: peers' keys kept current, and the witness.

`federation_context` is a `cleanup_ctx` after the partner authenticator: it fetches
the peers' JWK Sets in the background (a peer that is down does not stop our
start), lets the authenticator look again for a key id no partner has, and runs
the witness over every peer's audit log (its ``/readyz`` detail and gauge).
`setup_federation` registers it and the ``/v1/audit/witness`` route.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web
from prometheus_client import Gauge

from gateway.app_keys import (
    AUTHENTICATOR,
    HTTP_CLIENT,
    METRICS,
    PEER_KEYS,
    READINESS_CHECKS,
    SETTINGS,
    STORE,
    WITNESS,
)
from gateway.federation.cosign import routes
from gateway.federation.keys import PeerKeys
from gateway.federation.witness import Witness


def setup_federation(app: web.Application) -> None:
    """Register the federation's context (after the authenticator) and routes."""
    app.cleanup_ctx.append(federation_context)
    app.router.add_routes(routes)


async def federation_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if not settings.federation.peers:
        yield
        return
    authenticator = app[AUTHENTICATOR]
    keys = PeerKeys(settings.federation, authenticator.registry, app[HTTP_CLIENT])
    app[PEER_KEYS] = keys
    authenticator.key_finder = keys.find
    witness = Witness(
        settings.federation, app[STORE], app[HTTP_CLIENT], on_inconsistent=_gauge(app)
    )
    app[WITNESS] = witness

    async def witness_ready() -> dict[str, Any]:
        return witness.readiness()

    app[READINESS_CHECKS]["witness"] = witness_ready
    tasks = [
        asyncio.create_task(keys.fetch_all(), name="federation-jwks"),
        asyncio.create_task(witness.run(), name="federation-witness"),
    ]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _gauge(app: web.Application) -> Callable[[str], None] | None:
    """``tongban_witness_inconsistent{peer}``: 1 once a peer's log was found rewritten."""
    metrics = app.get(METRICS)
    if metrics is None:
        return None
    gauge = Gauge(
        "tongban_witness_inconsistent",
        "1 for a peer gateway whose audit log shrank or forked since we witnessed it.",
        ["peer"],
        registry=metrics.registry,
    )

    def mark(peer: str) -> None:
        gauge.labels(peer=peer).set(1)

    return mark
