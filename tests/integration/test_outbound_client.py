"""The shared aiohttp client translates every transport failure into RegionUnavailable."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from support.loopback import free_port

from adapters.http import AiohttpClient
from gateway.errors import RegionUnavailable


@pytest.fixture
async def server() -> AsyncIterator[str]:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response()

    async def hang_up(request: web.Request) -> web.Response:
        assert request.transport is not None
        request.transport.abort()
        raise asyncio.CancelledError

    async def echo(request: web.Request) -> web.Response:
        return web.json_response(dict(request.headers), status=503, headers={"Retry-After": "3"})

    app = web.Application()
    app.router.add_post("/slow", slow)
    app.router.add_post("/hang-up", hang_up)
    app.router.add_post("/echo", echo)
    async with TestServer(app, host="127.0.0.1") as test_server:
        yield str(test_server.make_url("")).rstrip("/")


@pytest.fixture
async def client() -> AsyncIterator[AiohttpClient]:
    http = AiohttpClient(timeout=2, connect_timeout=1)
    yield http
    await http.aclose()


async def test_timeout_is_region_unavailable(server: str, client: AiohttpClient) -> None:
    with pytest.raises(RegionUnavailable, match=r"no answer within 0\.2 s") as caught:
        await client.request("POST", server + "/slow", region="x", timeout=0.2)
    assert caught.value.region == "x"


async def test_dropped_connection_is_region_unavailable(server: str, client: AiohttpClient) -> None:
    with pytest.raises(RegionUnavailable, match="closed before the response"):
        await client.request("POST", server + "/hang-up", region="x")


async def test_refused_connection_is_region_unavailable(client: AiohttpClient) -> None:
    with pytest.raises(RegionUnavailable):
        await client.request("POST", f"http://127.0.0.1:{free_port()}/", region="x")


async def test_http_errors_are_returned_not_raised(server: str, client: AiohttpClient) -> None:
    """Only the adapter knows what a region's 503 means; the client hands it over."""
    response = await client.request(
        "POST", server + "/echo", region="x", content=b"{}", headers={"X-Request-ID": "r1"}
    )
    assert response.status == 503
    assert response.headers["Retry-After"] == "3"
    assert b'"X-Request-ID": "r1"' in response.body
