"""REST routes for applications and attachments.

``POST /v1/attachments`` (multipart or raw body) → 201 with the SHA-256 digest;
``POST /v1/applications`` (``Idempotency-Key``) → 202 with id, request id, status
URL and receipt; ``GET /v1/applications/{id}``; ``GET /v1/applications?...``;
``POST /v1/applications/{id}/supplements``, ``/withdrawal``, ``/rating``.

Who is calling arrives on the request as ``request[CALLER]`` (set by the partner
or staff authentication middleware); without one the caller is ``anonymous``.
Errors are problem+json: 422 lists every bad field with a Chinese message.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

from aiohttp import BodyPartReader, web

from gateway.api.problems import Problem
from gateway.applications import actions, intake, queries
from gateway.applications.records import Deps
from gateway.applications.status import Status
from gateway.errors import (
    ActionRefused,
    ApplicationNotFound,
    AttachmentError,
    FieldError,
    IdempotencyConflict,
    InvalidApplication,
)
from gateway.observability import request_id_of

APPLICATIONS = web.AppKey("applications", Deps)
CALLER = web.RequestKey("caller", str)
"""Set by authentication middleware: ``partner:<id>`` or ``staff:<id>``."""

IDEMPOTENCY_HEADER = "Idempotency-Key"
_SANE_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
_CHUNK = 64 * 1024

routes = web.RouteTableDef()
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _problems(handler: Handler) -> Handler:
    """Translate the applications' errors into problem+json answers."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except InvalidApplication as exc:
            raise invalid(exc.errors) from None
        except ApplicationNotFound as exc:
            raise Problem(
                404,
                "Application not found",
                f"找不到编号为 {exc.application_id} 的办件",
                type_="application-not-found",
            ) from None
        except IdempotencyConflict:
            raise Problem(
                409,
                "Idempotency-Key reused with a different body",
                "此 Idempotency-Key 已用于另一份内容不同的申请；新申请请使用新的键。",
                type_="idempotency-conflict",
            ) from None
        except ActionRefused as exc:
            raise Problem(
                409, "Not possible in the current state", exc.reason_zh, type_="action-refused"
            ) from None
        except AttachmentError as exc:
            title = "Attachment too large" if exc.status == 413 else "Attachment type refused"
            raise Problem(exc.status, title, exc.message_zh, type_="attachment-refused") from None

    return wrapper


def invalid(errors: list[FieldError]) -> Problem:
    """The 422 problem listing every bad field."""
    return Problem(
        422,
        "Invalid application",
        f"申请信息有 {len(errors)} 处需要更正，请逐项核对后重新提交。",
        type_="invalid-application",
        errors=[error.as_dict() for error in errors],
    )


def caller_of(request: web.Request) -> str:
    caller: str = request.get(CALLER, "anonymous")
    return caller


async def _json_body(request: web.Request) -> Any:
    try:
        return await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise Problem(
            400, "Malformed JSON", "请求内容不是有效的 JSON", type_="malformed-json"
        ) from None


def _deps(request: web.Request) -> Deps:
    return request.app[APPLICATIONS]


@routes.post("/v1/attachments")
@_problems
async def upload_attachment(request: web.Request) -> web.Response:
    """Store one file; 201 with its digest when new, 200 when it was already stored."""
    deps = _deps(request)
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        part = await reader.next()
        while part is not None and not (isinstance(part, BodyPartReader) and part.filename):
            part = await reader.next()
        if not isinstance(part, BodyPartReader):
            raise Problem(422, "No file", "请求中没有文件", type_="attachment-refused")
        media_type = part.headers.get("Content-Type", "application/octet-stream")
        stored = await deps.attachments.save(_part_chunks(part), media_type)
    else:
        stored = await deps.attachments.save(
            request.content.iter_chunked(_CHUNK), request.content_type
        )
    async with deps.store.transaction() as conn:
        await conn.execute(
            "INSERT INTO attachments (digest, media_type, size, created_at) VALUES (:digest, "
            ":media_type, :size, :now) ON CONFLICT (digest) DO NOTHING",
            {
                "digest": stored.digest,
                "media_type": stored.media_type,
                "size": stored.size,
                "now": datetime.now(UTC).isoformat(),
            },
        )
    return web.json_response(
        {"digest": stored.digest, "size": stored.size, "media_type": stored.media_type},
        status=201 if stored.created else 200,
    )


