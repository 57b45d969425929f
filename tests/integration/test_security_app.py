"""Security wired into the real app: JWKS, gateway signing, the reference partner client.

Runs `create_app` on loopback; the applications route is not on this branch, so the
tests mount `partner_required` on handlers of their own at its path.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from http_message_signatures import HTTPMessageSigner, HTTPMessageVerifier, algorithms
from http_message_signatures.resolvers import HTTPSignatureKeyResolver
from structlog.typing import EventDict

from gateway.app import create_app
from gateway.app_keys import GATEWAY_KEYS
from gateway.cli import main
from gateway.config import Settings, load_settings
from gateway.errors import KeyStoreError
from gateway.security import (
    KeyStore,
    RequestSigner,
    evidence_of,
    partner_of,
    partner_required,
    require_item_allowed,
    verify_receipt,
)
from gateway.security.client import get_application, submit
from gateway.security.demo import DEMO_PARTNER, prepare_demo_security
from gateway.security.keys import b64url, raw_public

Client = TestClient[web.Request, web.Application]
PARTNER_KEY = Ed25519PrivateKey.generate()
PASSPHRASE = "test passphrase"  # noqa: S105 - a throwaway key ring in tmp_path


def gateway_settings(tmp_path: Path, *, passphrase: str | None = PASSPHRASE) -> Settings:
    public = b64url(raw_public(PARTNER_KEY.public_key()))
    security: dict[str, Any] = {
        "partners": {
            "shenzhen": {"keys": [{"keyid": "sz", "public_key": public}], "items": ["SZ-*"]}
        }
    }
    if passphrase:
        security["key_passphrase"] = passphrase
    return load_settings(
        environ={}, overrides={"data_dir": str(tmp_path / "var"), "security": security}
    )


# The stand-in partner routes live under their own prefix, beside the real ones.
STAND_IN = "/stand-in"


async def accept(request: web.Request) -> web.Response:
    """A stand-in for POST /v1/applications: auth, item check, then 202 with the evidence."""
    body = await request.json()
    require_item_allowed(request, body["item_code"])
    evidence = evidence_of(request)
    return web.json_response(
        {"id": "app-1", "partner": partner_of(request).partner.id, "keyid": evidence.keyid},
        status=202,
    )


async def show(request: web.Request) -> web.Response:
    return web.json_response({"id": request.match_info["id"], "status": "received"})


def partner_app(settings: Settings) -> web.Application:
    app = create_app(settings)
    app.router.add_post(f"{STAND_IN}/v1/applications", partner_required(accept))
    app.router.add_get(f"{STAND_IN}/v1/applications/{{id}}", partner_required(show))
    return app


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Client]:
    settings = gateway_settings(tmp_path)
    KeyStore(settings.data_dir / "keys", PASSPHRASE).generate()
    async with TestClient(TestServer(partner_app(settings), host="127.0.0.1")) as client:
        yield client


async def test_jwks_lists_the_active_key(gateway: Client, tmp_path: Path) -> None:
    response = await gateway.get("/.well-known/tongban/keys")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("application/jwk-set+json")
    assert "max-age" in response.headers["Cache-Control"]
    ring = KeyStore(tmp_path / "var" / "keys", None).load_ring()
    (jwk,) = (await response.json())["keys"]
    assert jwk["kid"] == ring.active_kid
    assert jwk["x"] == b64url(raw_public(ring.active.public_key))


async def test_a_receipt_signed_by_the_app_verifies_against_its_published_jwks(
    gateway: Client,
) -> None:
    signed = gateway.app[GATEWAY_KEYS].sign_receipt({"application_id": "app-1"})
    jwks = await (await gateway.get("/.well-known/tongban/keys")).json()
    assert verify_receipt(signed, jwks) == {"application_id": "app-1"}


async def test_without_a_key_ring_the_jwks_is_empty_and_signing_refused(tmp_path: Path) -> None:
    app = create_app(gateway_settings(tmp_path))  # the passphrase is set, no ring generated
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        assert await (await client.get("/.well-known/tongban/keys")).json() == {"keys": []}
        with pytest.raises(KeyStoreError):
            client.app[GATEWAY_KEYS].sign_receipt({})


async def test_a_wrong_passphrase_stops_start_up(tmp_path: Path) -> None:
    settings = gateway_settings(tmp_path)
    KeyStore(settings.data_dir / "keys", "another").generate()
    runner = web.AppRunner(create_app(settings))
    try:
        with pytest.raises(KeyStoreError, match="wrong passphrase"):
            await runner.setup()
    finally:
        await runner.cleanup()


async def test_reference_client_submits_and_gets(gateway: Client) -> None:
    base = str(gateway.make_url(STAND_IN))
    signer = RequestSigner(PARTNER_KEY, "sz")
    body = json.dumps({"item_code": "SZ-0001"}).encode()
    reply = await submit(base, signer, body)
    assert (reply.status, reply.body) == (
        202,
        {"id": "app-1", "partner": "shenzhen", "keyid": "sz"},
    )
    got = await get_application(base, signer, "app-1")
    assert (got.status, got.body) == (200, {"id": "app-1", "status": "received"})


async def test_reference_client_sees_a_refusal_as_problem(gateway: Client) -> None:
    reply = await submit(
        str(gateway.make_url(STAND_IN)),
        RequestSigner(PARTNER_KEY, "sz"),
        json.dumps({"item_code": "DG-0001"}).encode(),
    )
    assert reply.status == 403
    assert reply.body["type"].endswith("item-not-allowed")


class _Keys(HTTPSignatureKeyResolver):
    def __init__(self, key: Ed25519PrivateKey) -> None:
        self.key = key

    def resolve_public_key(self, key_id: str) -> object:
        return self.key.public_key()

    def resolve_private_key(self, key_id: str) -> object:
        return self.key


@dataclasses.dataclass
class _Request:
    method: str
    url: str
    headers: dict[str, str]


async def test_the_gateway_accepts_a_request_signed_by_http_message_signatures(
    gateway: Client,
) -> None:
    url = str(gateway.make_url(f"{STAND_IN}/v1/applications"))
    body = json.dumps({"item_code": "SZ-0009"}).encode()
    request = _Request("POST", url, {"Content-Type": "application/json"})
    HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=_Keys(PARTNER_KEY)).sign(
        request,
        key_id="sz",
        nonce="lib-nonce-1",
        covered_component_ids=("@method", "@target-uri", "content-type"),
        body=body,
    )
    response = await gateway.post(f"{STAND_IN}/v1/applications", data=body, headers=request.headers)
    assert response.status == 202, await response.text()


async def test_http_message_signatures_accepts_what_the_reference_client_sends() -> None:
    """A server that verifies with the independent library receives our client's request."""
    seen: list[str] = []

    async def verify_with_library(request: web.Request) -> web.Response:
        body = await request.read()
        verifier = HTTPMessageVerifier(
            signature_algorithm=algorithms.ED25519, key_resolver=_Keys(PARTNER_KEY)
        )
        (result,) = verifier.verify(
            _Request(request.method, str(request.url), dict(request.headers)),
            require_components=("@method", "@target-uri", "content-type", "content-digest"),
            body=body,
        )
        seen.append(str(result.parameters["keyid"]))
        return web.json_response({}, status=202)

    app = web.Application()
    app.router.add_post(f"{STAND_IN}/v1/applications", verify_with_library)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        reply = await submit(
            str(client.make_url(STAND_IN)), RequestSigner(PARTNER_KEY, "sz"), b"{}"
        )
    assert reply.status == 202
    assert seen == ["sz"]


