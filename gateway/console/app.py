"""The console as an aiohttp sub-application mounted at ``/console/``.

Server-rendered Jinja2 pages (autoescaped), static files vendored in the package
(no CDN: the hall network reaches none), and a middleware that renders errors as
pages a clerk can read and adds the security headers every page needs.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from gateway.console import (
    admin,
    apply,
    auth,
    case_actions,
    cases,
    catalogue,
    menu,
    ops,
    rating_pad,
    supervisor,
    text,
)

_PACKAGE = resources.files("gateway.console")

# Scripts and styles come only from the gateway; the QR code is inline SVG markup.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

_ERRORS = {
    400: "请求有误",
    403: "无权进行此操作",
    404: "找不到这个页面",
    405: "不支持此操作",
    413: "上传的文件太大",
}


@web.middleware
async def console_pages(request: web.Request, handler: auth.Handler) -> web.StreamResponse:
    """Errors as readable pages; security headers and no caching on every answer."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            _secure(exc)
            raise
        response = auth.render(
            "error.html",
            request,
            {"title": _ERRORS.get(exc.status, "出错了"), "detail": exc.text or ""},
            status=exc.status,
        )
    _secure(response)
    return response


def _secure(response: web.StreamResponse) -> None:
    response.headers.setdefault("Content-Security-Policy", _CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if "Cache-Control" not in response.headers:
        # Pages carry personal data: never kept by the browser or a proxy.
        response.headers["Cache-Control"] = "no-store"


def create_console() -> web.Application:
    """The console sub-application; mount it with ``app.add_subapp("/console/", ...)``."""
    console = web.Application(middlewares=[console_pages])
    environment = aiohttp_jinja2.setup(
        console,
        loader=jinja2.PackageLoader("gateway.console", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        when=text.when,
        day=text.day,
        status_zh=text.status_zh,
        urlpart=_urlpart,
        file_kind=text.file_kind,
    )
    console.router.add_get("/", _index)
    console.router.add_routes(auth.routes)
    console.router.add_routes(catalogue.routes)
    console.router.add_routes(apply.routes)
    console.router.add_routes(cases.routes)
    console.router.add_routes(case_actions.routes)
    console.router.add_routes(rating_pad.routes)
    console.router.add_routes(supervisor.routes)
    console.router.add_routes(ops.routes)
    console.router.add_routes(admin.routes)
    static = Path(str(_PACKAGE / "static"))
    console.router.add_static("/static/", static, name="static", append_version=True)
    return console


def setup_console(app: web.Application) -> None:
    """Mount the console under ``/console/`` (and send ``/console`` there)."""
    app.router.add_get("/console", _to_console)
    app.add_subapp("/console/", create_console())


async def _to_console(request: web.Request) -> web.StreamResponse:
    raise web.HTTPPermanentRedirect("/console/")


@auth.staff_page()
async def _index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther(menu.home_of(auth.session_of(request).account.role))


def _urlpart(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")
