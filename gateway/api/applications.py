"""REST routes for applications and attachments.

``POST /v1/attachments`` (multipart or raw body) → 201 with the SHA-256 digest;
``POST /v1/applications`` → 202 with id, request id, status URL and receipt;
``GET /v1/applications/{id}``; ``GET /v1/applications?...`` (no personal data in
the URL) and ``POST /v1/applications/search`` (by the applicant's ID number, in the
body); ``POST /v1/applications/{id}/supplements``, ``/withdrawal``, ``/rating``.

Every state-changing route requires ``Idempotency-Key`` (428 without it): a retry
with the same key and body gets the first answer again (``Idempotent-Replayed``),
the same key with another body a 409. Submissions keep the key in the intake
transaction; the other routes keep the answer after the action, which is itself
repeat-safe (the same supplement, a second withdrawal or rating change nothing).

Every route takes only RFC 9421 signed partner requests (`partner_required`: an
unsigned or badly signed one is a 401 problem); the caller is then
``request[CALLER] = "partner:<id>"``. A partner sees and acts on only the
applications it submitted: another's is answered 404, exactly like an unknown id,
so ids do not leak. Before anything is written the item is checked against the
partner's access rules (403). A submission's verified signature and exact body
are kept with the application (non-repudiation). Staff requests (the console,
with sessions) will set their own caller; there is no unsigned way in.
Errors are problem+json: 422 lists every bad field with a Chinese message.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import date
from typing import Any, TypeVar

from aiohttp import BodyPartReader, web

from gateway.api.params import range_zh, whole_number
from gateway.app_keys import APPLICATIONS, METRICS
from gateway.applications import actions, idempotency, intake, queries
from gateway.applications.attachments import record_attachment
from gateway.applications.records import Deps
from gateway.envelope import Status
from gateway.errors import (
    ActionRefused,
    ApplicationNotFound,
    AttachmentError,
    FieldError,
    IdempotencyConflict,
    InvalidApplication,
)
from gateway.http.bodies import MULTIPART_ERRORS, read_json, read_multipart
from gateway.http.responses import json_response
from gateway.observability import request_id_of, trace_id_of
from gateway.problems import Problem
from gateway.security.auth import (
    evidence_of,
    nonce_claim_of,
    partner_of,
    partner_required,
    require_item_allowed,
)

CALLER = web.RequestKey("caller", str)
"""Who is acting: ``partner:<id>`` (set by the partner routes) or, later, ``staff:<id>``."""

IDEMPOTENCY_HEADER = "Idempotency-Key"
_SANE_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
_CHUNK = 64 * 1024

routes = web.RouteTableDef()
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
T = TypeVar("T")


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


def invalid(errors: list[FieldError], *, title: str = "Invalid application") -> Problem:
    """The 422 problem listing every bad field."""
    return Problem(
        422,
        title,
        f"申请信息有 {len(errors)} 处需要更正，请逐项核对后重新提交。",
        type_="invalid-application",
        errors=[error.as_dict() for error in errors],
    )


def caller_of(request: web.Request) -> str:
    caller: str = request.get(CALLER, "anonymous")
    return caller


def _partner_route(handler: Handler, *, claim_nonce: bool = False) -> Handler:
    """Only a verified partner request reaches `handler`, as caller ``partner:<id>``.

    With `claim_nonce` the handler records the signature's nonce in its own
    transaction (see `partner_required`).
    """

    @functools.wraps(handler)
    async def as_partner(request: web.Request) -> web.StreamResponse:
        request[CALLER] = f"partner:{partner_of(request).partner.id}"
        return await handler(request)

    return partner_required(as_partner, claim_nonce=claim_nonce)


async def _own_for_writing(request: web.Request, application_id: str) -> None:
    """Refuse (404) an application the caller did not submit; 403 if its item is now
    closed to the caller. Called before any write, so a refusal changes nothing."""
    row = await queries.owner_of(_deps(request).store, application_id)
    if row is None or row["submitted_by"] != caller_of(request):
        raise ApplicationNotFound(application_id)
    require_item_allowed(request, row["item_code"])


def idempotency_key(request: web.Request) -> str:
    """The request's ``Idempotency-Key``: 428 when missing, 422 when malformed."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        raise Problem(
            428,
            "Idempotency-Key required",
            "缺少 Idempotency-Key 请求头：每个会改变数据的请求都须带上，重试时使用同一个值。",
            type_="idempotency-key-required",
            header=IDEMPOTENCY_HEADER,
        )
    if not _SANE_KEY.match(key):
        raise invalid([FieldError(IDEMPOTENCY_HEADER, "幂等键应为1至200个可见ASCII字符")])
    return key


