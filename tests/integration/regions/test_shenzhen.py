"""The Shenzhen adapter against its sandbox on loopback: signed JSON, pushed results."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from support.region_helpers import Receiver, config, envelope

from adapters.http import AiohttpClient
from adapters.shenzhen import ShenzhenAdapter, create_sandbox
from gateway.envelope import Status
from gateway.errors import RegionRejected, RegionUnavailable

Start = Callable[..., Any]


async def adapter_for(
    start: Start, http: AiohttpClient, receiver: Receiver, **options: Any
) -> ShenzhenAdapter:
    url = await start(create_sandbox, "shenzhen", **options)
    adapter = ShenzhenAdapter(config("shenzhen", url, receiver.url), http)
    receiver.adapter = adapter
    return adapter


async def cases(adapter: ShenzhenAdapter) -> list[dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(adapter.base_url + "/_sandbox/cases") as r,
    ):
        return list((await r.json())["cases"])


async def test_submit_then_results_pushed_to_callback(
    start_sandbox: Start, http: AiohttpClient, receiver: Receiver
) -> None:
    adapter = await adapter_for(start_sandbox, http, receiver)
    ack = await adapter.submit(envelope())
    assert ack.region_case_no.startswith("SZ")
    await receiver.wait_for(lambda evs: any(e.status is Status.APPROVED for e in evs))
    assert [e.status for e in receiver.events] == [
        Status.ACCEPTED,
        Status.IN_REVIEW,
        Status.APPROVED,
    ]
    assert {e.region_case_no for e in receiver.events} == {ack.region_case_no}
    assert receiver.events[-1].certificate_no


async def test_same_idempotency_key_creates_one_case(
    start_sandbox: Start, http: AiohttpClient, receiver: Receiver
) -> None:
    adapter = await adapter_for(start_sandbox, http, receiver, review_delay=60)
    env = envelope()
    first = await adapter.submit(env)
    second = await adapter.submit(env)
    assert (first.region_case_no, first.duplicate) == (
        second.region_case_no,
        False,
    ) or second.duplicate
    assert second.duplicate
    [case] = await cases(adapter)
    assert case["times_submitted"] == 2
    assert case["idempotency_key"] == env.idempotency_key


async def test_missing_material_then_supplement(
    start_sandbox: Start, http: AiohttpClient, receiver: Receiver
) -> None:
    adapter = await adapter_for(start_sandbox, http, receiver)
    ack = await adapter.submit(envelope(missing=True))
    await receiver.wait_for(lambda evs: any(e.status is Status.SUPPLEMENT_REQUIRED for e in evs))
    assert receiver.events[0].missing_materials == ("m2",)
    await adapter.send_supplement(envelope("supplement", region_case_no=ack.region_case_no))
    await receiver.wait_for(lambda evs: evs[-1].status is Status.APPROVED)


async def test_invalid_id_number_is_not_accepted(
    start_sandbox: Start, http: AiohttpClient, receiver: Receiver
) -> None:
    adapter = await adapter_for(start_sandbox, http, receiver)
    await adapter.submit(envelope(id_number="110105194912310021"))
    await receiver.wait_for(lambda evs: bool(evs))
    assert receiver.events[0].status is Status.REJECTED


async def test_withdraw_after_decision_is_rejected(
    start_sandbox: Start, http: AiohttpClient, receiver: Receiver
) -> None:
    adapter = await adapter_for(start_sandbox, http, receiver, review_delay=0.0)
    ack = await adapter.submit(envelope(form={"sandbox_decision": "deny"}))
    await receiver.wait_for(lambda evs: any(e.status is Status.DENIED for e in evs))
    with pytest.raises(RegionRejected) as caught:
        await adapter.withdraw(envelope("withdrawal", region_case_no=ack.region_case_no))
    assert caught.value.code == "2005"
    await adapter.send_rating(envelope("rating", region_case_no=ack.region_case_no))


async def test_unknown_case_is_rejected(
    start_sandbox: Start, http: AiohttpClient, receiver: Receiver
) -> None:
    adapter = await adapter_for(start_sandbox, http, receiver)
    with pytest.raises(RegionRejected) as caught:
        await adapter.withdraw(envelope("withdrawal", region_case_no="SZ-NOPE"))
    assert (caught.value.code, caught.value.region) == ("2004", "shenzhen")


async def test_bad_secret_is_refused_by_the_sandbox(
    start_sandbox: Start, http: AiohttpClient, receiver: Receiver
) -> None:
    url = await start_sandbox(create_sandbox, "shenzhen")
    adapter = ShenzhenAdapter(config("shenzhen", url, app_secret="wrong"), http)  # noqa: S106
    with pytest.raises(RegionRejected) as caught:
        await adapter.submit(envelope())
    assert caught.value.code == "1001"


async def test_busy_region_is_transient(
    start_sandbox: Start, http: AiohttpClient, receiver: Receiver
) -> None:
    adapter = await adapter_for(start_sandbox, http, receiver, fault_rate=1.0)
    with pytest.raises(RegionUnavailable, match="3001"):
        await adapter.submit(envelope())


async def test_lost_response_then_retry_finds_the_same_case(
    start_sandbox: Start, http: AiohttpClient, receiver: Receiver
) -> None:
    adapter = await adapter_for(
        start_sandbox, http, receiver, drop_response_rate=1.0, review_delay=60
    )
    env = envelope()
    with pytest.raises(RegionUnavailable):
        await adapter.submit(env)
    [case] = await cases(adapter)
    assert case["times_submitted"] == 1
    assert case["idempotency_key"] == env.idempotency_key


async def test_down_region_is_transient(
    start_sandbox: Start, http: AiohttpClient, receiver: Receiver
) -> None:
    adapter = await adapter_for(start_sandbox, http, receiver)
    async with aiohttp.ClientSession() as session:
        await session.post(adapter.base_url + "/_sandbox/down?seconds=30")
    with pytest.raises(RegionUnavailable):
        await adapter.submit(envelope())


async def test_connection_refused_is_transient(http: AiohttpClient) -> None:
    adapter = ShenzhenAdapter(config("shenzhen", "http://127.0.0.1:9"), http)
    with pytest.raises(RegionUnavailable) as caught:
        await adapter.submit(envelope())
    assert caught.value.region == "shenzhen"
    with pytest.raises(RegionUnavailable):
        await adapter.health()


async def test_forged_callback_is_refused(
    start_sandbox: Start, http: AiohttpClient, receiver: Receiver
) -> None:
    await adapter_for(start_sandbox, http, receiver)
    async with aiohttp.ClientSession() as session:
        response = await session.post(
            receiver.url + "?appId=tongban-demo&timestamp=1&nonce=x&signType=HMAC-SHA256&sign=AAAA",
            json={
                "eventId": "1",
                "caseNo": "SZ1",
                "statusCode": "11",
                "statusTime": "2025-01-01T00:00:00+00:00",
            },
        )
        assert response.status == 401
    assert receiver.refused[0].reason == "signature"
    assert receiver.events == []


async def test_health(start_sandbox: Start, http: AiohttpClient, receiver: Receiver) -> None:
    adapter = await adapter_for(start_sandbox, http, receiver)
    assert (await adapter.health())["url"] == adapter.base_url
