"""The shared outbound HTTP client: one aiohttp `ClientSession` for every adapter
and the relay's partner webhooks (it implements the adapter contract's `HttpClient`).

Chosen by measurement (``benchmarks/outbound_client.py``): with the same adapter
code, aiohttp's own client sustained several times the request rate of httpx, which
matters on the relay's hot path (1,000 deliveries/s on two cores). It pools
connections across regions, applies the configured timeouts, and translates every
aiohttp and socket error into `RegionUnavailable`, so nothing foreign leaves it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import aiohttp

from adapters.base import HttpResponse
from gateway.errors import RegionUnreachable


class AiohttpClient:
    """`HttpClient` over one `aiohttp.ClientSession`; open it inside a running loop.

    `timeout` is the default total seconds per request, `connect_timeout` the seconds
    to open a connection, `pool_size` the most connections open at once.
    """

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        connect_timeout: float = 3.0,
        pool_size: int = 100,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._session = session or aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=pool_size, limit_per_host=pool_size),
            timeout=aiohttp.ClientTimeout(total=timeout, connect=connect_timeout),
            # Regions get exactly the headers an adapter sets; no cookies carried between them.
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=True,
        )

    @property
    def session(self) -> aiohttp.ClientSession:
        return self._session

    async def request(
        self,
        method: str,
        url: str,
        *,
        region: str,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - per-request limit, as in httpx
    ) -> HttpResponse:
        """Send one request and read the whole body; raises `RegionUnreachable` (a
        `RegionUnavailable`) when no response comes back."""
        client_timeout = (
            aiohttp.ClientTimeout(total=timeout, connect=min(timeout, self._connect_timeout))
            if timeout is not None
            else None
        )
        try:
            async with self._session.request(
                method,
                url,
                data=content,
                headers=dict(headers or {}),
                timeout=client_timeout,
                allow_redirects=False,
            ) as response:
                body = await response.read()
                return HttpResponse(response.status, response.headers, body)
        except TimeoutError as exc:
            seconds = timeout if timeout is not None else self._timeout
            raise RegionUnreachable(region, f"no answer within {seconds:g} s") from exc
        except aiohttp.ServerDisconnectedError as exc:
            # The region may have acted on the request: a retry must reuse the same key.
            raise RegionUnreachable(region, "connection closed before the response") from exc
        except (aiohttp.ClientError, OSError, asyncio.IncompleteReadError) as exc:
            raise RegionUnreachable(region, f"{type(exc).__name__}: {exc}") from exc

    async def aclose(self) -> None:
        await self._session.close()


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from a ``Retry-After`` header given in seconds; None if absent or a date."""
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


__all__ = ["AiohttpClient", "retry_after"]
