"""Fixtures for adapter integration tests: a sandbox on a free loopback port, a callback
receiver that runs the adapter's own `parse_callback`, and the shared outbound client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from adapters.http import AiohttpClient
from adapters.sandbox import SandboxOptions
from gateway.errors import CallbackRejected
from regions.region_helpers import Receiver, SandboxFactory


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver()

    async def callback(request: web.Request) -> web.Response:
        assert state.adapter is not None
        try:
            events = await state.adapter.parse_callback(request)
        except CallbackRejected as exc:
            state.refused.append(exc)
            return state.adapter.callback_reply(exc)
        state.events.extend(events)
        state.changed.set()
        return state.adapter.callback_reply(None)

    app = web.Application()
    app.router.add_post("/cb", callback)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    state.url = str(server.make_url("/cb"))
    yield state
    await server.close()


@pytest.fixture
async def start_sandbox() -> AsyncIterator[Callable[..., Any]]:
    """Start a sandbox app on a free loopback port; returns its base URL."""
    servers: list[TestServer] = []

    async def start(
        factory: SandboxFactory,
        region: str,
        *,
        settings: dict[str, str] | None = None,
        **options: Any,
    ) -> str:
        options.setdefault("review_delay", 0.01)
        app = factory(SandboxOptions(**options), settings or {})
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return str(server.make_url("")).rstrip("/")

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
async def http() -> AsyncIterator[AiohttpClient]:
    client = AiohttpClient(timeout=2.0, connect_timeout=1.0)
    yield client
    await client.aclose()
