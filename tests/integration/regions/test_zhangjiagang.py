"""The Zhangjiagang adapter against its 国密 sandbox on loopback: SM2-signed, SM2 envelopes.

The gateway's SM2 key is a fresh one here, given to the adapter (`AdapterConfig.sm2_key`)
and its public half to the sandbox; the sandbox's key is its demo key, whose public
half is the default ``adapters.zhangjiagang.sm2_public_key``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from support.region_helpers import Receiver, config, envelope

from adapters.http import AiohttpClient
from adapters.zhangjiagang import ZhangjiagangAdapter, create_sandbox, protocol
from adapters.zhangjiagang.sandbox import DEMO_REGION_KEY_PEM
from gateway.envelope import Status
from gateway.errors import RegionRejected, RegionUnavailable
from gateway.security.sm2 import SM2PrivateKey

Start = Callable[..., Any]
GATEWAY_KEY = SM2PrivateKey.generate()
REGION_KEY = SM2PrivateKey.from_pem(DEMO_REGION_KEY_PEM)
OTHER_KEY = SM2PrivateKey.generate()
KNOWS_GATEWAY = {"gateway_sm2_public_key": GATEWAY_KEY.public_key().to_pem().decode()}


async def adapter_for(
    start: Start,
    http: AiohttpClient,
    receiver: Receiver,
    *,
    settings: dict[str, str] | None = None,
    **options: Any,
) -> ZhangjiagangAdapter:
    url = await start(
        create_sandbox,
        "zhangjiagang",
        callback_url=receiver.url,
        settings={**KNOWS_GATEWAY, **(settings or {})},
        **options,
    )
    adapter = ZhangjiagangAdapter(config("zhangjiagang", url, sm2_key=GATEWAY_KEY), http)
    receiver.adapter = adapter
    return adapter


async def test_submit_then_results_pushed(
    start_sandbox: Start, http: AiohttpClient, receiver: Receiver
) -> None:
    adapter = await adapter_for(start_sandbox, http, receiver)
    ack = await adapter.submit(envelope(competent_region="zhangjiagang"))
    assert ack.region_case_no.startswith("ZJG320582")
    await receiver.wait_for(lambda evs: any(e.status is Status.APPROVED for e in evs))
    assert [e.region_code for e in receiver.events] == ["SL", "BL", "BJTG"]
    assert receiver.refused == []


async def test_denied_by_rule(
    start_sandbox: Start, http: AiohttpClient, receiver: Receiver
) -> None:
    adapter = await adapter_for(start_sandbox, http, receiver)
    await adapter.submit(envelope(form={"sandbox_decision": "deny"}))
    await receiver.wait_for(lambda evs: any(e.status is Status.DENIED for e in evs))


async def test_no_material_is_not_accepted(
    start_sandbox: Start, http: AiohttpClient, receiver: Receiver
) -> None:
    adapter = await adapter_for(start_sandbox, http, receiver)
    env = envelope()
    body = env.body.model_copy(update={"materials": ()})
    await adapter.submit(env.model_copy(update={"body": body}))
    await receiver.wait_for(lambda evs: bool(evs))
    assert receiver.events[0].status is Status.REJECTED


async def test_same_serial_no_creates_one_case(
    start_sandbox: Start, http: AiohttpClient, receiver: Receiver
) -> None:
    adapter = await adapter_for(start_sandbox, http, receiver, review_delay=60)
    env = envelope()
    first, second = await adapter.submit(env), await adapter.submit(env)
    assert (second.region_case_no, second.duplicate) == (first.region_case_no, True)


async def test_a_gateway_key_the_region_does_not_know_is_refused(
    start_sandbox: Start, http: AiohttpClient
) -> None:
    url = await start_sandbox(create_sandbox, "zhangjiagang", settings=KNOWS_GATEWAY)
    adapter = ZhangjiagangAdapter(config("zhangjiagang", url, sm2_key=OTHER_KEY), http)
    with pytest.raises(RegionRejected) as caught:
        await adapter.submit(envelope())
    assert caught.value.code == "100001"


async def test_an_envelope_to_the_wrong_region_key_cannot_be_opened(
    start_sandbox: Start, http: AiohttpClient
) -> None:
    url = await start_sandbox(create_sandbox, "zhangjiagang", settings=KNOWS_GATEWAY)
    wrong = OTHER_KEY.public_key().point.hex()
    adapter = ZhangjiagangAdapter(
        config("zhangjiagang", url, sm2_key=GATEWAY_KEY, sm2_public_key=wrong), http
    )
    with pytest.raises(RegionRejected) as caught:
        await adapter.submit(envelope())
    assert caught.value.code == "100002"


@pytest.mark.parametrize("signer", ["another key", "tampered"])
async def test_an_answer_not_signed_by_the_region_is_not_trusted(
    http: AiohttpClient, signer: str
) -> None:
    """A stand-in region answers 000000 with a wrapper the region did not sign as is."""

    async def answer(request: web.Request) -> web.Response:
        key = OTHER_KEY if signer == "another key" else REGION_KEY
        wrapper, _ = protocol.seal("tongban-demo", key, {"caseNo": "ZJG-1"}, session_key=bytes(16))
        if signer == "tampered":
            wrapper["data"] = wrapper["data"][::-1]
        return web.json_response({"retCode": "000000", "retMsg": "成功", **wrapper})

    app = web.Application()
    app.router.add_post(protocol.PATHS["submission"], answer)
    async with TestServer(app, host="127.0.0.1") as server:
        url = str(server.make_url("")).rstrip("/")
        adapter = ZhangjiagangAdapter(config("zhangjiagang", url, sm2_key=GATEWAY_KEY), http)
        with pytest.raises(RegionUnavailable, match="failed verification"):
            await adapter.submit(envelope())


async def test_without_the_gateway_sm2_key_deliveries_wait(
    start_sandbox: Start, http: AiohttpClient
) -> None:
    url = await start_sandbox(create_sandbox, "zhangjiagang", settings=KNOWS_GATEWAY)
    adapter = ZhangjiagangAdapter(config("zhangjiagang", url), http)
    with pytest.raises(RegionUnavailable, match="keys generate --alg sm2"):
        await adapter.submit(envelope())
    assert (await adapter.health())["can_sign"] is False


async def test_unknown_case_is_rejected(
    start_sandbox: Start, http: AiohttpClient, receiver: Receiver
) -> None:
    adapter = await adapter_for(start_sandbox, http, receiver)
    with pytest.raises(RegionRejected) as caught:
        await adapter.send_rating(envelope("rating", region_case_no="ZJG-NOPE"))
    assert caught.value.code == "200004"


async def test_maintenance_is_transient_with_retry_after(
    start_sandbox: Start, http: AiohttpClient, receiver: Receiver
) -> None:
    adapter = await adapter_for(start_sandbox, http, receiver, fault_rate=1.0)
    with pytest.raises(RegionUnavailable) as caught:
        await adapter.submit(envelope())
    assert caught.value.retry_after == 1.0


async def test_lost_response_is_transient(
    start_sandbox: Start, http: AiohttpClient, receiver: Receiver
) -> None:
    adapter = await adapter_for(start_sandbox, http, receiver, drop_response_rate=1.0)
    with pytest.raises(RegionUnavailable):
        await adapter.submit(envelope())


CALLBACK = {
    "eventId": "ZJG-1-1",
    "caseNo": "ZJG-1",
    "status": "SL",
    "statusTime": "2026-03-03T10:00:00+08:00",
}


async def post_callback(receiver: Receiver, wrapper: dict[str, Any]) -> int:
    async with aiohttp.ClientSession() as session:
        response = await session.post(receiver.url, data=json.dumps(wrapper))
        return response.status


async def test_a_genuine_callback_is_accepted(
    start_sandbox: Start, http: AiohttpClient, receiver: Receiver
) -> None:
    await adapter_for(start_sandbox, http, receiver)
    wrapper, _ = protocol.seal(
        "tongban-demo", REGION_KEY, CALLBACK, recipient=GATEWAY_KEY.public_key()
    )
    assert await post_callback(receiver, wrapper) == 200
    assert [e.region_case_no for e in receiver.events] == ["ZJG-1"]


async def test_a_callback_signed_by_another_key_is_refused(
    start_sandbox: Start, http: AiohttpClient, receiver: Receiver
) -> None:
    await adapter_for(start_sandbox, http, receiver)
    forged, _ = protocol.seal(
        "tongban-demo", OTHER_KEY, CALLBACK, recipient=GATEWAY_KEY.public_key()
    )
    assert await post_callback(receiver, forged) == 401
    assert receiver.refused[0].reason == "signature"
    assert receiver.events == []


@pytest.mark.parametrize("field", ["data", "iv", "encKey", "timestamp", "nonce", "appId"])
async def test_a_tampered_callback_is_refused(
    start_sandbox: Start, http: AiohttpClient, receiver: Receiver, field: str
) -> None:
    await adapter_for(start_sandbox, http, receiver)
    wrapper, _ = protocol.seal(
        "tongban-demo", REGION_KEY, CALLBACK, recipient=GATEWAY_KEY.public_key()
    )
    value = wrapper[field]
    wrapper[field] = value[:-3] + ("A" if value[-3] != "A" else "B") + value[-2:]
    assert await post_callback(receiver, wrapper) == 401
    assert receiver.refused[0].reason == "signature"
    assert receiver.events == []


async def test_a_callback_enveloped_to_another_key_is_refused(
    start_sandbox: Start, http: AiohttpClient, receiver: Receiver
) -> None:
    await adapter_for(start_sandbox, http, receiver)
    wrapper, _ = protocol.seal(
        "tongban-demo", REGION_KEY, CALLBACK, recipient=OTHER_KEY.public_key()
    )
    assert await post_callback(receiver, wrapper) == 401
    assert receiver.refused[0].reason == "malformed"
    assert receiver.events == []


async def test_health(start_sandbox: Start, http: AiohttpClient, receiver: Receiver) -> None:
    adapter = await adapter_for(start_sandbox, http, receiver)
    health = await adapter.health()
    assert health["url"] == adapter.base_url
    assert health["can_sign"] is True