# --- the command line ---------------------------------------------------------------


@pytest.fixture
def threaded_gateway(tmp_path: Path) -> Iterator[str]:
    """The partner app served on loopback from a thread, for CLI tests (which run their loop)."""
    ready = threading.Event()
    stop: dict[str, Any] = {}
    address: list[str] = []

    async def run() -> None:
        runner = web.AppRunner(partner_app(gateway_settings(tmp_path)))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        address.append(f"http://127.0.0.1:{port}{STAND_IN}")
        stop["event"] = asyncio.Event()
        stop["loop"] = asyncio.get_running_loop()
        ready.set()
        await stop["event"].wait()
        await runner.cleanup()

    thread = threading.Thread(target=asyncio.run, args=(run(),))
    thread.start()
    assert ready.wait(10)
    yield address[0]
    stop["loop"].call_soon_threadsafe(stop["event"].set)
    thread.join(10)


def test_partner_submit_command(
    threaded_gateway: str, tmp_path: Path, logs: list[EventDict]
) -> None:
    """The CLI against a live server (its logs captured, so stdout holds only the reply)."""
    key_file = tmp_path / "partner.pem"
    key_file.write_bytes(
        PARTNER_KEY.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    application = tmp_path / "application.json"
    application.write_text('{"item_code": "SZ-0001"}', encoding="utf-8")
    common = ["--url", threaded_gateway, "--key", str(key_file), "--key-id", "sz"]
    result = CliRunner().invoke(main, ["partner", "submit", *common, str(application)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["partner"] == "shenzhen"
    got = CliRunner().invoke(main, ["partner", "get", *common, "--json", "app-1"])
    assert json.loads(got.stdout)["status"] == "received"
    refused = CliRunner().invoke(main, ["partner", "get", *common[:-1], "nobody", "app-1"])
    assert refused.exit_code == 1
    assert "key_unknown" in refused.output


def test_keys_generate_show_rotate_commands(tmp_path: Path) -> None:
    env = {"TONGBAN_DATA_DIR": str(tmp_path), "TONGBAN_SECURITY__KEY_PASSPHRASE": "p"}
    runner = CliRunner(env=env)
    generated = runner.invoke(main, ["keys", "generate", "--json"])
    assert generated.exit_code == 0, generated.output
    first = json.loads(generated.output)["active"]
    again = runner.invoke(main, ["keys", "generate"])
    assert again.exit_code == 1
    assert "rotate" in again.output
    rotated = json.loads(runner.invoke(main, ["keys", "rotate", "--json"]).output)
    assert rotated["active"] != first
    assert {key["kid"] for key in rotated["jwks"]["keys"]} == {first, rotated["active"]}
    shown = runner.invoke(main, ["keys", "show"])
    assert f"{first}" in shown.output
    assert "retired" in shown.output


def test_demo_security_is_created_once_and_loads_as_settings(tmp_path: Path) -> None:
    first = prepare_demo_security(tmp_path, 8080)
    second = prepare_demo_security(tmp_path, 8080)
    assert first == second
    settings = load_settings(environ={}, overrides={"data_dir": str(tmp_path), "security": first})
    partner = settings.security.partners[DEMO_PARTNER]
    assert partner.items == ("*",)
    assert KeyStore(tmp_path / "keys", first["key_passphrase"]).load_ring().active_kid
    assert (tmp_path / DEMO_PARTNER / "private-key.pem").exists()
