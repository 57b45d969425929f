"""Cases: the list, one case's page with its live status, full personal data on request.

Lists show the masked applicant only. The case page shows the applicant in full
only to roles that may see it, only when asked (a POST), and each such view is an
audit entry naming the staff id. The page polls a small JSON endpoint so status
changes appear without a reload; without JavaScript the page still reads whole.

Who opens which case (`case_or_404`, every ``/cases/{id}…`` page and action):

- a clerk (staff) and a supervisor: their centre's cases only, the ones their case
  list shows (the centre's region received the case or decides it). Another
  centre's case answers the same 404 as an unknown id, so ids do not leak;
- ops and admin: any centre's case (ops replays any centre's dead letters and
  follows them to the case), always masked: they never see the applicant in full
  (`Role.sees_personal_data`) and take no action on a case.

A case whose personal data was purged (retention) says so, with the date, where
the applicant's details would be.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
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
from gateway.staff.accounts import Account, Role

routes = web.RouteTableDef()

PAGE_SIZE = 50
# Roles that work for one centre and see only its cases; the others see every centre's.
_CENTRE_ROLES = (Role.STAFF, Role.SUPERVISOR)
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


def may_open(account: Account, case: Mapping[str, Any]) -> bool:
    """Whether `account` may open `case` (see the module docstring)."""
    if account.role not in _CENTRE_ROLES:
        return True  # ops and admin: any centre's case, masked
    return account.centre_region in (case["receiving_region"], case["competent_region"])


async def case_or_404(request: web.Request) -> dict[str, Any]:
    """The case the path names, if the signed-in account may open it; else the 404 page
    an unknown id gets (another centre's case is not told apart from no case)."""
    application_id = request.match_info["id"]
    try:
        case = await queries.get(_deps(request), application_id)
    except ApplicationNotFound:
        case = None
    if case is None or not may_open(session_of(request).account, case):
        raise web.HTTPNotFound(text=f"找不到编号为 {application_id} 的办件。")
    return case


async def purged_on(request: web.Request, case: Mapping[str, Any]) -> date | None:
    """The (Beijing) day the case's personal data was purged, or None if it still holds it."""
    if not case["applicant"].get("purged"):
        return None
    async with _deps(request).store.read() as conn:
        row = await conn.fetch_one(
            "SELECT personal_purged_at FROM applications WHERE id = :id", {"id": case["id"]}
        )
    stamp = row["personal_purged_at"] if row else None
    return clocks.local_date(datetime.fromisoformat(stamp)) if stamp else None


@routes.get("/cases")
@staff_page()
async def case_list(request: web.Request) -> web.StreamResponse:
    deps = _deps(request)
    account = session_of(request).account
    query = request.query
    status = query.get("status") or None
    region = query.get("region", account.centre_region) or None
    centre_only = account.role in _CENTRE_ROLES
    if centre_only:
        region = account.centre_region  # the centre's own: the cases `may_open` lets it open
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
            "centre_only": centre_only,
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
    case = await case_or_404(request)
    if await purged_on(request, case):
        return await _case(request, personal=None)  # nothing left to show, nothing to audit
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
    case = await case_or_404(request)
    item = catalog.get(case["item_code"])
    today = clocks.local_date(clocks.now_utc())
    names = region_names(catalog)
    due = case["due"]["promised"] or case["due"]["legal"]
    form_values = form or {}
    purged = await purged_on(request, case)
    tracking = await handover.tracking_of(deps, case["id"])
    if purged:
        tracking = [{**leg, "number": "（已清除）"} for leg in tracking]
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
            "purged_on": purged,
            "may_see_personal": session_of(request).account.role.sees_personal_data,
            "csrf_token": session_of(request).csrf_token,
            "final": _final(case),
            "tracking": tracking,
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
    case = await case_or_404(request)
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
    case = await case_or_404(request)
    view = await receipt_view(request, deps, case)
    view["duplicate"] = request.query.get("duplicate") == "1"
    return render("receipt.html", request, view)


@routes.get("/cases/{id}/receipt.json")
@staff_page()
async def receipt_json(request: web.Request) -> web.StreamResponse:
    """The signed receipt itself (JWS inside), for checking it against the JWKS."""
    deps = _deps(request)
    case = await case_or_404(request)
    view = await receipt_view(request, deps, case)
    return json_response(view["signed"])
