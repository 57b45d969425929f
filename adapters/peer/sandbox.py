"""A stand-in for a peer Tongban gateway's partner REST API (contracts/regions/peer.md).

Takes ``POST /v1/applications`` with an ``Idempotency-Key`` (a replay answers 200 with
``Idempotent-Replayed: true`` and the same id), follow-ups under
``/v1/applications/{id}/...``, answers errors as RFC 9457 problem+json, and pushes
status webhooks to its callback URL. It checks no signatures: RFC 9421 verification
arrives with the security layer (see the contract).
"""

from __future__ import annotations

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
from gateway.envelope import Envelope, RatingBody, SubmissionBody, SupplementBody, WithdrawalBody

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


_PATHS = {
    "supplement": "/v1/applications/{id}/supplements",
    "withdrawal": "/v1/applications/{id}/withdrawal",
    "rating": "/v1/applications/{id}/rating",
}
_BODIES: dict[str, type[SupplementBody | WithdrawalBody | RatingBody]] = {
    "supplement": SupplementBody,
    "withdrawal": WithdrawalBody,
    "rating": RatingBody,
}


def create_sandbox(options: SandboxOptions, settings: Mapping[str, Any]) -> web.Application:
    """The peer sandbox app; `settings` is the ``[adapters.peer]`` table (only its url)."""
    config = sandbox_settings(PeerSettings, "peer", settings, options)
    pusher = Pusher()
    references: dict[str, str] = {}

    async def push(case: SandboxCase, event: CaseEvent) -> None:
        if not options.callback_url:
            return
        payload = {
            "event_id": f"{case.case_no}-{event.seq}",
            "application_id": case.case_no,
            "partner_reference": case.application_id,
            "status": event.status.value,
            "occurred_at": event.at.isoformat(),
            "message": event.message,
            "missing_materials": list(event.missing),
            "certificate_no": f"PEER-{case.case_no}" if event.status.value == "approved" else None,
        }
        await pusher.post(
            options.callback_url, json_bytes(payload), {"Content-Type": "application/json"}
        )

    core = SandboxCore("app_peer_", options, push)
    routes = web.RouteTableDef()

    def key_of(request: web.Request) -> str | web.Response:
        key = request.headers.get("Idempotency-Key", "")
        if not key:
            return problem(400, "idempotency-key-missing", "Idempotency-Key header is required")
        return key

    @routes.post("/v1/applications")
    async def submit(request: web.Request) -> web.Response:
        key = key_of(request)
        if isinstance(key, web.Response):
            return key
        try:
            envelope = Envelope.model_validate_json(await request.read())
        except pydantic.ValidationError as exc:
            errors = [
                {"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()
            ]
            return problem(422, "invalid-application", "the application is invalid", errors=errors)
        body = envelope.body
        if not isinstance(body, SubmissionBody):
            return problem(422, "invalid-application", "body.kind must be submission")
        materials = {m.material_id: m.provided for m in body.materials}
        review = decide(materials, body.applicant.id_type, body.applicant.id_number, body.form)
        case, duplicate = core.submit(key, envelope.application_id, review)
        references[case.case_no] = envelope.application_id
        answer = {
            "id": case.case_no,
            "status": "received",
            "status_url": f"/v1/applications/{case.case_no}",
        }
        response = web.Response(
            status=200 if duplicate else 202,
            body=json_bytes(answer),
            content_type="application/json",
        )
        if duplicate:
            response.headers["Idempotent-Replayed"] = "true"
        return response

    async def followup(request: web.Request, kind: str) -> web.Response:
        key = key_of(request)
        if isinstance(key, web.Response):
            return key
        case_no = request.match_info["id"]
        try:
            body = _BODIES[kind].model_validate_json(await request.read())
            ids = (
                [m.material_id for m in body.materials] if isinstance(body, SupplementBody) else []
            )
            level = body.level if isinstance(body, RatingBody) else None
            await follow_up(core, kind, case_no, key, material_ids=ids, level=level)
        except pydantic.ValidationError as exc:
            return problem(422, "invalid-request", str(exc.errors()[0]["msg"]))
        except SandboxError as exc:
            slug = {"not_found": "not-found", "conflict": "status-conflict"}.get(
                exc.kind, "invalid"
            )
            return problem(_STATUS[exc.kind], slug, exc.message)
        return web.json_response({"id": case_no}, status=202)

    add_follow_up_routes(routes, _PATHS, followup)

    @routes.get("/readyz")
    async def readyz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ready"})

    def transient(message: str) -> web.Response:
        response = problem(503, "unavailable", message)
        response.headers["Retry-After"] = "2"
        return response

    return sandbox_app(core, routes, transient, config, pusher)
