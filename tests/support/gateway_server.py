"""The gateway served for tests as in production: `GatewayRunner`, not plain aiohttp.

`GatewayTestServer` is aiohttp's `TestServer` running the app with the gateway's
connection rules (timeouts, per-address cap, problem+json for unparsable requests),
so tests see what a partner sees. `raw_exchange` talks to it over a bare socket, for
what a well-behaved client library would never send.

This serves an app built in the test's own process. For the gateway as operators run
it (`tongban serve` in a process of its own, signals, CLI commands beside it) see
`support.ops_gateway.GatewayProcess`; for one that async tests kill with SIGKILL and
restart (crash tests, federation) see `support.serve_process.ServeProcess`.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiohttp.test_utils import TestServer
from aiohttp.web_runner import BaseRunner

from gateway.app_keys import SETTINGS
from gateway.server import GatewayRunner


class GatewayTestServer(TestServer):
    """`TestServer` with the gateway's runner and the app's own ``server`` settings."""

    async def _make_runner(self, **kwargs: Any) -> BaseRunner:
        # As `serve` does: a client going away does not cancel its handler.
        kwargs.pop("handler_cancellation", None)
        return GatewayRunner(self.app, self.app[SETTINGS].server, **kwargs)


async def raw_exchange(
    port: int, data: bytes, *, close_after_send: bool = False, wait: float = 10.0
) -> bytes:
    """Send `data` to 127.0.0.1:`port`; return all the server sends until it closes
    (or nothing, when `close_after_send` drops the connection at once)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        if close_after_send:
            return b""
        async with asyncio.timeout(wait):
            return await reader.read()
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):  # a refused connection may be reset
            await writer.wait_closed()


def status_and_body(raw: bytes) -> tuple[int, bytes, str]:
    """The status code, body and raw head of one HTTP/1.1 response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, body, head.decode("latin-1")
