"""What tests that run real servers on loopback share: free ports, a fast relay, and a
one-route endpoint for what the gateway or an adapter calls back."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from aiohttp import web
from aiohttp.test_utils import TestServer
from aiohttp.typedefs import Handler


def adapter_urls(urls: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """``adapters`` settings that point each region at its sandbox: ``{region: {"url": u}}``."""
    return {region: {"url": url} for region, url in urls.items()}


# Relay timings for tests: retries, breakers and polls in tens of milliseconds.
FAST_RELAY = {
    "poll_interval": 0.05,
    "in_call_attempts": 1,
    "shutdown_grace_seconds": 1.0,
    "default": {
        "retry_base_seconds": 0.05,
        "retry_max_seconds": 0.2,
        "breaker_failures": 3,
        "breaker_reset_seconds": 0.2,
        "poll_seconds": 0.1,
    },
}


@asynccontextmanager
async def serve_endpoint(path: str, handler: Handler) -> AsyncIterator[str]:
    """Serve `handler` for POSTs to `path` on a free 127.0.0.1 port; yields its URL."""
    app = web.Application()
    app.router.add_post(path, handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url(path))
    finally:
        await server.close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
