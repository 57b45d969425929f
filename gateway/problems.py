"""RFC 9457 problem details: the one shape of every error response.

A leaf module: it imports nothing from the gateway, so every layer (security,
observability, the routes) may raise a `Problem`; `gateway.http.responses`
renders it.

Handlers raise `Problem` (or a subclass) and the error middleware renders it; they
never build error JSON themselves. Every problem carries an English ``title``, a
``detail`` a window clerk can read (Chinese where the reader is staff), and the
``request_id`` ops can trace.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from aiohttp import web

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://tongban.example/problems/"


class Problem(Exception):
    """An error answered to the client as ``application/problem+json``.

    `type_` is a short slug, expanded to a URI under the gateway's problem base;
    `errors` lists field-level problems as ``{"field": ..., "message": ...}``;
    `headers` are added to the response (``Allow``, ``Retry-After``).
    """

    def __init__(
        self,
        status: int,
        title: str | None = None,
        detail: str | None = None,
        *,
        type_: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        self.status = status
        self.title = title or HTTPStatus(status).phrase
        self.detail = detail
        self.type_ = type_
        self.errors = errors
        self.headers = dict(headers or {})
        self.extensions = extensions
        super().__init__(f"{status} {self.title}: {detail or ''}")

    def body(self, *, instance: str, request_id: str | None) -> dict[str, Any]:
        """The problem document for the request at `instance`."""
        document: dict[str, Any] = {
            "type": TYPE_BASE + self.type_ if self.type_ else "about:blank",
            "title": self.title,
            "status": self.status,
        }
        if self.detail:
            document["detail"] = self.detail
        document["instance"] = instance
        if self.errors:
            document["errors"] = self.errors
        if request_id:
            document["request_id"] = request_id
        document.update(self.extensions)
        return document


def from_http_exception(exc: web.HTTPException) -> Problem:
    """Translate aiohttp's routing errors (404, 405, 413...) into a `Problem`."""
    headers = {}
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = sorted(exc.allowed_methods)
        headers["Allow"] = ", ".join(allowed)
        return Problem(
            exc.status,
            detail=f"此地址不支持 {exc.method} 方法，可用：{', '.join(allowed)}",
            type_="method-not-allowed",
            headers=headers,
        )
    if isinstance(exc, web.HTTPNotFound):
        return Problem(exc.status, detail="此地址没有对应的资源", type_="not-found")
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return Problem(exc.status, detail="请求内容超过网关接受的大小", type_="too-large")
    return Problem(exc.status, detail="请求未被接受", type_="http-error")
