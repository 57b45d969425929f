"""Logging, request ids, trace context, metrics and error rendering shared by every route."""

from gateway.observability.logging import configure_logging
from gateway.observability.middleware import (
    REQUEST_ID_HEADER,
    body_in_time,
    client_went_away,
    new_request_id,
    problem_errors,
    request_context,
    request_id_of,
    trace_id_of,
)
from gateway.observability.tracecontext import (
    TRACEPARENT_HEADER,
    TraceContext,
    bind_trace,
    bind_trace_in_task,
    current_trace_id,
    parse_traceparent,
    trace_for,
)

__all__ = [
    "REQUEST_ID_HEADER",
    "TRACEPARENT_HEADER",
    "TraceContext",
    "bind_trace",
    "bind_trace_in_task",
    "body_in_time",
    "client_went_away",
    "configure_logging",
    "current_trace_id",
    "new_request_id",
    "parse_traceparent",
    "problem_errors",
    "request_context",
    "request_id_of",
    "trace_for",
    "trace_id_of",
]
