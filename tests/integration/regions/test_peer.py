"""The peer adapter against a peer-gateway sandbox on loopback: partner REST, webhooks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from support.region_helpers import Receiver, config, envelope

from adapters.base import AdapterConfig
from adapters.http import AiohttpClient
from adapters.peer import PeerAdapter, create_sandbox
from gateway.envelope import Status
from gateway.errors import RegionRejected, RegionUnavailable

Start = Callable[..., Any]


async def adapter_for(
    start: Start, http: AiohttpClient, receiver: Receiver, **options: Any
) -> PeerAdapter:
    url = await start(create_sandbox, "peer", callback_url=receiver.url, **options)
    adapter = PeerAdapter(config("peer", url), http)
    receiver.adapter = adapter
    return adapter


async def test_submit_then_webhooks(
    start_sandbox: Start, http: AiohttpClient, receiver: Receiver
) -> None:
    adapter = await adapter_for(start_sandbox, http, receiver)
    ack = await adapter.submit(envelope(competent_region="peer"))
    assert ack.region_case_no.startswith("app_peer_")
    await receiver.wait_for(lambda evs: any(e.status is Status.APPROVED for e in evs))
    assert receiver.events[0].application_id == "app-1"


async def test_replay_returns_the_same_id(
    start_sandbox: Start, http: AiohttpClient, receiver: Receiver
) -> None:
    adapter = await adapter_for(start_sandbox, http, receiver, review_delay=60)
    env = envelope()
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
    ack = await adapter.submit(envelope(missing=True))
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
        await adapter.submit(envelope())
    assert caught.value.retry_after == 2.0


async def test_signer_seam_adds_its_headers(http: AiohttpClient) -> None:
    """A signer passed in config sees the exact bytes and its headers reach the peer."""
    seen: list[web.Request] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request)
        return web.json_response({"id": "p-1"}, status=202)

    def signer(method: str, url: str, headers: Mapping[str, str], body: bytes) -> dict[str, str]:
        return {"Signature-Input": f"sig1=();len={len(body)}", "Signature": "sig1=:AA==:"}

    app = web.Application()
    app.router.add_post("/v1/applications", handler)
    async with TestServer(app, host="127.0.0.1") as server:
        cfg = AdapterConfig(
            region="peer", settings={"url": str(server.make_url(""))}, signer=signer
        )
        await PeerAdapter(cfg, http).submit(envelope())
    assert seen[0].headers["Signature"] == "sig1=:AA==:"
    assert seen[0].headers["Idempotency-Key"].startswith("key-")


async def test_verifier_refusal_rejects_the_callback(
    start_sandbox: Start, http: AiohttpClient, receiver: Receiver
) -> None:
    async def refuse(request: web.Request, body: bytes) -> bool:
        return False

    url = await start_sandbox(create_sandbox, "peer", callback_url=receiver.url)
    receiver.adapter = PeerAdapter(
        AdapterConfig(region="peer", settings={"url": url}, verifier=refuse), http
    )
    await receiver.adapter.submit(envelope())
    async with asyncio.timeout(5):
        while not receiver.refused:  # noqa: ASYNC110 - refusals set no event to wait on
            await asyncio.sleep(0.01)
    assert receiver.refused[0].reason == "signature"
    assert receiver.events == []
