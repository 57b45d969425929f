"""Partner authentication on a real loopback server: every refusal, rotation, limits, replay.

The applications route is built elsewhere, so each test mounts `partner_required`
on a handler defined here: a POST that echoes, counting the calls that reach it.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from support.clocks import SecondsClock

from gateway.app_keys import AUTHENTICATOR
from gateway.config import SecuritySettings
from gateway.errors import SignatureError
from gateway.observability import problem_errors, request_context
from gateway.security import (
    PartnerAuthenticator,
    PartnerRegistry,
    RequestSigner,
    SubmissionEvidence,
    evidence_of,
    partner_of,
    partner_required,
    require_item_allowed,
    verify_evidence,
)
from gateway.security.keys import b64url, raw_public
from gateway.security.nonces import NonceStore
from gateway.security.ratelimit import RateLimiter
from gateway.security.signatures import HttpMessage, sign
from gateway.store import SQLiteStore, bundled_migrations, migrate

Client = TestClient[web.Request, web.Application]


@dataclass
class Gateway:
    """A test app: the client, its clock, the store and how many requests got through."""

    client: Client
    clock: SecondsClock
    store: SQLiteStore
    reached: list[dict[str, Any]]
    evidence: list[SubmissionEvidence]

    def url(self, path: str) -> str:
        return str(self.client.make_url(path))

    async def nonce_rows(self) -> int:
        async with self.store.transaction() as conn:
            row = await conn.fetch_one("SELECT COUNT(*) AS n FROM signature_nonces")
        assert row is not None
        return int(row["n"])


def partner_config(key: Ed25519PrivateKey, keyid: str, **key_extra: Any) -> dict[str, Any]:
    return {"keyid": keyid, "public_key": b64url(raw_public(key.public_key())), **key_extra}


MakeGateway = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def make_gateway(tmp_path: Path) -> AsyncIterator[MakeGateway]:
    """Factory: a loopback app whose partner routes use the given security settings."""
    clients: list[Client] = []
    stores: list[SQLiteStore] = []

    async def make(security: dict[str, Any], *, require_nonce: bool = False) -> Gateway:
        settings = SecuritySettings.model_validate(security)
        store = await SQLiteStore.open(tmp_path / f"g{len(stores)}.db")
        stores.append(store)  # closed after the test even if the rest of this fails
        await migrate(store, bundled_migrations("sqlite"))
        clock = SecondsClock()
        reached: list[dict[str, Any]] = []
        evidence: list[SubmissionEvidence] = []

        async def echo(request: web.Request) -> web.Response:
            body = await request.json()
            require_item_allowed(request, body["item_code"])
            reached.append(body)
            evidence.append(evidence_of(request))
            return web.json_response({"partner": partner_of(request).partner.id, "body": body})

        app = web.Application(middlewares=[request_context, problem_errors])
        app[AUTHENTICATOR] = PartnerAuthenticator(
            PartnerRegistry.from_settings(settings),
            NonceStore(store, clock=clock),
            RateLimiter(clock=clock),
            max_clock_skew=settings.max_clock_skew,
            require_nonce=require_nonce,
            clock=clock,
        )
        app.router.add_post("/v1/applications", partner_required(echo))
        client: Client = TestClient(TestServer(app, host="127.0.0.1"))
        clients.append(client)
        await client.start_server()
        return Gateway(client, clock, store, reached, evidence)

    try:
        yield make
    finally:
        for client in clients:
            await client.close()
        for store in stores:
            await store.aclose()


SZ_KEY = Ed25519PrivateKey.generate()
OTHER_KEY = Ed25519PrivateKey.generate()
BODY = json.dumps({"item_code": "SZ-0001", "applicant": "张三"}, ensure_ascii=False).encode()


def shenzhen(**extra: Any) -> dict[str, Any]:
    partner = {"keys": [partner_config(SZ_KEY, "sz-2026")], "items": ["SZ-*"], **extra}
    return {"partners": {"shenzhen": partner}}


async def post(
    gateway: Gateway,
    body: bytes = BODY,
    *,
    signer: RequestSigner | None = None,
    tamper: Callable[[dict[str, str]], None] | None = None,
    send_body: bytes | None = None,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Sign `body` as a partner would, optionally tamper with the headers, send it."""
    url = gateway.url("/v1/applications")
    headers = {"Content-Type": "application/json", "Idempotency-Key": "k-1"}
    signer = signer or RequestSigner(SZ_KEY, "sz-2026", clock=gateway.clock)
    headers.update(signer("POST", url, headers, body))
    if tamper:
        tamper(headers)
    response = await gateway.client.post(
        "/v1/applications", data=body if send_body is None else send_body, headers=headers
    )
    return response.status, await response.json(), dict(response.headers)


async def test_a_signed_request_reaches_the_handler_with_its_partner(
    make_gateway: MakeGateway,
) -> None:
    gateway = await make_gateway(shenzhen())
    status, document, _ = await post(gateway)
    assert status == 200, document
    assert document["partner"] == "shenzhen"
    assert gateway.reached == [json.loads(BODY)]


