"""JSON responses: the one helper every route answers JSON with, and problem+json.

UTF-8 text with Chinese as is (``"受理"``, never ``"\\u53d7\\u7406"``), so a person
reading with curl sees what the CLI shows. aiohttp's own ``web.json_response``
escapes every non-ASCII character; a test keeps it out of the gateway.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from gateway.jsonio import dumps_bytes
from gateway.problems import MEDIA_TYPE, Problem

JSON_MEDIA_TYPE = "application/json"


def json_response(
    data: Any,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    content_type: str = JSON_MEDIA_TYPE,
) -> web.Response:
    """`data` as a UTF-8 JSON response (``charset=utf-8`` in its Content-Type)."""
    return web.Response(
        body=dumps_bytes(data),
        status=status,
        headers=headers,
        content_type=content_type,
        charset="utf-8",
    )


def problem_response(
    problem: Problem, request: web.BaseRequest, request_id: str | None, *, close: bool = False
) -> web.Response:
    """Render `problem` for `request`; `close` ends the connection after it."""
    response = json_response(
        problem.body(instance=request.path, request_id=request_id),
        status=problem.status,
        content_type=MEDIA_TYPE,
        headers=problem.headers,
    )
    if close:
        response.force_close()
    return response
