"""The Zhangjiagang adapter against its 国密 sandbox on loopback: SM4 + HMAC-SM3, pushed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from adapters.http import AiohttpClient
from adapters.zhangjiagang import ZhangjiagangAdapter, create_sandbox, protocol
from gateway.applications.status import Status
from gateway.errors import RegionRejected, RegionUnavailable
from regions.region_helpers import Receiver, config, envelope

Start = Callable[..., Any]
OTHER_KEY = "ffeeddccbbaa99887766554433221100"


async def adapter_for(
    start: Start, http: AiohttpClient, receiver: Receiver, **options: Any
) -> ZhangjiagangAdapter:
    url = await start(create_sandbox, "zhangjiagang", callback_url=receiver.url, **options)
    adapter = ZhangjiagangAdapter(config("zhangjiagang", url), http)
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


async def test_wrong_mac_key_is_refused_by_the_sandbox(
    start_sandbox: Start, http: AiohttpClient
) -> None:
    url = await start_sandbox(create_sandbox, "zhangjiagang")
    adapter = ZhangjiagangAdapter(config("zhangjiagang", url, mac_key=OTHER_KEY), http)
    with pytest.raises(RegionRejected) as caught:
        await adapter.submit(envelope())
    assert caught.value.code == "100001"


async def test_wrong_sm4_key_is_refused_by_the_sandbox(
    start_sandbox: Start, http: AiohttpClient
) -> None:
    url = await start_sandbox(create_sandbox, "zhangjiagang")
    adapter = ZhangjiagangAdapter(config("zhangjiagang", url, sm4_key=OTHER_KEY), http)
    with pytest.raises(RegionRejected) as caught:
        await adapter.submit(envelope())
    assert caught.value.code == "100002"


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


async def test_forged_callback_is_refused(
    start_sandbox: Start, http: AiohttpClient, receiver: Receiver
) -> None:
    await adapter_for(start_sandbox, http, receiver)
    forged = protocol.seal("tongban-demo", OTHER_KEY, OTHER_KEY, {"caseNo": "x"})
    async with aiohttp.ClientSession() as session:
        response = await session.post(receiver.url, json=forged)
        assert response.status == 401
    assert receiver.refused[0].reason == "signature"


async def test_health(start_sandbox: Start, http: AiohttpClient, receiver: Receiver) -> None:
    adapter = await adapter_for(start_sandbox, http, receiver)
    assert (await adapter.health())["url"] == adapter.config.base_url
