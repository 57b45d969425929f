"""The supervisor's pages: the centre's queue, 差评 follow-ups, and the centre's measures.

Everything is scoped to the signed-in supervisor's centre (its region). The queue
lists the centre's cases overdue or due soon by working days, overdue first; a
follow-up is closed with a note through `followups.close` (a history event and
audit entry naming the supervisor). Measures are counted by `measures`.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from aiohttp import web

from gateway.app_keys import APPLICATIONS, CATALOG
from gateway.applications import clocks, followups, queries
from gateway.applications.records import Deps
from gateway.console import measures, text
from gateway.console.auth import posted_form, render, session_of, staff_page
from gateway.console.cases import case_or_404
from gateway.console.catalogue import region_names
from gateway.console.menu import SUPERVISION
from gateway.console.rating_pad import LEVEL_ZH
from gateway.errors import ActionRefused, ApplicationNotFound, InvalidApplication
from gateway.observability import request_id_of

routes = web.RouteTableDef()

_SUPERVISORS = SUPERVISION
QUEUE_LIMIT = 200


def _deps(request: web.Request) -> Deps:
    return request.config_dict[APPLICATIONS]


async def _queue(request: web.Request, region: str) -> list[dict[str, Any]]:
    deps = _deps(request)
    catalog = request.config_dict[CATALOG]
    today = clocks.local_date(clocks.now_utc())
    rows: list[dict[str, Any]] = []
    for overdue in (True, False):
        filters = queries.Filters(
            region=region,
            overdue=True if overdue else None,
            due_soon=None if overdue else True,
            limit=QUEUE_LIMIT,
        )
        for case in (await queries.page(deps, filters))["items"]:
            item = catalog.get(case["item_code"])
            due = case["due"]["promised"] or case["due"]["legal"]
            rows.append(
                {
                    **case,
                    "overdue": overdue,
                    "due_on": due,
                    "item_name": item.task_name if item else case["item_code"],
                    "left": text.working_days_left(due, today),
                }
            )
    rows.sort(key=lambda r: (not r["overdue"], r["due_on"] or "9999"))
    return rows


async def _home(
    request: web.Request, *, errors: dict[str, str] | None = None, status: int = 200
) -> web.Response:
    account = session_of(request).account
    deps = _deps(request)
    catalog = request.config_dict[CATALOG]
    open_followups = await followups.of_centre(deps, account.centre_region)
    closed = await followups.of_centre(deps, account.centre_region, closed=True, limit=20)
    for row in [*open_followups, *closed]:
        item = catalog.get(row["item_code"])
        row["item_name"] = item.task_name if item else row["item_code"]
        row["level_zh"] = LEVEL_ZH.get(int(row["level"]), str(row["level"]))
    return render(
        "supervisor.html",
        request,
        {
            "queue": await _queue(request, account.centre_region),
            "followups": open_followups,
            "closed": closed,
            "regions": region_names(catalog),
            "csrf_token": session_of(request).csrf_token,
            "errors": errors or {},
        },
        status=status,
    )


@routes.get("/supervisor")
@staff_page(*_SUPERVISORS)
async def home(request: web.Request) -> web.StreamResponse:
    return await _home(request)


@routes.post("/supervisor/followups/{id}/close")
@staff_page(*_SUPERVISORS)
async def close_followup(request: web.Request) -> web.StreamResponse:
    account = session_of(request).account
    await case_or_404(request)  # another centre's case, like an unknown id: the 404 page
    form = await posted_form(request)
    note = form.get("note")
    application_id = request.match_info["id"]
    try:
        await followups.close(
            _deps(request),
            application_id,
            note=note if isinstance(note, str) else "",
            centre_region=account.centre_region,
            caller=account.actor,
            request_id=request_id_of(request) or None,
        )
    except InvalidApplication as exc:
        return await _home(request, errors={application_id: exc.errors[0].message}, status=422)
    except (ActionRefused, ApplicationNotFound) as exc:
        reason = exc.reason_zh if isinstance(exc, ActionRefused) else "找不到这个办件"
        return await _home(request, errors={application_id: reason}, status=409)
    raise web.HTTPSeeOther("/console/supervisor?closed=1#followups")


def _period(query: Any) -> tuple[date, date, str | None]:
    today = clocks.local_date(clocks.now_utc())
    try:
        last = date.fromisoformat(query.get("to") or today.isoformat())
        first = date.fromisoformat(query.get("from") or (last - timedelta(days=29)).isoformat())
    except ValueError:
        return today - timedelta(days=29), today, "日期应写作 2026-12-01；已显示最近 30 天"
    if first > last or (last - first).days >= measures.MAX_DAYS:
        return today - timedelta(days=29), today, "统计区间须为 1 至 366 天；已显示最近 30 天"
    return first, last, None


@routes.get("/supervisor/measures")
@staff_page(*_SUPERVISORS)
async def centre_measures(request: web.Request) -> web.StreamResponse:
    account = session_of(request).account
    catalog = request.config_dict[CATALOG]
    first, last, problem = _period(request.query)
    counted = await measures.of_centre(
        request.config_dict[APPLICATIONS].store, account.centre_region, first, last
    )
    items = {code: item.task_name for code in counted.by_item if (item := catalog.get(code))}
    return render(
        "measures.html",
        request,
        {
            "m": counted,
            "problem": problem,
            "by_day": measures.as_rows(counted.by_day),
            "by_item": measures.as_rows(counted.by_item, items),
            "by_region": measures.as_rows(counted.by_region, region_names(catalog)),
            "by_window": measures.as_rows(counted.by_window),
            "levels": [(n, LEVEL_ZH[n], counted.by_level.get(n, 0)) for n in (5, 4, 3, 2, 1)],
            "opens": measures.OPENS.strftime("%H:%M"),
            "closes": measures.CLOSES.strftime("%H:%M"),
        },
    )
