"""Reading request bodies: JSON through the strict loader, multipart without surprises.

Every route that takes JSON calls `read_json`; every JSON refusal is the same 400
(413 when too large) problem whose ``check`` names the broken rule
(`gateway.jsonio`). Bodies over 64 KiB are parsed in a worker thread: the parser
hands the interpreter back between objects, so other requests are served meanwhile.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import MultipartReader, web
from aiohttp.base_protocol import BaseProtocol
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.streams import StreamReader

from gateway.app_keys import SETTINGS
from gateway.jsonio import JsonRefused, load_json
from gateway.problems import Problem

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


# What aiohttp's multipart parser raises on a broken body (no boundary: AssertionError).
MULTIPART_ERRORS = (ValueError, AssertionError, LookupError, HttpProcessingError)


async def read_multipart(request: web.Request) -> MultipartReader:
    """aiohttp's multipart parser over the request's body.

    `body_in_time` has read the whole body already (and `request.multipart()` would
    find its stream empty), so the parser reads the bytes aiohttp kept. Parsing
    errors are `MULTIPART_ERRORS`.
    """
    body = await request.read()
    return MultipartReader(request.headers, _in_memory(body))


def _in_memory(body: bytes) -> StreamReader:
    """A stream over bytes already read. The limit exceeds the body, so the stream
    never asks its (detached) protocol to pause reading."""
    stream = StreamReader(BaseProtocol(asyncio.get_running_loop()), len(body) + 1)
    stream.feed_data(body)
    stream.feed_eof()
    return stream