def _idempotent(handler: Handler) -> Handler:
    """Require ``Idempotency-Key`` and answer a retry with the first answer.

    The key is kept per caller with a hash of the method, path and body; the answer
    is kept once the action succeeded (2xx), in its own transaction.
    """

    @functools.wraps(handler)
    async def once(request: web.Request) -> web.StreamResponse:
        key = idempotency_key(request)
        scope = caller_of(request)
        digest = hashlib.sha256(
            f"{request.method} {request.path}\n".encode() + await request.read()
        ).hexdigest()
        store = _deps(request).store
        stored = await idempotency.stored_answer(store, scope, key)
        if stored is not None:
            if stored["request_hash"] != digest:
                raise IdempotencyConflict(key)
            return web.Response(
                text=stored["response"],
                status=stored["status_code"],
                content_type="application/json",
                headers={"Idempotent-Replayed": "true"},
            )
        response = await handler(request)
        if 200 <= response.status < 300 and isinstance(response, web.Response):
            await idempotency.remember_answer(
                store,
                scope,
                key,
                request_hash=digest,
                application_id=request.match_info.get("id", ""),
                status=response.status,
                response=response.text or "",
            )
        return response

    return once


def _deps(request: web.Request) -> Deps:
    return request.app[APPLICATIONS]


@routes.post("/v1/attachments")
@_partner_route
@_problems
@_idempotent
async def upload_attachment(request: web.Request) -> web.Response:
    """Store one file; 201 with its digest when new, 200 when it was already stored.

    The signature check has read the body already (its Content-Digest covers all of
    it, within ``server.max_body_bytes``), so the file is taken from those bytes.
    """
    deps = _deps(request)
    body = await request.read()
    if request.content_type.startswith("multipart/"):
        part = await _first_file(request)
        media_type = part.headers.get("Content-Type", "application/octet-stream")
        stored = await deps.attachments.save(_part_chunks(part), media_type)
    else:
        stored = await deps.attachments.save(_slices(body), request.content_type)
    await record_attachment(deps.store, stored)
    return json_response(
        {"digest": stored.digest, "size": stored.size, "media_type": stored.media_type},
        status=201 if stored.created else 200,
    )


async def _first_file(request: web.Request) -> BodyPartReader:
    """The first part with a filename; 422 when there is none or the body is not
    multipart as its Content-Type says (no boundary, broken part headers...)."""
    try:
        reader = await read_multipart(request)
        part = await reader.next()
        while part is not None and not (isinstance(part, BodyPartReader) and part.filename):
            part = await reader.next()
    except MULTIPART_ERRORS as exc:
        raise invalid(
            [FieldError("body", "multipart 内容格式有误，无法取出文件", "malformed_multipart")],
            title="Malformed multipart body",
        ) from exc
    if not isinstance(part, BodyPartReader):
        raise invalid([FieldError("file", "请求中没有文件", "missing")], title="No file")
    return part


async def _part_chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(_CHUNK):
        yield chunk


async def _slices(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), _CHUNK):
        yield body[start : start + _CHUNK]


@routes.post("/v1/applications")
@functools.partial(_partner_route, claim_nonce=True)  # one commit for nonce and intake
@_problems
async def submit_application(request: web.Request) -> web.Response:
    """Take an application in; see `gateway.applications.intake`."""
    key = idempotency_key(request)
    body = await read_json(request)
    # An item the partner may not submit is refused before anything is checked or
    # written; a missing or malformed item code is left to validation (422).
    if isinstance(body, dict) and isinstance(body.get("item_code"), str):
        require_item_allowed(request, body["item_code"])
    result = await intake.submit(
        _deps(request),
        body,
        request_id=request_id_of(request) or "",
        caller=caller_of(request),
        idempotency_key=key,
        evidence=evidence_of(request),
        signed_body=await request.read(),
        trace_id=trace_id_of(request),
        nonce=nonce_claim_of(request),
    )
    metrics = request.app.get(METRICS)
    if metrics is not None and result.status == 202 and not result.replayed:
        item = _deps(request).catalog.get(str(body["item_code"]))  # validated: it exists
        region = item.competent_region if item is not None else "unknown"
        metrics.taken_in(str(body["channel"]), region)
    headers = {"Location": result.body["status_url"]}
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    if result.body.get("duplicate"):
        headers["Tongban-Duplicate-Of"] = result.body["id"]
    return json_response(result.body, status=result.status, headers=headers)


@routes.get("/v1/applications")
@_partner_route
@_problems
async def list_applications(request: web.Request) -> web.Response:
    """A page of the caller's applications, newest first; filters in the query string.

    No personal data goes in a URL (proxies and access logs keep URLs): searching by
    the applicant's ID number is ``POST /v1/applications/search``.
    """
    deps = _deps(request)
    for name in _PERSONAL_FILTERS:
        if name in request.query:
            raise invalid(
                [
                    FieldError(
                        name,
                        "证件号码不得放在网址中，请改用 POST /v1/applications/search 查询",
                        "personal_data_in_url",
                    )
                ],
                title="Personal data in the URL",
            )
    filters = _filters(request.query, deps, caller_of(request))
    return json_response(await queries.page(deps, filters))


