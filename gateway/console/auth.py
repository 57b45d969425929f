"""Signing in and out, the session cookie, CSRF checks and role guards for console pages.

The session cookie is HttpOnly, SameSite=Strict, scoped to ``/console/`` and
Secure whenever the request came over TLS. Every form carries a CSRF token: a
signed-in form carries the session's; the sign-in form, which has no session yet,
a random token also set in a short-lived cookie (double submit). A POST whose
token is missing or wrong is refused (403) before anything is read or written.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp_jinja2
import structlog
from aiohttp import web

from gateway.app_keys import AUDIT, SETTINGS, STORE
from gateway.console import menu
from gateway.console.text import BEIJING
from gateway.staff import accounts, sessions
from gateway.staff.accounts import Role
from gateway.staff.sessions import Session
from gateway.store import Store

SESSION_COOKIE = "tongban_console"
LOGIN_COOKIE = "tongban_console_login"
SESSION = web.RequestKey("console_session", Session)
CSRF_FIELD = "csrf_token"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

log = structlog.get_logger(__name__)
routes = web.RouteTableDef()


def now_utc() -> datetime:
    return datetime.now(UTC)


def render(
    template: str, request: web.Request, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    """Render a page with the signed-in account (if any) in its context."""
    session = request.get(SESSION)
    page = {
        "request": request,
        "session": session,
        "account": session.account if session else None,
        "menu": menu.entries_for(session.account.role) if session else [],
        "idle_minutes": request.config_dict[SETTINGS].console.idle_minutes if session else 0,
        **context,
    }
    return aiohttp_jinja2.render_template(template, request, page, status=status)


def store_of(request: web.Request) -> Store:
    return request.config_dict[STORE]


def session_of(request: web.Request) -> Session:
    return request[SESSION]


def staff_page(
    *roles: Role, multipart: bool = False, activity: bool = True
) -> Callable[[Handler], Handler]:
    """Only a signed-in account (with one of `roles`, when given) reaches the handler.

    No session: a page redirects to the sign-in page (noting an expired session);
    a JSON endpoint answers 401. A POST must carry the session's CSRF token; a
    handler declared `multipart` streams its body and checks the token itself
    (`check_csrf`) before it stores anything. A request that is not the clerk's
    own `activity` (the case page's status polling) does not keep the session alive.
    """

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            settings = request.config_dict[SETTINGS].console
            token = request.cookies.get(SESSION_COOKIE)
            session = None
            if token:
                session = await sessions.find(
                    store_of(request),
                    token,
                    now=now_utc(),
                    idle=timedelta(minutes=settings.idle_minutes),
                    touch=activity,
                )
            if session is None:
                if request.path.endswith(".json"):
                    raise web.HTTPUnauthorized(
                        text='{"error": "请重新登录"}', content_type="application/json"
                    )
                target = f"/console/login?next={quote(request.path_qs)}"
                if token:
                    target += "&expired=1"
                response = web.HTTPSeeOther(target)
                response.del_cookie(SESSION_COOKIE, path="/console/")
                raise response
            request[SESSION] = session
            if roles and session.account.role not in roles:
                raise web.HTTPForbidden(text="你的角色无权使用此页面")
            if request.method == "POST" and not multipart:
                form = await posted_form(request)
                check_csrf(session.csrf_token, _text(form.get(CSRF_FIELD)))
            return await handler(request)

        return guarded

    return decorate


async def posted_form(request: web.Request) -> Any:
    """The POSTed form fields; a body that is not a readable form is a 400, not a crash."""
    try:
        return await request.post()
    except ValueError as exc:  # bad multipart boundary, bytes that are not UTF-8...
        raise web.HTTPBadRequest(text="表单内容格式有误，请返回上一页刷新后重新提交。") from exc


def check_csrf(expected: str, given: str | None) -> None:
    """Refuse (403) a form whose CSRF token is missing or is not `expected`."""
    if not sessions.csrf_matches(expected, given):
        raise web.HTTPForbidden(text="表单已失效（安全校验未通过），请返回上一页刷新后重新提交")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _safe_next(target: str | None) -> str:
    # Only a path inside the console: never an open redirect to another site.
    if not target or not target.startswith("/console/") or urlsplit(target).netloc:
        return "/console/"
    return target


@routes.get("/login")
async def login_page(request: web.Request) -> web.StreamResponse:
    expired = request.query.get("expired") == "1"
    message = "长时间未操作，已自动退出，请重新登录。" if expired else None
    return _login_form(request, message=message, status=200)


def _login_form(
    request: web.Request, *, message: str | None, status: int, account_id: str = ""
) -> web.StreamResponse:
    token = secrets.token_urlsafe(24)
    response = render(
        "login.html",
        request,
        {
            "csrf_token": token,
            "message": message,
            "account_id": account_id,
            "next": _safe_next(request.query.get("next")),
        },
        status=status,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        path="/console/login",
        httponly=True,
        samesite="Strict",
        secure=request.secure,
        max_age=3600,
    )
    return response


@routes.post("/login")
async def login(request: web.Request) -> web.StreamResponse:
    form = await posted_form(request)
    given = _text(form.get(CSRF_FIELD))
    expected = request.cookies.get(LOGIN_COOKIE)
    if not expected or not sessions.csrf_matches(expected, given):
        raise web.HTTPForbidden(text="登录页面已失效，请刷新后重新登录")
    account_id = (_text(form.get("account")) or "").strip().lower()
    password = _text(form.get("password")) or ""
    settings = request.config_dict[SETTINGS].console
    store = store_of(request)
    result = await accounts.authenticate(store, account_id, password, now=now_utc(), rules=settings)
    if result.account is None:
        log.info("console.sign_in_refused", account=account_id, reason=result.refusal)
        if result.refusal == "locked":
            await _audit(request, "staff.locked_out", account_id)
        return _login_form(
            request,
            message=_refusal_zh(result.refusal, result.locked_until, settings.max_failed_logins),
            status=403 if result.refusal in ("locked", "disabled") else 401,
            account_id=account_id,
        )
    token = await sessions.open_session(store, result.account, now=now_utc())
    await _audit(request, "staff.signed_in", result.account.id)
    log.info("console.signed_in", account=result.account.id)
    response = web.HTTPSeeOther(_safe_next(_text(form.get("next"))))
    response.set_cookie(
        SESSION_COOKIE,
        token,
        path="/console/",
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )
    response.del_cookie(LOGIN_COOKIE, path="/console/login")
    raise response


def _refusal_zh(refusal: str | None, locked_until: datetime | None, limit: int) -> str:
    if refusal == "locked" and locked_until is not None:
        local = locked_until.astimezone(BEIJING)
        return (
            f"密码连续输错 {limit} 次，账号已锁定。请于 {local:%H:%M}（北京时间）后再试，"
            "或请管理员重设密码解锁。"
        )
    if refusal == "disabled":
        return "此账号已停用，如需使用请联系管理员。"
    return f"账号或密码不正确。连续输错 {limit} 次账号将被锁定。"


@routes.post("/logout")
@staff_page()
async def logout(request: web.Request) -> web.StreamResponse:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await sessions.close(store_of(request), token)
    await _audit(request, "staff.signed_out", session_of(request).account.id)
    response = web.HTTPSeeOther("/console/login")
    response.del_cookie(SESSION_COOKIE, path="/console/")
    raise response


@routes.get("/keepalive.json")
@staff_page()
async def keepalive(request: web.Request) -> web.StreamResponse:
    """The idle warning's 继续使用: a sign of activity that keeps the session."""
    return web.Response(status=204)


async def _audit(request: web.Request, kind: str, account_id: str) -> None:
    """A sign-in event in the audit log (actor ``staff:<id>``), when the id is well formed."""
    if not accounts.ACCOUNT_ID.match(account_id):
        return  # an unknown, malformed name is logged above, not made an actor
    audit = request.config_dict[AUDIT]
    async with store_of(request).transaction() as conn:
        await audit.log.append(conn, kind=kind, actor=f"staff:{account_id}")