def drop(*names: str) -> Callable[[dict[str, str]], None]:
    def change(headers: dict[str, str]) -> None:
        for name in names:
            del headers[name]

    return change


def replace_signature(headers: dict[str, str]) -> None:
    forged = RequestSigner(OTHER_KEY, "sz-2026")("POST", "http://x/", {"Content-Type": "a"}, b"x")
    headers["Signature"] = forged["Signature"]


def wrong_digest(headers: dict[str, str]) -> None:
    headers["Content-Digest"] = "sha-256=:" + "A" * 43 + "=:"


REFUSALS = [
    pytest.param({"tamper": drop("Signature", "Signature-Input")}, "signature_missing", id="none"),
    pytest.param({"tamper": replace_signature}, "signature_invalid", id="bad-signature"),
    pytest.param({"send_body": BODY.replace(b"0001", b"0002")}, "digest_mismatch", id="body"),
    pytest.param({"tamper": drop("Content-Digest")}, "digest_missing", id="digest-missing"),
    # A changed digest header breaks the signature, which covers it: refused either way.
    pytest.param({"tamper": wrong_digest}, "signature_invalid", id="digest-wrong"),
    pytest.param(
        {"signer": RequestSigner(SZ_KEY, "sz-2026", clock=lambda: time.time() - 301)},
        "created_stale",
        id="stale",
    ),
    pytest.param(
        {"signer": RequestSigner(SZ_KEY, "sz-2026", clock=lambda: time.time() + 301)},
        "created_future",
        id="future",
    ),
    pytest.param(
        {"signer": RequestSigner(SZ_KEY, "nobody", clock=time.time)}, "key_unknown", id="unknown"
    ),
]


@pytest.mark.parametrize(("how", "check"), REFUSALS)
async def test_refusals_are_401_name_the_check_and_change_nothing(
    make_gateway: MakeGateway, how: dict[str, Any], check: str
) -> None:
    gateway = await make_gateway(shenzhen())
    status, problem, headers = await post(gateway, **how)
    assert status == 401
    assert headers["Content-Type"].startswith("application/problem+json")
    assert problem["check"] == check
    assert "Accept-Signature" in headers
    assert gateway.reached == []
    assert await gateway.nonce_rows() == 0


async def test_a_wrong_digest_the_signature_covers_is_refused_as_digest_mismatch(
    make_gateway: MakeGateway,
) -> None:
    """The signer signed a digest that is not the body's: the digest check names it."""
    gateway = await make_gateway(shenzhen())
    url = gateway.url("/v1/applications")
    headers = {"Content-Type": "application/json", "Content-Digest": "sha-256=:" + "A" * 43 + "=:"}
    signed = sign(
        HttpMessage.of("POST", url, headers.items()),
        SZ_KEY,
        keyid="sz-2026",
        components=["@method", "@target-uri", "content-type", "content-digest"],
        created=int(time.time()),
    )
    response = await gateway.client.post(
        "/v1/applications", data=BODY, headers={**headers, **signed.as_headers()}
    )
    assert response.status == 401
    assert (await response.json())["check"] == "digest_mismatch"
    assert gateway.reached == []


async def test_a_signature_not_covering_the_digest_is_refused(make_gateway: MakeGateway) -> None:
    gateway = await make_gateway(shenzhen())
    url = gateway.url("/v1/applications")
    headers = {"Content-Type": "application/json", "Content-Digest": "sha-256=:x:"}
    signed = sign(
        HttpMessage.of("POST", url, headers.items()),
        SZ_KEY,
        keyid="sz-2026",
        components=["@method", "@target-uri", "content-type"],
        created=int(time.time()),
    )
    response = await gateway.client.post(
        "/v1/applications", data=BODY, headers={**headers, **signed.as_headers()}
    )
    problem = await response.json()
    assert (response.status, problem["check"]) == (401, "components_missing")
    assert "content-digest" in problem["reason"]
    assert problem["detail"] == "签名未覆盖必须覆盖的请求内容"


async def test_an_expired_key_is_refused(make_gateway: MakeGateway) -> None:
    expired = {"keys": [partner_config(SZ_KEY, "sz-2026", not_after="2020-01-01T00:00:00Z")]}
    gateway = await make_gateway({"partners": {"shenzhen": {**expired, "items": ["*"]}}})
    status, problem, _ = await post(gateway)
    assert (status, problem["check"]) == (401, "key_expired")


async def test_a_key_before_its_window_is_refused(make_gateway: MakeGateway) -> None:
    future = {"keys": [partner_config(SZ_KEY, "sz-2026", not_before="2999-01-01T00:00:00Z")]}
    gateway = await make_gateway({"partners": {"shenzhen": {**future, "items": ["*"]}}})
    status, problem, _ = await post(gateway)
    assert (status, problem["check"]) == (401, "key_not_yet_valid")


