"""Every operation in contracts/openapi.yaml, fed what a hostile client sends: a JSON
body nested 20,000 deep, huge numbers (in the body and in every parameter), a broken
multipart body, and a connection dropped mid-body. None may get a 5xx, and none may
make the gateway log at ERROR: a new route is covered the day it enters the contract.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from structlog.typing import EventDict
from support.examples import example, upload_examples
from support.fixture_types import CatalogueSettings
from support.gateway_server import GatewayTestServer, raw_exchange
from support.openapi import load_spec
from support.partner_signing import PARTNER, SignedClient

from gateway.app import create_app

OPS_TOKEN = "hostile-test-ops-token"  # noqa: S105 - a test token
DEEP = b"[" * 20_000 + b"]" * 20_000
HUGE = "9" * 5000
BROKEN_MULTIPART = ("multipart/form-data; boundary=x", b"--x\r\nzzz")
METHODS = ("get", "post", "put", "patch", "delete")


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    spec = load_spec()
    found = []
    for path, item in spec["paths"].items():
        shared = item.get("parameters", [])
        for method in METHODS:
            if method in item:
                operation = dict(item[method])
                operation["parameters"] = shared + operation.get("parameters", [])
                found.append((method.upper(), path, operation))
    return found


OPERATIONS = operations()


@pytest.fixture
async def gateway(catalogue_settings: CatalogueSettings) -> AsyncIterator[SignedClient]:
    settings = catalogue_settings(ops={"token": OPS_TOKEN}, server={"body_timeout": 2.0})
    async with TestClient(GatewayTestServer(create_app(settings), host="127.0.0.1")) as client:
        signed = SignedClient(client, PARTNER)
        await upload_examples(signed)
        yield signed


def concrete(path: str, application_id: str) -> str:
    return (
        path.replace("{id}", application_id)
        .replace("{code}", "TEST-SZ-HUKOU")
        .replace("{seq}", "0")
        .replace("{region}", "shenzhen")
    )


def query_of(operation: dict[str, Any], value: str) -> str:
    names = [p["name"] for p in operation["parameters"] if "name" in p and p.get("in") == "query"]
    return "&".join(f"{name}={value}" for name in names)


async def send(client: SignedClient, method: str, url: str, body: bytes, content_type: str) -> int:
    headers = {
        "Content-Type": content_type,
        "Authorization": f"Bearer {OPS_TOKEN}",
    }
    response = await client.request(method, url, data=body, headers=headers)
    await response.read()
    return response.status


def errors_in(logs: list[EventDict]) -> list[EventDict]:
    return [e for e in logs if e.get("log_level") in ("error", "critical", "exception")]


async def test_no_operation_answers_5xx_or_logs_an_error_for_hostile_input(
    gateway: SignedClient, logs: list[EventDict], caplog: pytest.LogCaptureFixture
) -> None:
    accepted = await gateway.post("/v1/applications", json=example("proxy_person"))
    assert accepted.status == 202  # a real id, so {id} routes get past their 404
    application_id = (await accepted.json())["id"]
    server_errors: list[str] = []
    for method, template, operation in OPERATIONS:
        path = concrete(template, application_id)
        huge_numbers = b'{"level": 1' + HUGE.encode() + b', "page": 1e999999}'
        cases = [
            ("deep JSON", path, DEEP, "application/json"),
            ("huge numbers in the body", path, huge_numbers, "application/json"),
            ("broken multipart", path, BROKEN_MULTIPART[1], BROKEN_MULTIPART[0]),
        ]
        for value in (HUGE, "²"):
            query = query_of(operation, value)
            if query:
                cases.append(
                    (f"{value[:3]} in every parameter", f"{path}?{query}", b"", "text/plain")
                )
        if "{" in template:
            cases.append(
                (
                    "huge path number",
                    concrete(template.replace("{seq}", HUGE).replace("{id}", HUGE), application_id),
                    b"",
                    "text/plain",
                )
            )
        for what, url, body, content_type in cases:
            status = await send(gateway, method, url, body, content_type)
            if status >= 500:
                server_errors.append(f"{method} {template} ({what}): {status}")
        await drop_mid_body(gateway, method, path)
    await asyncio.sleep(0.3)  # let the dropped connections be noticed
    assert not server_errors
    assert not errors_in(logs), errors_in(logs)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    gone = [e for e in logs if e["event"] == "http.client_gone"]
    assert len(gone) == len(OPERATIONS)


async def drop_mid_body(client: SignedClient, method: str, path: str) -> None:
    port = client.client.server.port
    assert port is not None
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    ).encode()
    await raw_exchange(port, head + b'{"a": "' + b"x" * 1000, close_after_send=True)
