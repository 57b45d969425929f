"""Schemathesis against a live gateway on loopback: every operation in
contracts/openapi.yaml, requests signed as a test partner, checked for no 5xx and
for conformance of status, content type and body to the contract.

The default run is bounded (`EXAMPLES` per operation, a fixed seed) so `make test`
stays short; `pytest -m soak` runs `SOAK_EXAMPLES` per operation. `{id}` routes get a
real application id, so generated cases reach past the 404; intake's examples (the
contract's, with their files uploaded) reach 202. Every problem answered must have
a Chinese ``detail`` and a ``type`` under the gateway's problem base (issue 12, 21).
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, seed, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from structlog.testing import capture_logs
from structlog.typing import EventDict
from support.at_rest import TEST_PASSPHRASE
from support.examples import APPLICATIONS_CATALOGUE, example, example_files
from support.openapi import SPEC_PATH
from support.partner_signing import PARTNER, partners_setting

from gateway.app import create_app
from gateway.config import Settings, load_settings
from gateway.security import RequestSigner
from gateway.server import GatewayRunner

EXAMPLES_PER_OPERATION = 12
SOAK_EXAMPLES_PER_OPERATION = 300
SEED = 20261203
OPS_TOKEN = "fuzz-ops-token"  # noqa: S105 - a test token
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
PROBLEM_BASE = "https://tongban.example/problems/"

schema = schemathesis.openapi.from_path(SPEC_PATH)
# Uploads are raw bytes under their declared type (the gateway sniffs them: 415 if not).
schemathesis.serializer.alias("application/pdf", "application/octet-stream")


class PartnerSignature(requests.auth.AuthBase):
    """Signs each prepared request as `PARTNER` over the exact URL and body bytes sent,
    and gives each POST an Idempotency-Key (as a partner does)."""

    def __init__(self) -> None:
        self._signer = RequestSigner(PARTNER.key, PARTNER.keyid)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        raw = request.body or b""
        body = raw.encode("utf-8") if isinstance(raw, str) else raw
        assert isinstance(body, bytes)  # schemathesis never streams a body
        if request.method == "POST" and "Idempotency-Key" not in request.headers:
            request.headers["Idempotency-Key"] = str(uuid.uuid4())
        if request.method in ("POST", "PUT", "PATCH") and "Content-Type" not in request.headers:
            request.headers["Content-Type"] = "application/octet-stream"  # a signable body
        headers = {k: v for k, v in request.headers.items() if isinstance(v, str)}
        assert request.method is not None
        assert request.url is not None
        request.headers.update(self._signer(request.method, request.url, headers, body))
        request.headers["Authorization"] = f"Bearer {OPS_TOKEN}"
        return request


class LiveGateway:
    """The gateway served by `GatewayRunner` on 127.0.0.1 in a thread of its own."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.url = ""
        self._failed: BaseException | None = None

    def __enter__(self) -> LiveGateway:
        self._thread.start()
        assert self._ready.wait(60), "gateway did not start"
        if self._failed is not None:
            raise RuntimeError("the gateway failed to start") from self._failed
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as exc:  # handed to __enter__, which raises it in the test
            self._failed = exc
            self._ready.set()
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        runner = GatewayRunner(create_app(self._settings), self._settings.server)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()


class World:
    """What the fuzz cases need: the gateway's URL, a signed session, a real id."""

    def __init__(self, url: str, session: requests.Session, application_id: str) -> None:
        self.url = url
        self.session = session
        self.application_id = application_id
        self.statuses: dict[str, set[int]] = {}


@pytest.fixture(scope="module")
def logged() -> Iterator[list[EventDict]]:
    with capture_logs() as events:
        yield events


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, logged: list[EventDict]) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("fuzz") / "var"
    settings = load_settings(
        environ={},
        overrides={
            "data_dir": str(data_dir),
            "catalog": {"directory": str(APPLICATIONS_CATALOGUE)},
            "security": {"partners": partners_setting(PARTNER), "key_passphrase": TEST_PASSPHRASE},
            "ops": {"token": OPS_TOKEN},
        },
    )
    with LiveGateway(settings) as gateway, requests.Session() as session:
        session.auth = PartnerSignature()
        for file in example_files():
            answer = session.post(
                f"{gateway.url}/v1/attachments",
                data=file.content,
                headers={"Content-Type": file.media_type},
                timeout=30,
            )
            assert answer.status_code in (200, 201), answer.text
        answer = session.post(f"{gateway.url}/v1/applications", json=example(), timeout=30)
        assert answer.status_code == 202, answer.text
        world = World(gateway.url, session, answer.json()["id"])
        yield world
    if "POST /v1/applications" in world.statuses:  # this worker fuzzed intake
        assert 202 in world.statuses["POST /v1/applications"], world.statuses
    errors = [e for e in logged if e.get("log_level") in ("error", "critical", "exception")]
    assert not errors, errors


def problems_are_for_people(response: Any) -> None:
    """Issue 12, item 21: a Chinese detail and a machine-readable type, everywhere."""
    if "application/problem+json" not in response.headers.get("Content-Type", ""):
        return
    problem = response.json()
    assert problem["type"].startswith(PROBLEM_BASE), problem
    assert any("\u4e00" <= ch <= "\u9fff" for ch in problem.get("detail", "")), problem


def run_case(world: World, case: schemathesis.Case[Any]) -> None:
    if "id" in (case.path_parameters or {}):
        case.path_parameters = {**(case.path_parameters or {}), "id": world.application_id}
    response = case.call(base_url=world.url, session=world.session, timeout=30)
    operation = f"{case.method.upper()} {case.path}"
    world.statuses.setdefault(operation, set()).add(response.status_code)
    case.validate_response(response, checks=CHECKS)
    problems_are_for_people(response)


@schema.parametrize()
@seed(SEED)
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_contract_holds_against_a_live_gateway(case: schemathesis.Case[Any], world: World) -> None:
    run_case(world, case)


@pytest.mark.soak
@schema.parametrize()
@settings(
    max_examples=SOAK_EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_contract_holds_under_a_long_fuzz(case: schemathesis.Case[Any], world: World) -> None:
    run_case(world, case)


def test_the_fuzzed_contract_is_the_one_the_gateway_serves() -> None:
    served = Path(__file__).resolve().parents[2] / "gateway" / "api" / "openapi.yaml"
    assert Path(SPEC_PATH).read_bytes() == served.read_bytes()