async def _part_chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(_CHUNK):
        yield chunk


@routes.post("/v1/applications")
@_problems
async def submit_application(request: web.Request) -> web.Response:
    """Take an application in; see `gateway.applications.intake`."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is not None and not _SANE_KEY.match(key):
        raise invalid([FieldError(IDEMPOTENCY_HEADER, "幂等键应为1至200个可见ASCII字符")])
    body = await _json_body(request)
    result = await intake.submit(
        _deps(request),
        body,
        request_id=request_id_of(request) or "",
        caller=caller_of(request),
        idempotency_key=key,
    )
    headers = {"Location": result.body["status_url"]}
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    if result.body.get("duplicate"):
        headers["Tongban-Duplicate-Of"] = result.body["id"]
    return web.json_response(result.body, status=result.status, headers=headers)


@routes.get("/v1/applications")
@_problems
async def list_applications(request: web.Request) -> web.Response:
    """A page of applications, newest first; filters in the query string."""
    deps = _deps(request)
    return web.json_response(await queries.page(deps, _filters(request, deps)))


def _filters(request: web.Request, deps: Deps) -> queries.Filters:
    query = request.query
    errors: list[FieldError] = []

    def parsed(name: str, convert: Callable[[str], Any], message: str) -> Any:
        if name not in query:
            return None
        try:
            return convert(query[name])
        except ValueError:
            errors.append(FieldError(name, message))
            return None

    def boolean(text: str) -> bool:
        if text not in ("true", "false"):
            raise ValueError(text)
        return text == "true"

    def limit(text: str) -> int:
        value = int(text)
        if not 1 <= value <= 200:
            raise ValueError(text)
        return value

    applicant_index = None
    if "id_number" in query:
        applicant_index = deps.cipher.blind_index(
            query.get("id_type", "resident_id"), query["id_number"]
        )
    filters = queries.Filters(
        status=parsed("status", Status, "不是已知的办件状态"),
        region=query.get("region"),
        item=query.get("item"),
        overdue=parsed("overdue", boolean, "应为 true 或 false"),
        due_soon=parsed("due_soon", boolean, "应为 true 或 false"),
        created_from=parsed("from", date.fromisoformat, "日期格式应为 YYYY-MM-DD"),
        created_to=parsed("to", date.fromisoformat, "日期格式应为 YYYY-MM-DD"),
        applicant_index=applicant_index,
        cursor=query.get("cursor"),
        limit=parsed("limit", limit, "应为1至200之间的整数") or 50,
    )
    if errors:
        raise invalid(errors)
    return filters


@routes.get("/v1/applications/{id}")
@_problems
async def get_application(request: web.Request) -> web.Response:
    """One application: status, history, due dates, region case number (masked)."""
    return web.json_response(await queries.get(_deps(request), request.match_info["id"]))


@routes.post("/v1/applications/{id}/supplements")
@_problems
async def post_supplement(request: web.Request) -> web.Response:
    """Supplied materials (补正 / 容缺), relayed as their own delivery."""
    status, body = await actions.supplement(
        _deps(request),
        request.match_info["id"],
        await _json_body(request),
        request_id=request_id_of(request) or "",
        caller=caller_of(request),
    )
    return web.json_response(body, status=status)


@routes.post("/v1/applications/{id}/withdrawal")
@_problems
async def post_withdrawal(request: web.Request) -> web.Response:
    """Withdraw before a decision."""
    body = await actions.withdraw(
        _deps(request),
        request.match_info["id"],
        await _json_body(request),
        request_id=request_id_of(request) or "",
        caller=caller_of(request),
    )
    return web.json_response(body, status=202)


@routes.post("/v1/applications/{id}/rating")
@_problems
async def post_rating(request: web.Request) -> web.Response:
    """好差评, once per application, after a final state."""
    body = await actions.rate(
        _deps(request),
        request.match_info["id"],
        await _json_body(request),
        request_id=request_id_of(request) or "",
        caller=caller_of(request),
    )
    return web.json_response(body, status=202)
