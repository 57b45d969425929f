"""A stand-in for a peer Tongban gateway's partner API (contracts/regions/peer.md).

Speaks the same shapes as a real gateway: ``POST /v1/attachments`` (the raw file;
201 with its SHA-256, 200 when it was already stored), ``POST /v1/applications``
with an ``ApplicationRequest`` (a 422 naming each ``materials.N.attachments.M`` it
has no file for, code ``missing``; 202 with the id and a receipt; a replayed
``Idempotency-Key`` answers 200 with ``Idempotent-Replayed: true`` and the same
id), follow-ups under ``/v1/applications/{id}/...``, RFC 9457 problems, and status
notices (``application.status_changed``) pushed to its callback URL.

It is a sandbox, not a gateway: it checks no signatures and signs neither its
receipts nor its notices (its receipt says so). The real two-gateway protocol,
signatures included, is exercised with two `tongban serve` processes
(tests/integration/test_federation.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import pydantic
from aiohttp import web

from adapters.base import json_bytes
from adapters.peer.settings import PeerSettings
from adapters.sandbox import (
    CaseEvent,
    Pusher,
    SandboxCase,
    SandboxCore,
    SandboxError,
    SandboxOptions,
    add_follow_up_routes,
    decide,
    follow_up,
    sandbox_app,
    sandbox_settings,
)
from gateway.applications.models import (
    ApplicationRequest,
    RatingRequest,
    SupplementRequest,
    WithdrawalRequest,
)

PROBLEM_BASE = "https://tongban.example/problems/"
_STATUS = {"invalid": 422, "not_found": 404, "conflict": 409}


def problem(status: int, slug: str, detail: str, **extra: Any) -> web.Response:
    body = {
        "type": PROBLEM_BASE + slug,
        "title": slug.replace("-", " "),
        "status": status,
        "detail": detail,
        **extra,
    }
    return web.Response(
        status=status, body=json_bytes(body), content_type="application/problem+json"
    )


def _json(status: int, body: Any, **headers: str) -> web.Response:
    return web.Response(
        status=status, body=json_bytes(body), content_type="application/json", headers=headers
    )


_PATHS = {
    "supplement": "/v1/applications/{id}/supplements",
    "withdrawal": "/v1/applications/{id}/withdrawal",
    "rating": "/v1/applications/{id}/rating",
}
_BODIES: dict[str, type[SupplementRequest | WithdrawalRequest | RatingRequest]] = {
    "supplement": SupplementRequest,
    "withdrawal": WithdrawalRequest,
    "rating": RatingRequest,
}


def create_sandbox(options: SandboxOptions, settings: Mapping[str, Any]) -> web.Application:
    """The peer sandbox app; `settings` is the ``[adapters.peer]`` table (only its url).
    It checks no signatures."""
    config = sandbox_settings(PeerSettings, "peer", settings, options)
    pusher = Pusher()
    files: set[str] = set()

    async def push(case: SandboxCase, event: CaseEvent) -> None:
        if not options.callback_url:
            return
        notice: dict[str, object] = {
            "type": "application.status_changed",
            "notice_id": f"{case.case_no}-{event.seq}",
            "application_id": case.case_no,
            "status": event.status.value,
            "occurred_at": event.at.isoformat(),
            "region_case_no": case.case_no,
            "event_seq": event.seq,
        }
        headers = {"Content-Type": "application/json", "Idempotency-Key": str(notice["notice_id"])}
        await pusher.post(options.callback_url, json_bytes(notice), headers)

    core = SandboxCore("app_peer_", options, push)
    routes = web.RouteTableDef()

    def key_of(request: web.Request) -> str | web.Response:
        key = request.headers.get("Idempotency-Key", "")
        if not key:
            return problem(428, "idempotency-key-required", "Idempotency-Key header is required")
        return key

    def invalid(exc: pydantic.ValidationError) -> web.Response:
        errors = [
            {"field": ".".join(map(str, e["loc"])), "message": e["msg"], "code": e["type"]}
            for e in exc.errors()
        ]
        return problem(422, "invalid-application", "the application is invalid", errors=errors)

    @routes.post("/v1/attachments")
    async def upload(request: web.Request) -> web.Response:
        data = await request.read()
        if not data:
            return problem(415, "attachment-refused", "empty file")
        digest = hashlib.sha256(data).hexdigest()
        created = digest not in files
        files.add(digest)
        answer = {"digest": digest, "size": len(data), "media_type": request.content_type}
        return _json(201 if created else 200, answer)

    @routes.post("/v1/applications")
    async def submit(request: web.Request) -> web.Response:
        key = key_of(request)
        if isinstance(key, web.Response):
            return key
        try:
            body = ApplicationRequest.model_validate_json(await request.read())
        except pydantic.ValidationError as exc:
            return invalid(exc)
        missing_files = [
            {"field": f"materials.{i}.attachments.{j}", "message": "附件未上传", "code": "missing"}
            for i, material in enumerate(body.materials)
            for j, digest in enumerate(material.attachments)
            if digest not in files
        ]
        if missing_files:
            return problem(
                422, "invalid-application", "the application is invalid", errors=missing_files
            )
        materials = {m.material_id: m.provided for m in body.materials}
        applicant = body.applicant
        id_type = getattr(applicant, "id_type", "uscc")
        id_number = getattr(applicant, "id_number", getattr(applicant, "uscc", ""))
        review = decide(materials, id_type, id_number, body.form)
        case, duplicate = core.submit(key, None, review)
        answer = {
            "id": case.case_no,
            "status": "received",
            "status_url": f"/v1/applications/{case.case_no}",
            "receipt": {"application_id": case.case_no, "signed": False},
        }
        if duplicate:
            return _json(200, answer, **{"Idempotent-Replayed": "true"})
        return _json(202, answer)

    async def followup(request: web.Request, kind: str) -> web.Response:
        key = key_of(request)
        if isinstance(key, web.Response):
            return key
        case_no = request.match_info["id"]
        try:
            body = _BODIES[kind].model_validate_json(await request.read())
            ids = (
                [m.material_id for m in body.materials]
                if isinstance(body, SupplementRequest)
                else []
            )
            level = body.level if isinstance(body, RatingRequest) else None
            await follow_up(core, kind, case_no, key, material_ids=ids, level=level)
        except pydantic.ValidationError as exc:
            return invalid(exc)
        except SandboxError as exc:
            slug = {"not_found": "not-found", "conflict": "status-conflict"}.get(
                exc.kind, "invalid"
            )
            return problem(_STATUS[exc.kind], slug, exc.message)
        return _json(202, {"id": case_no})

    add_follow_up_routes(routes, _PATHS, followup)

    @routes.get("/healthz")
    async def healthz(request: web.Request) -> web.Response:
        return _json(200, {"status": "ok"})

    def transient(message: str) -> web.Response:
        response = problem(503, "unavailable", message)
        response.headers["Retry-After"] = "2"
        return response

    return sandbox_app(core, routes, transient, config, pusher)
