"""Request-scoped middleware: the request id, the trace, one log event per request, errors.

`request_context` accepts a sane incoming ``X-Request-ID`` (never rewriting a
client's id that is sane), otherwise makes one; it echoes it in the response and
binds it into the log context. It also accepts a valid W3C ``traceparent`` (a
malformed one starts a new trace, never fails the request) or starts a trace, and
makes its trace id current for the request (`tracecontext.bind_trace`).

`problem_errors` turns every error into RFC 9457 problem+json: clients never see
a stack trace, and each 500 is logged with its request id.
"""

from __future__ import annotations

import re
import time
import uuid

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.api.problems import Problem, from_http_exception, problem_response
from gateway.observability.tracecontext import TraceContext, bind_trace, incoming_trace

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
        try:
            response = await handler(request)
            status = response.status
        except web.HTTPException as exc:  # redirects, re-raised by `problem_errors`
            status = exc.status
            exc.headers[REQUEST_ID_HEADER] = request_id
            raise
        finally:
            log.info(
                "http.request",
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
    except Exception:
        log.exception("http.unhandled_error", method=request.method, path=request.path)
        internal = Problem(
            500,
            detail="The gateway failed to handle this request; ops can trace it by its request id.",
        )
        return problem_response(internal, request, request_id_of(request))
