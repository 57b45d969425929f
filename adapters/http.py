"""The outbound HTTP helpers region adapters use, from the core (`gateway.http.client`).

The gateway opens one shared `AiohttpClient` and hands it to every adapter as its
`HttpClient`; `retry_after` reads a region's ``Retry-After``.
"""

from gateway.http.client import AiohttpClient, retry_after

__all__ = ["AiohttpClient", "retry_after"]
