"""Fixtures for adapter integration tests: a sandbox on a free loopback port, a callback
receiver that runs the adapter's own `parse_callback`, and the shared outbound client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from support.loopback import serve_endpoint
from support.region_helpers import Receiver, SandboxFactory

from adapters.http import AiohttpClient
from adapters.sandbox import SandboxOptions


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver()
    async with serve_endpoint("/cb", state.handle) as url:
        state.url = url
        yield state


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
