"""Fakes for the adapter ports, for tests of code that uses them (after httpx's MockTransport).

- `MockHttpClient`: an `HttpClient` that records each request and answers it with a
  handler you write, so an adapter's protocol code runs without a network.
- `RecordingAdapter`: an `Adapter` that records envelopes and answers with case
  numbers, or raises the error you queue, for tests of the relay and the API.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from adapters.base import AdapterBase, AdapterConfig, AdapterSettings, HttpResponse
from gateway.envelope import Envelope, RegionAck
from gateway.errors import AdapterError


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    url: str
    headers: Mapping[str, str]
    content: bytes


Handler = Callable[[RecordedRequest], HttpResponse | Awaitable[HttpResponse]]


class MockHttpClient:
    """`HttpClient` answering every request with `handler` (which may raise `AdapterError`s)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[RecordedRequest] = []

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
        recorded = RecordedRequest(method, url, dict(headers or {}), content or b"")
        self.requests.append(recorded)
        result = self.handler(recorded)
        return result if isinstance(result, HttpResponse) else await result

    async def aclose(self) -> None:
        """Nothing to release."""


@dataclass
class RecordingAdapter(AdapterBase):
    """An in-memory region: records envelopes by kind; `fail_next` queues errors to raise."""

    sent: list[Envelope] = field(default_factory=list)
    fail_next: list[AdapterError] = field(default_factory=list)

    def __init__(self, region: str = "recording") -> None:
        super().__init__(
            AdapterConfig(region=region),
            MockHttpClient(_none),
            AdapterSettings(url="http://memory.invalid"),  # never called: nothing is sent
        )
        self.sent = []
        self.fail_next = []
        self._numbers = itertools.count(1)
        self._cases: dict[str, str] = {}

    async def _record(self, envelope: Envelope) -> RegionAck:
        if self.fail_next:
            raise self.fail_next.pop(0)
        self.sent.append(envelope)
        known = self._cases.get(envelope.idempotency_key)
        if known is not None:
            return RegionAck(region_case_no=known, duplicate=True)
        case_no = envelope.region_case_no or f"{self.region.upper()}-{next(self._numbers)}"
        self._cases[envelope.idempotency_key] = case_no
        return RegionAck(region_case_no=case_no)

    async def submit(self, envelope: Envelope) -> RegionAck:
        return await self._record(envelope)

    async def send_supplement(self, envelope: Envelope) -> RegionAck:
        return await self._record(envelope)

    async def withdraw(self, envelope: Envelope) -> RegionAck:
        return await self._record(envelope)

    async def send_rating(self, envelope: Envelope) -> RegionAck:
        return await self._record(envelope)

    async def health(self) -> dict[str, Any]:
        return {"recorded": len(self.sent)}


def _none(request: RecordedRequest) -> HttpResponse:
    raise AssertionError(f"RecordingAdapter makes no HTTP requests ({request.url})")


__all__ = ["MockHttpClient", "RecordedRequest", "RecordingAdapter"]
