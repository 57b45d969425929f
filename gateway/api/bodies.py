"""Reading request bodies: JSON through the strict loader, multipart without surprises.

Every route that takes JSON calls `read_json`; every JSON refusal is the same 400
(413 when too large) problem whose ``check`` names the broken rule
(`gateway.jsonio`). Bodies over 64 KiB are parsed in a worker thread: the parser
hands the interpreter back between objects, so other requests are served meanwhile.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from gateway.api.problems import Problem
from gateway.app_keys import SETTINGS
from gateway.jsonio import JsonRefused, load_json

_PARSE_IN_THREAD_BYTES = 64 * 1024


async def read_json(request: web.Request) -> Any:
    """The request's JSON body, parsed strictly; a `Problem` when it breaks a rule."""
    body = await request.read()
    limit = request.app[SETTINGS].server.max_body_bytes
    try:
        if len(body) > _PARSE_IN_THREAD_BYTES:
            return await asyncio.to_thread(load_json, body, max_bytes=limit)
        return load_json(body, max_bytes=limit)
    except JsonRefused as exc:
        raise json_problem(exc) from None


def json_problem(exc: JsonRefused) -> Problem:
    """The answer to a JSON document `load_json` refused."""
    if exc.check == "too_large":
        return Problem(413, "JSON too large", exc.detail_zh, type_="too-large", check=exc.check)
    return Problem(400, "Malformed JSON", exc.detail_zh, type_="malformed-json", check=exc.check)
