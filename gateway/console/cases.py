"""Cases: the list, one case's page with its live status, full personal data on request.

Lists show the masked applicant only. The case page shows the applicant in full
only to roles that may see it, only when asked (a POST), and each such view is an
audit entry naming the staff id. The page polls a small JSON endpoint so status
changes appear without a reload; without JavaScript the page still reads whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from gateway.app_keys import APPLICATIONS, AUDIT, CATALOG
from gateway.applications import clocks, handover, history, queries
from gateway.applications.records import Deps
from gateway.console import text
from gateway.console.auth import render, session_of, staff_page
from gateway.console.catalogue import region_names
from gateway.console.receipts import receipt_view
from gateway.envelope import Status
from gateway.errors import ApplicationNotFound
from gateway.http.responses import json_response
from gateway.observability import request_id_of
from gateway.staff.accounts import Role

routes = web.RouteTableDef()

PAGE_SIZE = 50
STATUS_CHOICES = [(s.value, s.label_zh) for s in Status]
_DONE = {
    "tracking": "运单号已登记。",
    "handed_over": "已登记送达：结果已当面交给申请人。",
    "withdrawn": "已撤回，撤回通知将转发至业务属地。",
    "supplemented": "补正材料已收下，将转发至业务属地。",
    "rated": "申请人的评价已记录。",
}


def _deps(request: web.Request) -> Deps:
    return request.config_dict[APPLICATIONS]


async def case_or_404(deps: Deps, application_id: str) -> dict[str, Any]:
    try:
        return await queries.get(deps, application_id)
    except ApplicationNotFound:
        raise web.HTTPNotFound(text=f"找不到编号为 {application_id} 的办件。") from None


@routes.get("/cases")
@staff_page()
async def case_list(request: web.Request) -> web.StreamResponse:
    deps = _deps(request)
    account = session_of(request).account
    query = request.query
    status = query.get("status") or None
    region = query.get("region", account.centre_region) or None
    if account.role is Role.STAFF:
        region = account.centre_region  # a clerk's queue is the centre's own
    catalog = request.config_dict[CATALOG]
    filters = queries.Filters(
        status=_status(status),
        region=region if region in catalog.regions else None,
        overdue=True if query.get("overdue") == "1" else None,
        due_soon=True if query.get("due_soon") == "1" else None,
        submitted_by=account.actor if query.get("mine") == "1" else None,
        cursor=query.get("cursor") or None,
        limit=PAGE_SIZE,
    )
    page = await queries.page(deps, filters)
    today = clocks.local_date(clocks.now_utc())
    rows = []
    for case in page["items"]:
        item = catalog.get(case["item_code"])
        due = case["due"]["promised"] or case["due"]["legal"]
        rows.append(
            {
                **case,
                "item_name": item.task_name if item else case["item_code"],
                "left": text.working_days_left(due, today) if not _final(case) else "",
            }
        )
    return render(
        "cases.html",
        request,
        {
            "cases": rows,
            "next_cursor": page["next_cursor"],
            "filters": {
                "status": status or "",
                "region": region or "",
                "overdue": query.get("overdue") == "1",
                "due_soon": query.get("due_soon") == "1",
                "mine": query.get("mine") == "1",
            },
            "statuses": STATUS_CHOICES,
            "regions": region_names(catalog),
            "centre_only": account.role is Role.STAFF,
        },
    )


def _status(value: str | None) -> Status | None:
    try:
        return Status(value) if value else None
    except ValueError:
        return None


def _final(case: dict[str, Any]) -> bool:
    return Status(case["status"]).is_final


@routes.get("/cases/{id}")
@staff_page()
async def case_page(request: web.Request) -> web.StreamResponse:
    return await _case(request, personal=None)


async def case_with_errors(
    request: web.Request,
    errors: dict[str, str],
    *,
    status: int,
    form: Mapping[str, Any] | None = None,
) -> web.StreamResponse:
    """The case page again, a refused action's message next to its form, input kept."""
    return await _case(request, personal=None, errors=errors, form=form, status=status)


