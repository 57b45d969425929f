"""The peer adapter against the peer-gateway sandbox on loopback: the partner API shapes.

The sandbox signs nothing (it is not a gateway), so these tests give the adapter a
verifier that accepts its notices; signatures between two real gateways are tested
in tests/integration/test_federation.py.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from support.region_helpers import Receiver, envelope

from adapters.base import AdapterConfig
from adapters.http import AiohttpClient
from adapters.peer import PeerAdapter, create_sandbox
from gateway.envelope import Envelope, Status
from gateway.errors import RegionRejected, RegionUnavailable

Start = Callable[..., Any]
FILE = b"%PDF-1.4 peer sandbox test file"
DIGEST = hashlib.sha256(FILE).hexdigest()


async def _accept(request: web.Request, body: bytes) -> bool:
    return True


async def _files(digest: str) -> tuple[bytes, str] | None:
    return (FILE, "application/pdf") if digest == DIGEST else None


def with_file(env: Envelope) -> Envelope:
    """`env` whose provided material names `FILE` (the helpers' digest is made up)."""
    body: Any = env.body
    materials = tuple(
        m.model_copy(update={"attachments": (DIGEST,)}) if m.provided else m for m in body.materials
    )
    return env.model_copy(update={"body": body.model_copy(update={"materials": materials})})


def peer_config(url: str, **changes: Any) -> AdapterConfig:
    values: dict[str, Any] = {
        "region": "peer",
        "settings": {"url": url},
        "verifier": _accept,
        "attachments": _files,
    }
    return AdapterConfig(**{**values, **changes})


async def adapter_for(
    start: Start, http: AiohttpClient, receiver: Receiver, **options: Any
) -> PeerAdapter:
    url = await start(create_sandbox, "peer", callback_url=receiver.url, **options)
    adapter = PeerAdapter(peer_config(url), http)
    receiver.adapter = adapter
    return adapter


async def test_submit_uploads_the_file_then_notices_come_back(
    start_sandbox: Start, http: AiohttpClient, receiver: Receiver
) -> None:
    adapter = await adapter_for(start_sandbox, http, receiver)
    ack = await adapter.submit(with_file(envelope(competent_region="peer")))
    assert ack.region_case_no.startswith("app_peer_")
    assert ack.receipt is not None
    assert ack.receipt["application_id"] == ack.region_case_no
    await receiver.wait_for(lambda evs: any(e.status is Status.APPROVED for e in evs))
    assert {e.region_case_no for e in receiver.events} == {ack.region_case_no}


async def test_a_file_the_gateway_no_longer_has_is_a_permanent_refusal(
    start_sandbox: Start, http: AiohttpClient, receiver: Receiver
) -> None:
    adapter = await adapter_for(start_sandbox, http, receiver)
    with pytest.raises(RegionRejected) as caught:
        await adapter.submit(envelope())  # its digest names no stored file
    assert caught.value.code == "attachment_lost"


async def test_replay_returns_the_same_id(
    start_sandbox: Start, http: AiohttpClient, receiver: Receiver
) -> None:
    adapter = await adapter_for(start_sandbox, http, receiver, review_delay=60)
    env = with_file(envelope())
    first, second = await adapter.submit(env), await adapter.submit(env)
    assert (second.region_case_no, first.duplicate, second.duplicate) == (
        first.region_case_no,
        False,
        True,
    )


async def test_supplement_flow(
    start_sandbox: Start, http: AiohttpClient, receiver: Receiver
) -> None:
    adapter = await adapter_for(start_sandbox, http, receiver)
    ack = await adapter.submit(with_file(envelope(missing=True)))
    await receiver.wait_for(lambda evs: any(e.status is Status.SUPPLEMENT_REQUIRED for e in evs))
    await adapter.send_supplement(envelope("supplement", region_case_no=ack.region_case_no))
    await receiver.wait_for(lambda evs: evs[-1].status is Status.APPROVED)


async def test_unknown_application_is_rejected(
    start_sandbox: Start, http: AiohttpClient, receiver: Receiver
) -> None:
    adapter = await adapter_for(start_sandbox, http, receiver)
    with pytest.raises(RegionRejected) as caught:
        await adapter.withdraw(envelope("withdrawal", region_case_no="app_peer_nope"))
    assert caught.value.code == "not-found"


async def test_unavailable_peer_is_transient_with_retry_after(
    start_sandbox: Start, http: AiohttpClient, receiver: Receiver
) -> None:
    adapter = await adapter_for(start_sandbox, http, receiver, fault_rate=1.0)
    with pytest.raises(RegionUnavailable) as caught:
        await adapter.submit(with_file(envelope()))
    assert caught.value.retry_after == 2.0


async def test_signer_signs_the_exact_bytes_sent(http: AiohttpClient) -> None:
    """The signer sees the exact bytes; its headers reach the peer."""
    seen: list[tuple[web.Request, bytes]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append((request, await request.read()))
        return web.json_response({"id": "p-1"}, status=202)

    def signer(method: str, url: str, headers: Mapping[str, str], body: bytes) -> dict[str, str]:
        return {"Signature": f"sig1=:{hashlib.sha256(body).hexdigest()}:"}

    app = web.Application()
    app.router.add_post("/v1/applications", handler)
    async with TestServer(app, host="127.0.0.1") as server:
        config = peer_config(str(server.make_url("")), signer=signer)
        await PeerAdapter(config, http).submit(with_file(envelope()))
    request, body = seen[0]
    assert request.headers["Signature"] == f"sig1=:{hashlib.sha256(body).hexdigest()}:"
    assert request.headers["Idempotency-Key"].startswith("key-")


async def test_verifier_refusal_rejects_the_callback(
    start_sandbox: Start, http: AiohttpClient, receiver: Receiver
) -> None:
    async def refuse(request: web.Request, body: bytes) -> bool:
        return False

    url = await start_sandbox(create_sandbox, "peer", callback_url=receiver.url)
    receiver.adapter = PeerAdapter(peer_config(url, verifier=refuse), http)
    await receiver.adapter.submit(with_file(envelope()))
    async with asyncio.timeout(5):
        while not receiver.refused:  # noqa: ASYNC110 - refusals set no event to wait on
            await asyncio.sleep(0.01)
    assert receiver.refused[0].reason == "signature"
    assert receiver.events == []
