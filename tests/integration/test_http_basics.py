"""The app over real HTTP on loopback: health, readiness, problem+json, request ids."""

from __future__ import annotations

import re

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from structlog.typing import EventDict

from gateway.app import STORE, create_app
from gateway.config import Settings

Client = TestClient[web.Request, web.Application]
PROBLEM = "application/problem+json"


async def test_healthz(client: Client) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert (await response.json())["status"] == "ok"


async def test_readyz_reports_the_store(backend_settings: Settings) -> None:
    expected = "postgres" if backend_settings.store_url.startswith("postgres") else "sqlite"
    async with TestClient(TestServer(create_app(backend_settings), host="127.0.0.1")) as client:
        response = await client.get("/readyz")
        body = await response.json()
    assert response.status == 200
    assert body["status"] == "ready"
    assert body["checks"]["store"]["ok"] is True
    assert body["checks"]["store"]["backend"] == expected


async def test_readyz_is_503_when_the_store_is_gone(backend_settings: Settings) -> None:
    async with TestClient(TestServer(create_app(backend_settings), host="127.0.0.1")) as client:
        await client.app[STORE].aclose()
        response = await client.get("/readyz")
        body = await response.json()
    assert response.status == 503
    assert body["checks"]["store"] == {"ok": False, "error": "the store is closed"}


async def test_404_is_problem_json(client: Client) -> None:
    response = await client.get("/nowhere")
    assert response.status == 404
    assert response.content_type == PROBLEM
    body = await response.json()
    assert body["type"] == "https://tongban.example/problems/not-found"
    assert body["detail"] == "此地址没有对应的资源"
    assert body["title"] == "Not Found"
    assert body["status"] == 404
    assert body["instance"] == "/nowhere"
    assert body["request_id"] == response.headers["X-Request-ID"]


async def test_405_is_problem_json_with_allow(client: Client) -> None:
    response = await client.post("/healthz")
    assert response.status == 405
    assert response.content_type == PROBLEM
    assert "GET" in response.headers["Allow"]
    body = await response.json()
    assert body["status"] == 405
    assert "POST" in body["detail"]


async def test_internal_error_is_problem_json_without_internals(
    settings: Settings, logs: list[EventDict]
) -> None:
    app = create_app(settings)

    async def explode(request: web.Request) -> web.Response:
        raise RuntimeError("secret database password in a stack trace")

    app.router.add_get("/explode", explode)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        response = await client.get("/explode", headers={"X-Request-ID": "req-500"})
        text = await response.text()
    assert response.status == 500
    assert response.content_type == PROBLEM
    assert "secret" not in text
    assert "Traceback" not in text
    errors = [e for e in logs if e["event"] == "http.unhandled_error"]
    assert len(errors) == 1
    assert errors[0]["request_id"] == "req-500"
    assert errors[0]["exc_info"] is True


async def test_generated_request_id_is_echoed(client: Client) -> None:
    response = await client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


async def test_sane_incoming_request_id_is_kept(client: Client) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "dg-window-07:4711"})
    assert response.headers["X-Request-ID"] == "dg-window-07:4711"


@pytest.mark.parametrize("bad", ["a b", "x" * 129, "<script>", 'quote"d'])
async def test_malformed_incoming_request_id_is_replaced(client: Client, bad: str) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": bad})
    assert response.headers["X-Request-ID"] != bad
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


async def test_request_id_is_bound_into_log_events(client: Client, logs: list[EventDict]) -> None:
    await client.get("/healthz", headers={"X-Request-ID": "trace-me"})
    requests = [e for e in logs if e["event"] == "http.request"]
    assert requests
    assert requests[0]["request_id"] == "trace-me"
    assert requests[0]["status"] == 200
    assert requests[0]["path"] == "/healthz"


async def test_installation_id_survives_restart(backend_settings: Settings) -> None:
    from gateway.app import INSTALLATION_ID

    seen = []
    for _ in range(2):
        app = create_app(backend_settings)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            seen.append(client.app[INSTALLATION_ID])
    assert seen[0] == seen[1]
