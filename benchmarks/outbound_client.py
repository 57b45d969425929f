"""Which outbound HTTP client should the adapters share? Measured through our own code.

Runs the Shenzhen adapter's real ``submit`` path (build JSON, HMAC-SHA256 sign, POST,
parse and map the answer) over three `HttpClient` implementations against a local
aiohttp server in a separate process, and prints the median requests/s of several runs:

- aiohttp ``ClientSession`` (adapters.http.AiohttpClient, what ships)
- httpx ``AsyncClient`` with its default transport
- httpx ``AsyncClient`` over the ``httpx-aiohttp`` transport

Usage: .venv/bin/python benchmarks/outbound_client.py
       [--requests 3000] [--concurrency 64] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import statistics
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
import httpx_aiohttp
from aiohttp import web
from support.loopback import free_port

from adapters.base import AdapterConfig, HttpClient, HttpResponse
from adapters.http import AiohttpClient
from adapters.shenzhen import ShenzhenAdapter
from gateway.envelope import Envelope
from gateway.errors import RegionUnavailable

ANSWER = (
    b'{"code":"0000","msg":"\xe6\x88\x90\xe5\x8a\x9f","data":{"caseNo":"SZ1","duplicate":false}}'
)


def serve(port: int) -> None:
    async def ok(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=ANSWER, content_type="application/json")

    app = web.Application()
    app.router.add_post("/open/api/case/submit", ok)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


class HttpxClient:
    """`HttpClient` over an httpx AsyncClient, for comparison only."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def request(
        self,
        method: str,
        url: str,
        *,
        region: str,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - mirrors the HttpClient protocol
    ) -> HttpResponse:
        try:
            response = await self._client.request(method, url, content=content, headers=headers)
        except httpx.HTTPError as exc:
            raise RegionUnavailable(region, str(exc)) from exc
        return HttpResponse(response.status_code, response.headers, response.content)

    async def aclose(self) -> None:
        await self._client.aclose()


def make_envelope() -> Envelope:
    return Envelope.model_validate(
        {
            "envelope_id": "e1",
            "idempotency_key": "k1",
            "application_id": "a1",
            "request_id": "0af7651916cd43dd8448eb211c80319c",
            "item_code": "440300-GA-001",
            "receiving_region": "dongguan",
            "competent_region": "shenzhen",
            "created_at": datetime.now(UTC),
            "body": {
                "kind": "submission",
                "handling_mode": "full_online",
                "channel": "window",
                "applicant": {
                    "kind": "person",
                    "name": "张三",
                    "id_type": "resident_id",
                    "id_number": "11010519491231002X",
                },
                "materials": [
                    {
                        "material_id": f"m{i}",
                        "material_name": "材料",
                        "provided": True,
                        "trust_level": "B",
                        "attachments": ["ab" * 32],
                    }
                    for i in range(8)
                ],
                "form": {"note": "x" * 200},
                "delivery": {"method": "window_pickup"},
            },
        }
    )


async def one_run(client: HttpClient, url: str, requests: int, concurrency: int) -> float:
    config = AdapterConfig("shenzhen", {"url": url})  # the demo appId and secret
    adapter = ShenzhenAdapter(config, client)
    envelope = make_envelope()
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await adapter.submit(envelope)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return requests / (time.perf_counter() - started)


def clients(concurrency: int) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return {
        "aiohttp ClientSession": lambda: AiohttpClient(pool_size=concurrency),
        "httpx default transport": lambda: HttpxClient(httpx.AsyncClient(limits=limits)),
        "httpx + httpx-aiohttp": lambda: HttpxClient(
            httpx.AsyncClient(transport=httpx_aiohttp.AiohttpTransport(), limits=limits)
        ),
    }


async def main(requests: int, concurrency: int, runs: int, url: str) -> None:
    body_size = len(make_envelope().model_dump_json())
    print(f"{requests} submits x {runs} runs, concurrency {concurrency}, envelope {body_size} B")
    results: dict[str, list[float]] = {name: [] for name in clients(concurrency)}
    for _ in range(runs):  # interleaved, so drift on the machine hits every client alike
        for name, make in clients(concurrency).items():
            client = make()
            try:
                await one_run(client, url, requests // 10, concurrency)  # warm-up
                results[name].append(await one_run(client, url, requests, concurrency))
            finally:
                await client.aclose()
    for name, rates in results.items():
        print(
            f"{name:<26} median {statistics.median(rates):7.0f} req/s   "
            f"(min {min(rates):.0f}, max {max(rates):.0f})"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    port = free_port()
    server = multiprocessing.get_context("spawn").Process(target=serve, args=(port,), daemon=True)
    server.start()
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.05)
    try:
        asyncio.run(main(args.requests, args.concurrency, args.runs, f"http://127.0.0.1:{port}"))
    finally:
        server.terminate()
        server.join()
