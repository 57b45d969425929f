"""Partner webhooks end to end: the real gateway, the sandboxes and a partner's receiver.

The receiver is a real aiohttp server on loopback, registered as the test
partner's ``callback_url``. It checks every notice's RFC 9421 signature with the
independent ``http-message-signatures`` library against the keys the gateway
publishes at ``/.well-known/tongban/keys``, and counts notices by their
``Idempotency-Key`` (what a partner must do to drop repeats).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from http_message_signatures import HTTPMessageVerifier, algorithms
from http_message_signatures.resolvers import HTTPSignatureKeyResolver
from jsonschema import Draft202012Validator
from support.examples import example, upload_examples
from support.loopback import serve_endpoint
from support.partner_signing import OTHER_PARTNER, PARTNER
from support.relay_world import World, running_world

from gateway.app_keys import STORE
from gateway.applications.notices import PartnerNotices
from gateway.security.keys import KeyStore, load_public_key
from gateway.security.pii import PiiCipher, PiiKeys

CONTRACT = Path(__file__).resolve().parents[2] / "contracts" / "openapi.yaml"
PASSPHRASE = "webhook test passphrase"  # noqa: S105 - a throwaway key ring in tmp_path


def notice_validator() -> Draft202012Validator:
    """The contract's `StatusNotice` schema (its refs resolved within the contract)."""
    spec = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    schema = {**spec["components"]["schemas"]["StatusNotice"], "components": spec["components"]}
    return Draft202012Validator(schema)


@dataclass
class _Request:
    method: str
    url: str
    headers: dict[str, str]


class _Jwks(HTTPSignatureKeyResolver):
    def __init__(self, jwks: dict[str, Any]) -> None:
        self.keys = {jwk["kid"]: load_public_key(jwk["x"]) for jwk in jwks["keys"]}

    def resolve_public_key(self, key_id: str) -> object:
        return self.keys[key_id]


@dataclass
class Arrival:
    key: str
    notice: dict[str, Any]
    answered: int
    at: float


@dataclass
class WebhookReceiver:
    """A partner's webhook endpoint: answers with `answer(n)` for the n-th request (from 0)."""

    url: str = ""
    answer: Callable[[int], tuple[int, dict[str, str]]] = lambda n: (204, {})
    arrivals: list[Arrival] = field(default_factory=list)
    verifier: HTTPMessageVerifier | None = None
    refused: list[str] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            assert self.verifier is not None, "keys not loaded yet"
            self.verifier.verify(
                _Request(request.method, str(request.url), dict(request.headers)),
                require_components=(
                    "@method",
                    "@target-uri",
                    "content-type",
                    "content-digest",
                    "idempotency-key",
                ),
                body=body,
            )
        except Exception as exc:  # a bad signature fails the test, not the request
            self.refused.append(repr(exc))
            return web.Response(status=401)
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers["X-Request-ID"]
        assert request.headers["traceparent"].startswith("00-")
        status, headers = self.answer(len(self.arrivals))
        self.arrivals.append(
            Arrival(request.headers["Idempotency-Key"], json.loads(body), status, time.monotonic())
        )
        return web.Response(status=status, headers=headers)

    def delivered(self, application_id: str) -> list[dict[str, Any]]:
        return [
            a.notice
            for a in self.arrivals
            if a.answered < 300 and a.notice["application_id"] == application_id
        ]


@asynccontextmanager
async def world_with_receiver(
    tmp_path: Path, receiver: WebhookReceiver
) -> AsyncIterator[tuple[World, WebhookReceiver]]:
    async with serve_endpoint("/hooks/tongban", receiver.handle) as url:
        receiver.url = url
        KeyStore(tmp_path / "var" / "keys", PASSPHRASE).generate()
        partners = {
            PARTNER.id: {**PARTNER.setting(), "callback_url": receiver.url},
            OTHER_PARTNER.id: OTHER_PARTNER.setting(),  # no callback_url: no webhooks
        }
        security = {"partners": partners, "key_passphrase": PASSPHRASE}
        async with running_world(tmp_path, settings={"security": security}) as world:
            response = await world.gateway.client.get("/.well-known/tongban/keys")
            receiver.verifier = HTTPMessageVerifier(
                signature_algorithm=algorithms.ED25519, key_resolver=_Jwks(await response.json())
            )
            yield world, receiver


async def transitions(world: World, application_id: str) -> list[str]:
    """The statuses the application moved to after it was received, from its history."""
    view = await world.application(application_id)
    return [
        event["to_status"]
        for event in view["history"]
        if event["kind"] == "transition" and event.get("from_status") is not None
    ]


async def notified_of_every_transition(
    world: World, receiver: WebhookReceiver, application_id: str
) -> bool:
    if await world.status_of(application_id) != "approved":
        return False
    wanted = await transitions(world, application_id)
    return [n["status"] for n in receiver.delivered(application_id)] == wanted


