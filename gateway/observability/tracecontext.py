"""W3C Trace Context: the ``traceparent`` header, and the trace of the work in progress.

`parse_traceparent` validates an incoming header exactly as the W3C Trace Context
spec (level 1, §3.2) asks: ``version-trace_id-parent_id-flags``, lowercase hex,
neither id all zeros, version ``ff`` invalid; a future version (``01``..``fe``) is
parsed by its first four fields as long as what follows is ``-``-separated. A
malformed header is never an error for the request: the caller starts a new
trace instead (`TraceContext.new`).

`bind_trace` makes a trace id current for a block (a request), `bind_trace_in_task`
for the rest of a task of its own (a relay job): it
is bound into the structlog context, so every log line carries it, and kept in
a context variable that the audit `Journal` and the outbox read, so audit
entries and outgoing envelopes carry the trace that caused them.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import structlog

TRACEPARENT_HEADER = "traceparent"

_VERSION_00 = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
# A later version must still start with the four version-00 fields; more may follow.
_FUTURE = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$")
_ZERO_TRACE = "0" * 32
_ZERO_PARENT = "0" * 16

_current: ContextVar[str | None] = ContextVar("tongban_trace_id", default=None)


@dataclass(frozen=True, slots=True)
class TraceContext:
    """One position in a trace: the trace id, the caller's span id, the flags."""

    trace_id: str
    parent_id: str
    flags: str = "01"

    @classmethod
    def new(cls) -> TraceContext:
        """A fresh trace (random 128-bit trace id, 64-bit span id), sampled."""
        return cls(_nonzero_hex(16), _nonzero_hex(8), "01")

    def child(self) -> TraceContext:
        """The same trace with a new span id: what we send on to the next hop."""
        return TraceContext(self.trace_id, _nonzero_hex(8), self.flags)

    @property
    def header(self) -> str:
        """The ``traceparent`` header value (version 00)."""
        return f"00-{self.trace_id}-{self.parent_id}-{self.flags}"


def _nonzero_hex(length: int) -> str:
    while True:
        value = secrets.token_hex(length)
        if value.strip("0"):
            return value


def parse_traceparent(value: str | None) -> TraceContext | None:
    """The trace context in a ``traceparent`` header, or None if absent or malformed."""
    if not value:
        return None
    value = value.strip(" \t")
    if len(value) > 512:  # far beyond any valid header: do not regex-scan it
        return None
    match = _VERSION_00.match(value)
    if match is not None:
        trace_id, parent_id, flags = match.groups()
    else:
        future = _FUTURE.match(value)
        if future is None or future.group(1) in ("00", "ff"):
            return None
        _, trace_id, parent_id, flags = future.groups()
    if trace_id == _ZERO_TRACE or parent_id == _ZERO_PARENT:
        return None
    return TraceContext(trace_id, parent_id, flags)


def incoming_trace(headers: Mapping[str, str]) -> tuple[TraceContext, bool]:
    """The request's trace context and whether it was accepted from the caller.

    A missing or malformed ``traceparent`` gives a new trace (``False``).
    """
    parsed = parse_traceparent(headers.get(TRACEPARENT_HEADER))
    if parsed is None:
        return TraceContext.new(), False
    return parsed, True


def current_trace_id() -> str | None:
    """The trace id bound by `bind_trace` for the work in progress, if any."""
    return _current.get()


def trace_for(application: Mapping[str, Any]) -> str | None:
    """The trace to record for work on `application`: the current one, else its own."""
    current = _current.get()
    if current is not None:
        return current
    own = application.get("trace_id")
    return str(own) if own else None


@contextlib.contextmanager
def bind_trace(trace_id: str | None, **log_context: Any) -> Iterator[None]:
    """Make `trace_id` current (and bind it and `log_context` into structlog) for a block."""
    token = _current.set(trace_id)
    try:
        if trace_id is None:
            with structlog.contextvars.bound_contextvars(**log_context):
                yield
        else:
            with structlog.contextvars.bound_contextvars(trace_id=trace_id, **log_context):
                yield
    finally:
        _current.reset(token)


def bind_trace_in_task(trace_id: str | None, **log_context: Any) -> None:
    """`bind_trace` for the rest of the current task, with nothing to restore after.

    Only for a task started for this one job (`asyncio.create_task` gives it its own
    copy of the context, dropped when it ends): a relay delivery. It costs half of
    `bind_trace`, which saves and restores every key it binds.
    """
    _current.set(trace_id)
    if trace_id is not None:
        log_context["trace_id"] = trace_id
    structlog.contextvars.bind_contextvars(**log_context)
