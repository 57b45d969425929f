"""What a clerk does to a case after intake: post, hand over, supplement, withdraw.

Each form goes to the application service the REST API's routes use
(`handover`, `actions`), under the clerk's own actor ``staff:<id>``, so every
action is a history event and an audit entry naming the clerk. A refused action
comes back to the case page with the service's Chinese message next to its form
and what was typed kept; a done one redirects to the case page (POST, redirect,
GET), which says what happened.
"""

from __future__ import annotations

from typing import Any

import structlog
from aiohttp import web

from gateway.app_keys import APPLICATIONS
from gateway.applications import actions, clocks, handover
from gateway.applications.records import Deps
from gateway.console.apply import FormState, read_form
from gateway.console.auth import posted_form, session_of, staff_page
from gateway.console.cases import case_or_404, case_with_errors
from gateway.errors import ActionRefused, ApplicationNotFound, InvalidApplication
from gateway.http.bodies import MULTIPART_ERRORS
from gateway.observability import request_id_of
from gateway.staff.accounts import Role

log = structlog.get_logger(__name__)
routes = web.RouteTableDef()

_WINDOW = (Role.STAFF, Role.SUPERVISOR)


def _deps(request: web.Request) -> Deps:
    return request.config_dict[APPLICATIONS]


def _done(request: web.Request, what: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"/console/cases/{request.match_info['id']}?done={what}#actions")


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def _refused(
    request: web.Request, anchor: str, exc: Exception, form: Any = None
) -> web.StreamResponse:
    if isinstance(exc, ApplicationNotFound):
        raise web.HTTPNotFound(text=f"找不到编号为 {request.match_info['id']} 的办件。")
    if isinstance(exc, InvalidApplication):
        errors = {f"{anchor}.{e.field}": e.message for e in exc.errors}
        errors[anchor] = "；".join(e.message for e in exc.errors)
        return await case_with_errors(request, errors, status=422, form=form)
    assert isinstance(exc, ActionRefused)  # noqa: S101 - the only other kind caught
    return await case_with_errors(request, {anchor: exc.reason_zh}, status=409, form=form)


@routes.post("/cases/{id}/tracking")
@staff_page(*_WINDOW)
async def record_tracking(request: web.Request) -> web.StreamResponse:
    """Record a postal leg's tracking number (材料寄往业务属地 / 结果寄给申请人)."""
    await case_or_404(request)  # another centre's case: 404, before anything is read
    form = await posted_form(request)
    try:
        await handover.record_tracking(
            _deps(request),
            request.match_info["id"],
            leg=_text(form, "leg"),
            carrier=_text(form, "carrier"),
            number=_text(form, "number"),
            caller=session_of(request).account.actor,
            request_id=request_id_of(request) or None,
        )
    except (InvalidApplication, ActionRefused, ApplicationNotFound) as exc:
        return await _refused(request, "tracking", exc, form)
    raise _done(request, "tracking")


@routes.post("/cases/{id}/hand-over")
@staff_page(*_WINDOW)
async def hand_over(request: web.Request) -> web.StreamResponse:
    """The result handed to the applicant at the window (送达)."""
    await case_or_404(request)  # another centre's case: 404, before anything is read
    try:
        await handover.hand_over(
            _deps(request),
            request.match_info["id"],
            caller=session_of(request).account.actor,
            request_id=request_id_of(request) or None,
        )
    except (ActionRefused, ApplicationNotFound) as exc:
        return await _refused(request, "hand_over", exc)
    raise _done(request, "handed_over")


@routes.post("/cases/{id}/withdraw")
@staff_page(*_WINDOW)
async def withdraw(request: web.Request) -> web.StreamResponse:
    """Withdraw on the applicant's request, with the reason they give."""
    await case_or_404(request)  # another centre's case: 404, before anything is read
    form = await posted_form(request)
    reason = _text(form, "reason").strip()
    if not reason:
        return await case_with_errors(
            request, {"withdraw": "请填写申请人撤回的原因"}, status=422, form=form
        )
    try:
        await actions.withdraw(
            _deps(request),
            request.match_info["id"],
            {"reason": reason[:500]},
            request_id=request_id_of(request) or "",
            caller=session_of(request).account.actor,
        )
    except (InvalidApplication, ActionRefused, ApplicationNotFound) as exc:
        return await _refused(request, "withdraw", exc, form)
    raise _done(request, "withdrawn")


@routes.post("/cases/{id}/supplement")
@staff_page(*_WINDOW, multipart=True)
async def supplement(request: web.Request) -> web.StreamResponse:
    """Materials brought later (补正 / 容缺): files, attested at the window, to the region."""
    deps = _deps(request)
    case = await case_or_404(request)
    item = deps.catalog.get(case["item_code"])
    if item is None:
        raise web.HTTPNotFound(text=f"事项 {case['item_code']} 已不在目录中，请联系运维。")
    session = session_of(request)
    state = FormState()
    try:
        await read_form(request, session.csrf_token, deps, item, state)
    except MULTIPART_ERRORS as exc:
        raise web.HTTPBadRequest(text="表单内容格式有误，请刷新办件页面后重新上传。") from exc
    if state.errors:
        message = "；".join(m for messages in state.errors.values() for m in messages)
        return await case_with_errors(request, {"supplement": message}, status=422)
    materials: list[dict[str, Any]] = [
        {"material_id": material_id, "provided": True, "attachments": [u.digest for u in uploads]}
        for material_id, uploads in state.uploads.items()
        if uploads
    ]
    if not materials:
        return await case_with_errors(request, {"supplement": "请选择要补交的材料文件"}, status=422)
    body: dict[str, Any] = {"materials": materials}
    checked = [m for m in materials if state.checked(f"attest_{m['material_id']}")]
    attested = sorted({digest for m in checked for digest in m["attachments"]})
    if attested:
        body["attestation"] = {
            "staff_id": session.account.id,
            "attested_at": clocks.now_utc().isoformat(timespec="seconds"),
            "attachments": attested,
        }
    try:
        await actions.supplement(
            deps,
            case["id"],
            body,
            request_id=request_id_of(request) or "",
            caller=session.account.actor,
        )
    except (InvalidApplication, ActionRefused, ApplicationNotFound) as exc:
        return await _refused(request, "supplement", exc)
    raise _done(request, "supplemented")
