"""The rating pad (好差评评价器): the applicant rates the visit at the window.

Five big buttons, 非常满意 to 非常不满意, the three offline indicators (服务效率,
服务水平, 服务态度), and a reason when the rating is 不满意 or 非常不满意. The
rating goes to `actions.rate`, the service ``POST /v1/applications/{id}/rating``
uses: one rating per case, stored, relayed to the competent region, and a 差评
opens a follow-up for the centre's supervisor. The pad runs in the clerk's
session (the window's second screen), so the rating's actor is the window.
"""

from __future__ import annotations

from typing import Any

import structlog
from aiohttp import web

from gateway.app_keys import APPLICATIONS
from gateway.applications import actions
from gateway.applications.followups import BAD_LEVELS
from gateway.applications.records import Deps
from gateway.console.auth import posted_form, render, session_of, staff_page
from gateway.console.cases import case_or_404
from gateway.envelope import Status
from gateway.errors import ActionRefused, InvalidApplication
from gateway.observability import request_id_of
from gateway.staff.accounts import Role

log = structlog.get_logger(__name__)
routes = web.RouteTableDef()

LEVELS = [(5, "非常满意"), (4, "满意"), (3, "基本满意"), (2, "不满意"), (1, "非常不满意")]
INDICATORS = [
    ("service_efficiency", "服务效率"),
    ("service_level", "服务水平"),
    ("service_attitude", "服务态度"),
]
LEVEL_ZH = dict(LEVELS)


def _deps(request: web.Request) -> Deps:
    return request.config_dict[APPLICATIONS]


def _pad(
    request: web.Request,
    case: dict[str, Any],
    *,
    errors: dict[str, str] | None = None,
    chosen: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    state = Status(case["status"])
    return render(
        "rate.html",
        request,
        {
            "case": case,
            "levels": LEVELS,
            "indicators": INDICATORS,
            "errors": errors or {},
            "chosen": chosen or {},
            "csrf_token": session_of(request).csrf_token,
            "open": state.is_final and case["rating"] is None,
            "rated": case["rating"],
            "level_zh": LEVEL_ZH,
            "applicant_screen": True,  # turned to the applicant: no staff navigation
        },
        status=status,
    )


@routes.get("/cases/{id}/rate")
@staff_page(Role.STAFF, Role.SUPERVISOR)
async def pad(request: web.Request) -> web.StreamResponse:
    case = await case_or_404(request)
    return _pad(request, case)


@routes.post("/cases/{id}/rate")
@staff_page(Role.STAFF, Role.SUPERVISOR)
async def rate(request: web.Request) -> web.StreamResponse:
    deps = _deps(request)
    case = await case_or_404(request)
    form = await posted_form(request)
    chosen = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    errors: dict[str, str] = {}
    level = _score(chosen.get("level"))
    if level is None:
        errors["level"] = "请点选一个评价等级"
    indicators = {}
    for name, label in INDICATORS:
        raw = chosen.get(name)
        if raw:
            score = _score(raw)
            if score is None:
                errors[name] = f"{label}请在 1 至 5 分之间选择"
            else:
                indicators[name] = score
    comment = chosen.get("comment", "").strip()
    if level in BAD_LEVELS and not comment:
        errors["comment"] = "选择“不满意”或“非常不满意”时，请告诉我们原因，以便回访整改"
    if len(comment) > 500:
        errors["comment"] = "原因请不超过 500 字"
    if errors:
        return _pad(request, case, errors=errors, chosen=chosen, status=422)
    body: dict[str, Any] = {"setting": "offline", "level": level, "indicators": indicators}
    if comment:
        body["comment"] = comment
    try:
        await actions.rate(
            deps,
            case["id"],
            body,
            request_id=request_id_of(request) or "",
            caller=session_of(request).account.actor,
        )
    except InvalidApplication as exc:
        messages = {e.field.split(".")[0]: e.message for e in exc.errors}
        return _pad(request, case, errors=messages, chosen=chosen, status=422)
    except ActionRefused as exc:
        return _pad(request, case, errors={"level": exc.reason_zh}, chosen=chosen, status=409)
    log.info("console.rated", application_id=case["id"], level=level)
    raise web.HTTPSeeOther(f"/console/cases/{case['id']}/rate")


def _score(raw: str | None) -> int | None:
    if raw is None or raw not in {"1", "2", "3", "4", "5"}:
        return None
    return int(raw)
