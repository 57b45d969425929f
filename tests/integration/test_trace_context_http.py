"""Trace context and redaction on real HTTP requests: what reaches the logs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import structlog
from aiohttp import web
from aiohttp.test_utils import TestClient
from structlog.testing import capture_logs
from structlog.typing import EventDict
from support.partner_signing import SignedClient

from gateway.observability.redaction import redaction_processor

Client = TestClient[web.Request, web.Application]
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
REPO = Path(__file__).resolve().parents[2]
EXAMPLE = "contracts/examples/submission_full_online_person.json"
PERSONAL = ("11010519491231002X", "13812345678", "王小明")


def request_event(events: list[EventDict]) -> EventDict:
    return next(e for e in events if e["event"] == "http.request")


async def test_an_incoming_traceparent_is_accepted(client: Client, logs: list[EventDict]) -> None:
    response = await client.get(
        "/healthz", headers={"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"}
    )
    assert response.status == 200
    assert request_event(logs)["trace_id"] == TRACE_ID


async def test_a_trace_is_started_when_none_came(client: Client, logs: list[EventDict]) -> None:
    await client.get("/healthz")
    await client.get("/healthz")
    first, second = (e["trace_id"] for e in logs if e["event"] == "http.request")
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second


async def test_a_malformed_traceparent_starts_a_new_trace_and_never_fails(
    client: Client, logs: list[EventDict]
) -> None:
    malformed = f"00-{TRACE_ID.upper()}-00f067aa0ba902b7-01"
    response = await client.get(
        "/healthz", headers={"traceparent": malformed, "X-Request-ID": "dg-window-07:1"}
    )
    assert response.status == 200
    assert response.headers["X-Request-ID"] == "dg-window-07:1"  # never rewritten
    event = request_event(logs)
    assert event["trace_id"] != TRACE_ID.lower()
    assert re.fullmatch(r"[0-9a-f]{32}", event["trace_id"])
    assert any(e["event"] == "http.traceparent_refused" for e in logs)


async def test_a_submissions_logs_hold_no_personal_data(
    applications_client: SignedClient,
) -> None:
    """A client that puts a phone number in its request id puts it in every log event of
    the request; the redaction processor masks it (and everything else) in all of them."""
    body = json.loads((REPO / EXAMPLE).read_text(encoding="utf-8"))
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as raw:
        response = await applications_client.post(
            "/v1/applications", json=body, headers={"X-Request-ID": "13812345678"}
        )
    assert response.status == 202, await response.text()
    assert any(e["event"] == "application.received" for e in raw)
    assert all(e.get("request_id") == "13812345678" for e in raw)  # unmasked so far
    redacted = [redaction_processor(None, "info", dict(event)) for event in raw]
    assert all(e["request_id"] == "138****5678" for e in redacted)
    text = json.dumps(redacted, ensure_ascii=False, default=str)
    for value in PERSONAL:
        assert value not in text