@routes.post("/cases/{id}/personal")
@staff_page()
async def case_personal(request: web.Request) -> web.StreamResponse:
    """The case with the applicant's data in full: allowed roles only, each view audited."""
    account = session_of(request).account
    if not account.role.sees_personal_data:
        raise web.HTTPForbidden(text=f"{account.role.label_zh}角色不能查看申请人的完整个人信息。")
    deps = _deps(request)
    application_id = request.match_info["id"]
    await case_or_404(deps, application_id)
    async with deps.store.transaction() as conn:
        row = await history.load(conn, application_id)
        await request.config_dict[AUDIT].log.append(
            conn,
            kind="application.personal_data_viewed",
            actor=account.actor,
            application_id=application_id,
            request_id=request_id_of(request) or None,
            region=row["competent_region"],
            data={"fields": ["applicant", "agent", "phone", "delivery", "form", "remarks"]},
        )
    personal = deps.cipher.open(row["personal"], bound_to=application_id)
    return await _case(request, personal=personal)


async def _case(
    request: web.Request,
    *,
    personal: dict[str, Any] | None,
    errors: dict[str, str] | None = None,
    form: Mapping[str, Any] | None = None,
    status: int = 200,
) -> web.StreamResponse:
    """The case page; `errors` (field or action → message) come back from a refused action."""
    deps = _deps(request)
    catalog = request.config_dict[CATALOG]
    case = await case_or_404(deps, request.match_info["id"])
    item = catalog.get(case["item_code"])
    today = clocks.local_date(clocks.now_utc())
    names = region_names(catalog)
    due = case["due"]["promised"] or case["due"]["legal"]
    form_values = form or {}
    return render(
        "case.html",
        request,
        {
            "case": case,
            "item": item,
            "regions": names,
            "timeline": text.timeline(case["history"], names),
            "left": "" if _final(case) else text.working_days_left(due, today),
            "personal": personal,
            "may_see_personal": session_of(request).account.role.sees_personal_data,
            "csrf_token": session_of(request).csrf_token,
            "final": _final(case),
            "tracking": await handover.tracking_of(deps, case["id"]),
            "legs": handover.LEGS,
            "may_act": session_of(request).account.role.takes_applications,
            "errors": errors or {},
            "done": _DONE.get(request.query.get("done", ""), ""),
            "form": form_values,
        },
        status=status,
    )


@routes.get("/cases/{id}/status.json")
@staff_page(activity=False)
async def case_status(request: web.Request) -> web.StreamResponse:
    """What the case page refreshes: the status and the timeline, as plain text."""
    deps = _deps(request)
    case = await case_or_404(deps, request.match_info["id"])
    names = region_names(request.config_dict[CATALOG])
    body = {
        "status": case["status"],
        "status_zh": case["status_zh"],
        "final": _final(case),
        "region_case_no": case["region_case_no"],
        "events": len(case["history"]),
        "timeline": text.timeline(case["history"], names),
    }
    return json_response(body)


@routes.get("/cases/{id}/receipt")
@staff_page()
async def receipt_page(request: web.Request) -> web.StreamResponse:
    deps = _deps(request)
    case = await case_or_404(deps, request.match_info["id"])
    view = await receipt_view(request, deps, case)
    view["duplicate"] = request.query.get("duplicate") == "1"
    return render("receipt.html", request, view)


@routes.get("/cases/{id}/receipt.json")
@staff_page()
async def receipt_json(request: web.Request) -> web.StreamResponse:
    """The signed receipt itself (JWS inside), for checking it against the JWKS."""
    deps = _deps(request)
    case = await case_or_404(deps, request.match_info["id"])
    view = await receipt_view(request, deps, case)
    return json_response(view["signed"])