async def test_the_partner_hears_every_status_change_once_in_order_signed(
    tmp_path: Path,
) -> None:
    async with world_with_receiver(tmp_path, WebhookReceiver()) as (world, receiver):
        application_id = (await world.submit(example()))["id"]
        await world.wait_for(
            lambda: notified_of_every_transition(world, receiver, application_id),
            what="a notice of every transition",
        )
        notices = receiver.delivered(application_id)
        statuses = [n["status"] for n in notices]
        assert statuses == ["forwarded", "accepted", "in_review", "approved"]
        assert receiver.refused == []
        keys = [a.key for a in receiver.arrivals]
        assert len(keys) == len(set(keys)) == len(notices)
        assert [n["notice_id"] for n in notices] == keys
        seqs = [n["event_seq"] for n in notices]
        assert seqs == sorted(seqs)
        validator = notice_validator()  # the contract's fields, no more: no personal data
        for notice in notices:
            validator.validate(notice)
        assert [n["previous_status"] for n in notices] == ["received", *statuses[:-1]]
        view = await world.application(application_id)
        assert notices[-1]["region_case_no"] == view["region_case_no"]


async def test_an_unavailable_receiver_is_retried_and_hears_each_notice_once(
    tmp_path: Path,
) -> None:
    def busy_at_first(n: int) -> tuple[int, dict[str, str]]:
        if n == 0:
            return 503, {"Retry-After": "1"}
        return (503, {}) if n < 4 else (200, {})

    async with world_with_receiver(tmp_path, WebhookReceiver(answer=busy_at_first)) as (
        world,
        receiver,
    ):
        application_id = (await world.submit(example()))["id"]
        await world.wait_for(
            lambda: notified_of_every_transition(world, receiver, application_id),
            seconds=20,
            what="every notice after the receiver recovers",
        )
        assert [a.answered for a in receiver.arrivals[:5]] == [503, 503, 503, 503, 200]
        # The first retry waited as long as the receiver asked.
        assert receiver.arrivals[1].at - receiver.arrivals[0].at >= 0.9
        # Retries reuse the key: the receiver saw one notice several times, and
        # took each notice once.
        first_key = receiver.arrivals[0].key
        assert {a.key for a in receiver.arrivals[:5]} == {first_key}
        taken = [a.key for a in receiver.arrivals if a.answered < 300]
        assert len(taken) == len(set(taken))
        assert receiver.refused == []


async def test_a_refusing_receiver_gets_a_dead_letter_not_a_stuck_application(
    tmp_path: Path,
) -> None:
    receiver = WebhookReceiver(answer=lambda n: (400, {}))
    async with world_with_receiver(tmp_path, receiver) as (world, receiver):
        application_id = (await world.submit(example()))["id"]

        async def approved() -> bool:
            return await world.status_of(application_id) == "approved"

        await world.wait_for(approved, what="approval despite the refusing receiver")
        store = world.gateway.app[STORE]

        async def dead_notice() -> list[dict[str, Any]]:
            async with store.transaction() as conn:
                return await conn.fetch_all(
                    "SELECT state, dead_reason_zh FROM deliveries WHERE application_id = :id"
                    " AND kind = 'status_notice' ORDER BY created_at, id",
                    {"id": application_id},
                )

        async def dead_lettered() -> bool:
            rows = await dead_notice()
            return bool(rows) and rows[0]["state"] == "failed"

        await world.wait_for(dead_lettered, what="the refused notice to be a dead letter")
        rows = await dead_notice()
        assert rows[0]["dead_reason_zh"].startswith("合作方回调地址拒收状态通知")
        # Later notices wait behind it (in order), to go once ops replay it.
        assert {row["state"] for row in rows[1:]} <= {"pending"}
        assert len(receiver.arrivals) == 1  # refused at once, not retried
        view = await world.application(application_id)
        assert view["status"] == "approved"
        kinds = [event["kind"] for event in view["history"]]
        assert kinds.count("status_notice_failed") == 1


async def test_a_partner_without_a_callback_url_gets_no_webhook(tmp_path: Path) -> None:
    async with world_with_receiver(tmp_path, WebhookReceiver()) as (world, receiver):
        other = world.gateway.as_partner(OTHER_PARTNER)
        await upload_examples(other)
        response = await other.post("/v1/applications", json=example())
        assert response.status == 202, await response.text()
        theirs = (await response.json())["id"]
        ours = (await world.submit(example()))["id"]
        await world.wait_for(
            lambda: notified_of_every_transition(world, receiver, ours), what="our notices"
        )

        async def their_status() -> str:
            reply = await other.get(f"/v1/applications/{theirs}")
            return str((await reply.json())["status"])

        await world.wait_for(lambda: _is(their_status, "approved"), what="their approval")
        assert receiver.delivered(theirs) == []
        async with world.gateway.app[STORE].transaction() as conn:
            rows = await conn.fetch_all(
                "SELECT id FROM deliveries WHERE application_id = :id AND kind = 'status_notice'",
                {"id": theirs},
            )
        assert rows == []


async def _is(read: Callable[[], Any], expected: str) -> bool:
    return bool(await read() == expected)


def test_only_a_partner_with_a_callback_url_is_a_recipient() -> None:
    cipher = PiiCipher(PiiKeys({"k1": bytes(32)}, "k1", bytes(32)))
    notices = PartnerNotices(["with-url"], cipher)
    assert notices.recipient({"submitted_by": "partner:with-url"}) == "with-url"
    assert notices.recipient({"submitted_by": "partner:without-url"}) is None
    assert notices.recipient({"submitted_by": "staff:window-7"}) is None
    assert notices.recipient({"submitted_by": "with-url"}) is None
