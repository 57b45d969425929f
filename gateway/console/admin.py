"""The admin page: staff accounts and their centres (list, add, disable).

Through `gateway.staff.accounts`, the service ``tongban users`` uses; each change
is an audit entry naming the admin (``staff:<id>``). Passwords are set here once
for a new account and never shown.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog
from aiohttp import web

from gateway.app_keys import AUDIT, CATALOG, STORE
from gateway.console.auth import posted_form, render, session_of, staff_page
from gateway.console.catalogue import region_names
from gateway.staff import accounts
from gateway.staff.accounts import AccountError, Role

log = structlog.get_logger(__name__)
routes = web.RouteTableDef()


async def _page(
    request: web.Request,
    *,
    errors: dict[str, str] | None = None,
    form: Any = None,
    status: int = 200,
) -> web.Response:
    return render(
        "accounts.html",
        request,
        {
            "accounts": await accounts.list_all(request.config_dict[STORE]),
            "roles": [(r.value, r.label_zh) for r in Role],
            "regions": region_names(request.config_dict[CATALOG]),
            "csrf_token": session_of(request).csrf_token,
            "errors": errors or {},
            "form": form or {},
        },
        status=status,
    )


async def _audit(request: web.Request, kind: str, data: dict[str, Any]) -> None:
    async with request.config_dict[STORE].transaction() as conn:
        await request.config_dict[AUDIT].log.append(
            conn, kind=kind, actor=session_of(request).account.actor, data=data
        )


@routes.get("/admin/accounts")
@staff_page(Role.ADMIN)
async def account_list(request: web.Request) -> web.StreamResponse:
    return await _page(request)


def _field(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


@routes.post("/admin/accounts")
@staff_page(Role.ADMIN)
async def add_account(request: web.Request) -> web.StreamResponse:
    form = await posted_form(request)
    catalog = request.config_dict[CATALOG]
    names = ("id", "display_name", "role", "region", "centre")
    values = {name: _field(form, name) for name in names}
    password = form.get("password")
    errors = {}
    if values["role"] not in {r.value for r in Role}:
        errors["role"] = "请选择角色"
    if values["region"] not in catalog.regions:
        errors["region"] = "请选择所属地区"
    if errors:
        return await _page(request, errors=errors, form=values, status=422)
    try:
        created = await accounts.add(
            request.config_dict[STORE],
            values["id"].lower(),
            password=password if isinstance(password, str) else "",
            role=Role(values["role"]),
            centre_region=values["region"],
            centre_name=values["centre"],
            display_name=values["display_name"] or None,
            now=datetime.now(UTC),
        )
    except AccountError as exc:
        return await _page(request, errors={"form": str(exc)}, form=values, status=422)
    await _audit(
        request,
        "staff.account_added",
        {"account": created.id, "role": created.role.value, "centre_region": created.centre_region},
    )
    log.info("console.account_added", account=created.id, by=session_of(request).account.id)
    raise web.HTTPSeeOther(f"/console/admin/accounts?added={created.id}")


@routes.post("/admin/accounts/{id}/disable")
@staff_page(Role.ADMIN)
async def disable_account(request: web.Request) -> web.StreamResponse:
    account_id = request.match_info["id"]
    if account_id == session_of(request).account.id:
        return await _page(request, errors={"form": "不能停用自己正在使用的账号"}, status=409)
    try:
        await accounts.disable(request.config_dict[STORE], account_id, now=datetime.now(UTC))
    except AccountError as exc:
        return await _page(request, errors={"form": str(exc)}, status=404)
    await _audit(request, "staff.account_disabled", {"account": account_id})
    raise web.HTTPSeeOther(f"/console/admin/accounts?disabled={account_id}")
