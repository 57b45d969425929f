"""Request-scoped middleware: the request id, the trace, one log event per request, errors.

`request_context` accepts a sane incoming ``X-Request-ID`` (never rewriting a
client's id that is sane), otherwise makes one; it echoes it in the response and
binds it into the log context. It also accepts a valid W3C ``traceparent`` (a
malformed one starts a new trace, never fails the request) or starts a trace, and
makes its trace id current for the request (`tracecontext.bind_trace`).

`problem_errors` turns every error into RFC 9457 problem+json: clients never see
a stack trace, and each 500 is logged with its request id. `StoreUnavailable`
(transient: a deadlock victim, the database restarting) is a 503 with Retry-After.

A client that goes away mid-request (closed connection, cut body) is not a server
error: `request_context` logs it once, at info, as ``http.client_gone``, and nothing
else logs it (`client_went_away` is the one test of it).

`body_in_time` reads a request's whole body (within ``client_max_size``) before any
handler runs, under ``server.body_timeout``: a client that drips its body or lies in
Content-Length gets a 408 and its connection closed, never a handler waiting forever.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid

import structlog
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Handler

from gateway.app_keys import BODY_TIMEOUT
from gateway.errors import StoreUnavailable
from gateway.http.responses import problem_response
from gateway.observability.tracecontext import TraceContext, bind_trace, incoming_trace
from gateway.problems import Problem, from_http_exception

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID = web.RequestKey("request_id", str)
TRACE = web.RequestKey("trace", TraceContext)
# Printable, no spaces or quotes, bounded: safe to echo in a header and a log line.
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")

log = structlog.get_logger("gateway.http")


def new_request_id() -> str:
    """A fresh request id: 32 lowercase hex digits."""
    return uuid.uuid4().hex


def request_id_of(request: web.Request) -> str | None:
    """The request id `request_context` gave this request."""
    return request.get(REQUEST_ID)


def trace_id_of(request: web.Request) -> str | None:
    """The W3C trace id `request_context` gave this request."""
    trace = request.get(TRACE)
    return None if trace is None else trace.trace_id


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give the request its id, log its outcome and duration, echo the id back."""
    incoming = request.headers.get(REQUEST_ID_HEADER)
    request_id = incoming if incoming and _SANE_REQUEST_ID.match(incoming) else new_request_id()
    request[REQUEST_ID] = request_id
    trace, accepted = incoming_trace(request.headers)
    request[TRACE] = trace
    started = time.perf_counter()
    with bind_trace(trace.trace_id, request_id=request_id):
        if incoming and incoming != request_id:
            log.warning("http.request_id_replaced", reason="malformed", length=len(incoming))
        if not accepted and "traceparent" in request.headers:
            log.info("http.traceparent_refused", reason="malformed")
        status = 500
        event = "http.request"
        try:
            response = await handler(request)
            status = response.status
        except web.HTTPException as exc:  # redirects, re-raised by `problem_errors`
            status = exc.status
            exc.headers[REQUEST_ID_HEADER] = request_id
            raise
        except (asyncio.CancelledError, Exception) as exc:
            if not client_went_away(request, exc):
                raise
            # Nobody is left to answer; the one log line below says so.
            event, status = "http.client_gone", 499
            if isinstance(exc, asyncio.CancelledError):
                raise  # a cancelled task must stay cancelled
            response = web.Response(status=400)
            response.force_close()
        finally:
            log.info(
                event,
                method=request.method,
                path=request.path,
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
    response.headers[REQUEST_ID_HEADER] = request_id
    return response


@web.middleware
async def problem_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render `Problem`, aiohttp HTTP errors and unexpected exceptions as problem+json."""
    try:
        return await handler(request)
    except Problem as problem:
        return problem_response(problem, request, request_id_of(request))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # redirects and the like are not errors
        return problem_response(from_http_exception(exc), request, request_id_of(request))
    except HttpProcessingError as exc:  # a body aiohttp cannot decode (bad chunking...)
        if client_went_away(request, exc):
            raise  # `request_context` logs it once
        bad = Problem(400, "Malformed body", "请求内容格式有误，无法读取", type_="malformed-body")
        return problem_response(bad, request, request_id_of(request), close=True)
    except StoreUnavailable as exc:
        # Transient by definition (the database down, a deadlock victim, the pool
        # exhausted): the transaction rolled back whole, so the client may retry as is.
        log.warning("http.store_unavailable", path=request.path, error=str(exc))
        unavailable = Problem(
            503,
            "Store unavailable",
            "数据库暂时不可用，本次请求未生效，请稍后以相同的 Idempotency-Key 重试",
            type_="store-unavailable",
            headers={"Retry-After": "1"},
        )
        return problem_response(unavailable, request, request_id_of(request))
    except Exception as exc:
        if client_went_away(request, exc):
            raise  # `request_context` logs it once
        log.exception("http.unhandled_error", method=request.method, path=request.path)
        internal = Problem(
            500,
            "Internal error",
            "网关处理此请求时出错，请凭请求编号（request_id）联系运维人员。",
            type_="internal-error",
        )
        return problem_response(internal, request, request_id_of(request))


def client_went_away(request: web.Request, exc: BaseException) -> bool:
    """Whether `exc` only means the client closed its connection mid-request: the
    connection is gone, and the error is what aiohttp raises then (a reset read, a body
    cut short, a cancelled handler). A `ConnectionError` with the client still there
    (a database, a region) is a server error, not this."""
    gone = request.transport is None or request.transport.is_closing()
    return gone and isinstance(exc, ConnectionError | asyncio.CancelledError | HttpProcessingError)


"""Seconds a client has to send its whole body (`body_in_time`); set by `create_app`."""


@web.middleware
async def body_in_time(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Read the body before the handler, within the app's `BODY_TIMEOUT` (else 408)."""
    if request.body_exists:
        try:
            async with asyncio.timeout(request.app[BODY_TIMEOUT]):
                await request.read()  # kept by aiohttp: later reads return these bytes
        except TimeoutError:
            log.info("http.body_timeout", method=request.method, path=request.path)
            slow = Problem(
                408,
                "Request body too slow",
                "请求内容在规定时间内未传送完毕，连接已关闭",
                type_="body-timeout",
            )
            return problem_response(slow, request, request_id_of(request), close=True)
    return await handler(request)
