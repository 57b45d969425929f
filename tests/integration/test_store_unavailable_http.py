"""A transient store failure is a 503 the client may retry, never a 500.

A deadlock victim, an exhausted pool or a status changed by another process
(`ConcurrentChange`) rolled the transaction back whole: the answer says so, with
Retry-After, so a partner retries with the same Idempotency-Key.
"""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.errors import ConcurrentChange, StoreError, StoreUnavailable
from gateway.observability import problem_errors, request_context


async def answer_to(error: Exception) -> tuple[int, dict[str, object], str | None]:
    async def failing(request: web.Request) -> web.Response:
        raise error

    app = web.Application(middlewares=[request_context, problem_errors])
    app.router.add_post("/v1/applications", failing)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        response = await client.post("/v1/applications", data=b"{}")
        return response.status, await response.json(), response.headers.get("Retry-After")


@pytest.mark.parametrize(
    "error", [StoreUnavailable("deadlock detected"), ConcurrentChange("status changed")]
)
async def test_a_transient_store_failure_is_503_with_retry_after(error: Exception) -> None:
    status, problem, retry_after = await answer_to(error)
    assert status == problem["status"] == 503
    assert problem["type"] == "https://tongban.example/problems/store-unavailable"
    assert retry_after == "1"
    assert str(error) not in str(problem)  # the store's own words stay in the log


async def test_a_lasting_store_failure_stays_a_500() -> None:
    status, problem, _ = await answer_to(StoreError("no such table"))
    assert status == problem["status"] == 500