@routes.post("/v1/applications/search")
@_partner_route
@_problems
async def search_applications(request: web.Request) -> web.Response:
    """The same page as ``GET /v1/applications``, the filters (the applicant's ID
    number among them) in a JSON object body. Reads only: no Idempotency-Key."""
    deps = _deps(request)
    body = await read_json(request)
    if not isinstance(body, dict):
        raise invalid([FieldError("body", "查询条件应为 JSON 对象", "type")])
    errors = [
        FieldError(name, "不是可用的查询条件", "unknown")
        for name in body
        if name not in _QUERY_FILTERS + _PERSONAL_FILTERS
    ]
    values: dict[str, str] = {}
    for name, value in body.items():
        if isinstance(value, bool):
            values[name] = "true" if value else "false"
        elif isinstance(value, str | int):
            values[name] = str(value)
        elif value is not None:
            errors.append(FieldError(name, "应为字符串、整数或布尔值", "type"))
    if errors:
        raise invalid(errors, title="Invalid search")
    return json_response(await queries.page(deps, _filters(values, deps, caller_of(request))))


_QUERY_FILTERS = (
    "status", "region", "item", "overdue", "due_soon", "from", "to", "cursor", "limit",
)  # fmt: skip
_PERSONAL_FILTERS = ("id_type", "id_number")
_MAX_FILTER_TEXT = 200


def _filters(query: Mapping[str, str], deps: Deps, caller: str) -> queries.Filters:
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

    def text(value: str) -> str:
        if len(value) > _MAX_FILTER_TEXT:
            raise ValueError(value)
        return value

    applicant_index = None
    if "id_number" in query:
        applicant_index = deps.cipher.blind_index(
            query.get("id_type", "resident_id"), query["id_number"]
        )
    filters = queries.Filters(
        status=parsed("status", Status, "不是已知的办件状态"),
        region=parsed("region", text, f"最多 {_MAX_FILTER_TEXT} 个字符"),
        item=parsed("item", text, f"最多 {_MAX_FILTER_TEXT} 个字符"),
        overdue=parsed("overdue", boolean, "应为 true 或 false"),
        due_soon=parsed("due_soon", boolean, "应为 true 或 false"),
        created_from=parsed("from", _iso_date, "日期格式应为 YYYY-MM-DD"),
        created_to=parsed("to", _iso_date, "日期格式应为 YYYY-MM-DD"),
        applicant_index=applicant_index,
        cursor=parsed("cursor", text, f"最多 {_MAX_FILTER_TEXT} 个字符"),
        limit=parsed("limit", lambda v: whole_number(v, low=1, high=200), range_zh(1, 200)) or 50,
        submitted_by=caller,
    )
    if errors:
        raise invalid(errors, title="Invalid query parameters")
    return filters


def _iso_date(text: str) -> date:
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        raise ValueError(text)
    return date.fromisoformat(text)


@routes.get("/v1/applications/{id}")
@_partner_route
@_problems
async def get_application(request: web.Request) -> web.Response:
    """One application: status, history, due dates, region case number (masked),
    and the submission's signature evidence."""
    view = await queries.get(
        _deps(request), request.match_info["id"], submitted_by=caller_of(request)
    )
    return json_response(view)


async def _on_own_case(request: web.Request, action: Callable[..., Awaitable[T]]) -> T:
    """A follow-up (supplement, withdrawal, rating) on the caller's own case: ownership
    checked first, then `action` with the case id, the JSON body and who asked."""
    application_id = request.match_info["id"]
    await _own_for_writing(request, application_id)
    return await action(
        _deps(request),
        application_id,
        await read_json(request),
        request_id=request_id_of(request) or "",
        caller=caller_of(request),
    )


@routes.post("/v1/applications/{id}/supplements")
@_partner_route
@_problems
@_idempotent
async def post_supplement(request: web.Request) -> web.Response:
    """Supplied materials (补正 / 容缺), relayed as their own delivery."""
    status, body = await _on_own_case(request, actions.supplement)
    return json_response(body, status=status)


@routes.post("/v1/applications/{id}/withdrawal")
@_partner_route
@_problems
@_idempotent
async def post_withdrawal(request: web.Request) -> web.Response:
    """Withdraw before a decision."""
    body = await _on_own_case(request, actions.withdraw)
    return json_response(body, status=202)


@routes.post("/v1/applications/{id}/rating")
@_partner_route
@_problems
@_idempotent
async def post_rating(request: web.Request) -> web.Response:
    """好差评, once per application, after a final state."""
    body = await _on_own_case(request, actions.rate)
    return json_response(body, status=202)
