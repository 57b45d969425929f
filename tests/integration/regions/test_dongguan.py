"""The Dongguan adapter against its SOAP sandbox on loopback: results by polling."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from support.region_helpers import config, envelope

from adapters.dongguan import DongguanAdapter, create_sandbox, protocol
from adapters.http import AiohttpClient
from gateway.envelope import Status, StatusEvent
from gateway.errors import RegionRejected, RegionUnavailable

Start = Callable[..., Any]


async def adapter_for(start: Start, http: AiohttpClient, **options: Any) -> DongguanAdapter:
    url = await start(create_sandbox, "dongguan", **options)
    return DongguanAdapter(config("dongguan", url), http)


async def poll_until(
    adapter: DongguanAdapter, case_no: str, status: Status, seconds: float = 5
) -> list[StatusEvent]:
    async with asyncio.timeout(seconds):
        while True:
            events = await adapter.poll([case_no])
            if any(e.status is status for e in events):
                return events
            await asyncio.sleep(0.02)


async def test_submit_then_results_by_polling(start_sandbox: Start, http: AiohttpClient) -> None:
    adapter = await adapter_for(start_sandbox, http)
    ack = await adapter.submit(envelope(competent_region="dongguan"))
    assert ack.region_case_no.startswith("DG441900")
    events = await poll_until(adapter, ack.region_case_no, Status.APPROVED)
    assert [e.status for e in events] == [Status.ACCEPTED, Status.IN_REVIEW, Status.APPROVED]
    assert events[0].application_id == "app-1"
    again = await adapter.poll([ack.region_case_no])
    assert [e.event_id for e in again] == [e.event_id for e in events]


async def test_same_serial_no_creates_one_case(start_sandbox: Start, http: AiohttpClient) -> None:
    adapter = await adapter_for(start_sandbox, http, review_delay=60)
    env = envelope()
    first = await adapter.submit(env)
    second = await adapter.submit(env)
    assert second.region_case_no == first.region_case_no
    assert (first.duplicate, second.duplicate) == (False, True)


async def test_missing_material_then_supplement(start_sandbox: Start, http: AiohttpClient) -> None:
    adapter = await adapter_for(start_sandbox, http)
    ack = await adapter.submit(envelope(missing=True))
    events = await poll_until(adapter, ack.region_case_no, Status.SUPPLEMENT_REQUIRED)
    assert events[0].missing_materials == ("m2",)
    await adapter.send_supplement(envelope("supplement", region_case_no=ack.region_case_no))
    await poll_until(adapter, ack.region_case_no, Status.APPROVED)


async def test_withdraw_before_decision(start_sandbox: Start, http: AiohttpClient) -> None:
    adapter = await adapter_for(start_sandbox, http, review_delay=60)
    ack = await adapter.submit(envelope())
    await adapter.withdraw(envelope("withdrawal", region_case_no=ack.region_case_no))
    events = await adapter.poll([ack.region_case_no])
    assert [e.status for e in events] == [Status.WITHDRAWN]
    with pytest.raises(RegionRejected) as caught:
        await adapter.withdraw(envelope("withdrawal", region_case_no=ack.region_case_no))
    assert caught.value.code == "E205"


async def test_unknown_case_is_a_client_fault(start_sandbox: Start, http: AiohttpClient) -> None:
    adapter = await adapter_for(start_sandbox, http)
    with pytest.raises(RegionRejected) as caught:
        await adapter.withdraw(envelope("withdrawal", region_case_no="DG-NOPE"))
    assert caught.value.code == "E204"


async def test_bad_password_is_refused_by_the_sandbox(
    start_sandbox: Start, http: AiohttpClient
) -> None:
    url = await start_sandbox(create_sandbox, "dongguan")
    adapter = DongguanAdapter(config("dongguan", url, password="wrong"), http)  # noqa: S106
    with pytest.raises(RegionRejected) as caught:
        await adapter.submit(envelope())
    assert caught.value.code == "E101"


@pytest.mark.parametrize("header", [b"", b"<soap:Header/>", b"<soap:Header><other/></soap:Header>"])
async def test_a_request_without_a_username_token_is_refused(
    start_sandbox: Start, header: bytes
) -> None:
    # An empty <soap:Header/> is a present header without a token: on Python 3.12+
    # testing its truth value warns (an error here), on 3.11 it merely looked absent.
    url = await start_sandbox(create_sandbox, "dongguan")
    request = (
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        + header
        + b'<soap:Body><echo xmlns="http://approval.dg.gov.cn/ws/2019"/></soap:Body>'
        b"</soap:Envelope>"
    )
    async with (
        aiohttp.ClientSession() as session,
        session.post(url + "/services/ApprovalService", data=request) as response,
    ):
        status, (_, fault) = response.status, protocol.parse(await response.read())
    assert (status, fault.findtext(f"detail/{protocol.q('errorCode')}")) == (500, "E101")


async def test_server_fault_is_transient(start_sandbox: Start, http: AiohttpClient) -> None:
    adapter = await adapter_for(start_sandbox, http, fault_rate=1.0)
    with pytest.raises(RegionUnavailable, match="E301"):
        await adapter.submit(envelope())


async def test_lost_response_leaves_one_case(start_sandbox: Start, http: AiohttpClient) -> None:
    adapter = await adapter_for(start_sandbox, http, drop_response_rate=1.0, review_delay=60)
    with pytest.raises(RegionUnavailable):
        await adapter.submit(envelope())
    async with (
        aiohttp.ClientSession() as session,
        session.get(adapter.base_url + "/_sandbox/cases") as response,
    ):
        [case] = (await response.json())["cases"]
    assert case["times_submitted"] == 1


async def test_entity_expansion_is_refused(start_sandbox: Start, http: AiohttpClient) -> None:
    url = await start_sandbox(create_sandbox, "dongguan")
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        b"<soap:Body><x>&b;</x></soap:Body></soap:Envelope>"
    )
    async with (
        aiohttp.ClientSession() as session,
        session.post(url + "/services/ApprovalService", data=bomb) as response,
    ):
        assert response.status == 500
        assert b"E201" in await response.read()


async def test_health(start_sandbox: Start, http: AiohttpClient) -> None:
    adapter = await adapter_for(start_sandbox, http)
    assert (await adapter.health())["url"] == adapter.base_url
