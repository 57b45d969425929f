"""A fake of the adapters' HTTP port, for tests of adapter code (after httpx's MockTransport).

`MockHttpClient` is an `HttpClient` that records each request and answers it with a
handler you write, so an adapter's protocol code runs without a network. (Tests of the
relay and the API use the regions' real sandboxes instead of a fake adapter.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from adapters.base import HttpResponse


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


__all__ = ["MockHttpClient", "RecordedRequest"]
