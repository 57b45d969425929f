"""W3C Trace Context parsing (traceparent, level 1 §3.2) and the current-trace binding."""

from __future__ import annotations

import re

import pytest
import structlog
from structlog.testing import capture_logs

from gateway.observability.tracecontext import (
    TraceContext,
    bind_trace,
    current_trace_id,
    incoming_trace,
    parse_traceparent,
    trace_for,
)

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_a_valid_version_00_header_is_parsed() -> None:
    assert parse_traceparent(VALID) == TraceContext(
        "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "01"
    )


def test_a_future_version_is_read_by_its_first_four_fields() -> None:
    parsed = parse_traceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-extra")
    assert parsed is not None
    assert parsed.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert parsed.flags == "09"


@pytest.mark.parametrize(
    "header",
    [
        "",
        "garbage",
        VALID.upper(),  # hex must be lowercase
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # zero parent id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # version ff forbidden
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  # 00 has no extras
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  # short trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",  # short flags
        "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
        "0-" + "a" * 600,
    ],
)
def test_a_malformed_header_is_refused(header: str) -> None:
    assert parse_traceparent(header) is None


def test_a_missing_or_malformed_header_starts_a_new_trace() -> None:
    created, accepted = incoming_trace({"traceparent": "nonsense"})
    assert not accepted
    assert re.fullmatch(r"[0-9a-f]{32}", created.trace_id)
    assert created.trace_id != "0" * 32
    assert parse_traceparent(created.header) == created
    assert incoming_trace({})[0].trace_id != created.trace_id


def test_a_child_keeps_the_trace_and_takes_a_new_span() -> None:
    parent = TraceContext.new()
    child = parent.child()
    assert child.trace_id == parent.trace_id
    assert child.parent_id != parent.parent_id


def test_bind_trace_makes_it_current_and_logs_it_then_restores() -> None:
    application = {"trace_id": "a" * 32}
    assert current_trace_id() is None
    assert trace_for(application) == "a" * 32
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as events:
        with bind_trace("b" * 32, region="shenzhen"):
            assert current_trace_id() == "b" * 32
            assert trace_for(application) == "b" * 32
            structlog.get_logger().info("test.event")
        structlog.get_logger().info("test.after")
    assert current_trace_id() is None
    assert events[0]["trace_id"] == "b" * 32
    assert events[0]["region"] == "shenzhen"
    assert "trace_id" not in events[1]