async def test_rotation_old_key_accepted_in_its_window_refused_after(
    make_gateway: MakeGateway,
) -> None:
    """Two keys overlap; the old one works until its not_after, then only the new one."""
    now = time.time()
    cutover = datetime.fromtimestamp(now + 3600, UTC).isoformat()
    keys = [
        partner_config(SZ_KEY, "sz-old", not_after=cutover),
        partner_config(OTHER_KEY, "sz-new", not_before=datetime.fromtimestamp(now, UTC)),
    ]
    gateway = await make_gateway({"partners": {"shenzhen": {"keys": keys, "items": ["*"]}}})
    old = RequestSigner(SZ_KEY, "sz-old", clock=gateway.clock)
    new = RequestSigner(OTHER_KEY, "sz-new", clock=gateway.clock)
    assert (await post(gateway, signer=old))[0] == 200
    assert (await post(gateway, signer=new))[0] == 200
    gateway.clock.now = now + 3600
    status, problem, _ = await post(gateway, signer=old)
    assert (status, problem["check"]) == (401, "key_expired")
    assert (await post(gateway, signer=new))[0] == 200
    assert len(gateway.reached) == 3


async def test_an_item_the_partner_may_not_submit_is_403(make_gateway: MakeGateway) -> None:
    gateway = await make_gateway(shenzhen())
    body = json.dumps({"item_code": "DG-0001"}).encode()
    status, problem, _ = await post(gateway, body)
    assert status == 403
    assert problem["item_code"] == "DG-0001"
    assert gateway.reached == []


async def test_item_groups_and_prefixes_allow_items(make_gateway: MakeGateway) -> None:
    security = {
        "item_groups": {"hf": ["DG-0007"]},
        "partners": {"p": {"keys": [partner_config(SZ_KEY, "sz-2026")], "items": ["@hf"]}},
    }
    gateway = await make_gateway(security)
    assert (await post(gateway, json.dumps({"item_code": "DG-0007"}).encode()))[0] == 200
    assert (await post(gateway, json.dumps({"item_code": "DG-0008"}).encode()))[0] == 403


async def test_over_the_rate_limit_is_429_with_retry_after(make_gateway: MakeGateway) -> None:
    gateway = await make_gateway(shenzhen(rate_limit_per_minute=6, rate_limit_burst=2))
    assert [(await post(gateway))[0] for _ in range(2)] == [200, 200]
    status, problem, headers = await post(gateway)
    assert status == problem["status"] == 429
    assert headers["Retry-After"] == "10"  # 6 a minute: one token every 10 s
    assert len(gateway.reached) == 2
    assert await gateway.nonce_rows() == 2  # the throttled request did not spend its nonce
    gateway.clock.now += 10
    assert (await post(gateway))[0] == 200


async def test_a_replayed_nonce_is_refused(make_gateway: MakeGateway) -> None:
    gateway = await make_gateway(shenzhen())
    url = gateway.url("/v1/applications")
    headers = {"Content-Type": "application/json"}
    headers.update(RequestSigner(SZ_KEY, "sz-2026")("POST", url, headers, BODY))
    first = await gateway.client.post("/v1/applications", data=BODY, headers=headers)
    again = await gateway.client.post("/v1/applications", data=BODY, headers=headers)
    assert first.status == 200
    assert again.status == 401
    assert (await again.json())["check"] == "nonce_replayed"
    assert len(gateway.reached) == 1


async def test_a_required_nonce_that_is_absent_is_refused(make_gateway: MakeGateway) -> None:
    gateway = await make_gateway(shenzhen(), require_nonce=True)

    def strip_nonce(headers: dict[str, str]) -> None:
        headers["Signature-Input"] = headers["Signature-Input"].split(";nonce=")[0]

    status, problem, _ = await post(gateway, tamper=strip_nonce)
    assert (status, problem["check"]) == (401, "nonce_missing")


async def test_an_expired_signature_is_refused(make_gateway: MakeGateway) -> None:
    gateway = await make_gateway(shenzhen())
    signer = RequestSigner(SZ_KEY, "sz-2026", expires_in=5, clock=lambda: time.time() - 10)
    status, problem, _ = await post(gateway, signer=signer)
    assert (status, problem["check"]) == (401, "signature_expired")


async def test_evidence_of_a_verified_request_reverifies_offline(make_gateway: MakeGateway) -> None:
    gateway = await make_gateway(shenzhen())
    assert (await post(gateway))[0] == 200
    (evidence,) = gateway.evidence
    assert (evidence.partner_id, evidence.keyid) == ("shenzhen", "sz-2026")
    assert evidence.target_uri == gateway.url("/v1/applications")
    assert '"content-digest": sha-256=:' in evidence.signature_base
    verify_evidence(evidence, SZ_KEY.public_key(), BODY)
    with pytest.raises(SignatureError, match="not the one received"):
        verify_evidence(evidence, SZ_KEY.public_key(), BODY + b" ")
    with pytest.raises(SignatureError, match="does not verify"):
        verify_evidence(evidence, OTHER_KEY.public_key(), BODY)
