"""Trace by any ID across a real relay: the gateway and the regions' sandboxes on loopback.

Shenzhen's sandbox is down when the application arrives, so the first attempt(s)
fail and a later one delivers; the trace must show all of it, in order, found by
the application id, the request id, the region's case number or the trace id,
over REST and with ``tongban trace``. The W3C trace id the client sent must reach
the region (the sandbox records the ``traceparent`` it received).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from support.examples import example
from support.relay_world import World, running_world

from gateway.cli import main

OPS_TOKEN = "ops-secret-for-tests"  # noqa: S105 - a test fixture's token
AUTH = {"Authorization": f"Bearer {OPS_TOKEN}"}
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
REQUEST_ID = "window-07:trace-test-1"
PERSONAL = ("11010519491231002X", "13812345678", "王小明")


@dataclass
class Traced:
    world: World
    application_id: str
    case_no: str
    database: Path


@asynccontextmanager
async def traced_application(tmp_path: Path) -> AsyncIterator[Traced]:
    """One application through a region that is down at first, approved in the end."""
    overrides = {"ops": {"token": OPS_TOKEN}}
    async with running_world(tmp_path, settings=overrides) as world:
        shenzhen = world.sandboxes["shenzhen"]
        shenzhen.go_down(0.3)
        response = await world.gateway.post(
            "/v1/applications",
            json=example(),
            headers={"traceparent": TRACEPARENT, "X-Request-ID": REQUEST_ID},
        )
        answer = await response.json()
        assert response.status == 202, answer
        application_id = answer["id"]

        async def approved() -> bool:
            return await world.status_of(application_id) == "approved"

        await world.wait_for(approved, what="approval after the region came back")
        (case,) = shenzhen.cases()
        yield Traced(world, application_id, case["case_no"], tmp_path / "var" / "tongban.db")


async def get_trace(world: World, identifier: str) -> tuple[int, dict[str, Any]]:
    response = await world.gateway.client.get(f"/v1/trace/{identifier}", headers=AUTH)
    body: dict[str, Any] = await response.json()
    return response.status, body


def parse(at: str) -> datetime:
    return datetime.fromisoformat(at.replace("Z", "+00:00"))


async def test_every_kind_of_id_finds_the_same_application(tmp_path: Path) -> None:
    async with traced_application(tmp_path) as traced:
        ids = {
            "application_id": traced.application_id,
            "request_id": REQUEST_ID,
            "region_case_no": traced.case_no,
            "trace_id": TRACE_ID,
        }
        for kind, identifier in ids.items():
            status, body = await get_trace(traced.world, identifier)
            assert status == 200, (kind, body)
            (found,) = body["applications"]
            assert found["application_id"] == traced.application_id
            assert kind in found["matched_as"]


async def test_the_timeline_shows_the_failed_then_delivered_attempts_in_order(
    tmp_path: Path,
) -> None:
    async with traced_application(tmp_path) as traced:
        _, body = await get_trace(traced.world, traced.application_id)
    (trace,) = body["applications"]
    timeline = trace["timeline"]
    times = [parse(item["at"]) for item in timeline]
    assert times == sorted(times)
    assert timeline[0]["type"] == "event"
    assert timeline[0]["kind"] == "application.received"
    assert timeline[0]["actor"].startswith("partner:")
    assert timeline[0]["request_id"] == REQUEST_ID

    attempts = [item for item in timeline if item["type"] == "attempt"]
    assert [a["attempt"] for a in attempts] == list(range(1, len(attempts) + 1))
    assert len(attempts) >= 2
    *failed, delivered = attempts
    assert all(a["outcome"] == "unavailable" and a["error_class"] for a in failed)
    # The region was up enough to answer "under maintenance": a response came back.
    assert all(a["hops"]["response_received_at"] for a in failed)
    assert delivered["outcome"] == "delivered"
    assert delivered["region"] == "shenzhen"
    assert delivered["instance"]
    hops = delivered["hops"]
    assert parse(hops["started_at"]) <= parse(hops["request_sent_at"])
    assert parse(hops["request_sent_at"]) <= parse(hops["response_received_at"])
    assert parse(hops["response_received_at"]) <= parse(hops["ended_at"])
    assert delivered["duration_ms"] > 0

    statuses = [i["to_status"] for i in timeline if i["type"] == "event" and i["to_status"]]
    assert statuses[:2] == ["received", "forwarded"]
    assert statuses[-1] == "approved"
    # "forwarded" is recorded after the attempt that delivered it started.
    forwarded = next(i for i in timeline if i.get("to_status") == "forwarded")
    assert timeline.index(forwarded) > timeline.index(delivered)

    assert trace["status"] == "approved"
    assert trace["region_case_no"] == traced.case_no
    assert trace["due"]["legal"] or trace["due"]["promised"]
    totals = trace["totals"]
    assert totals["attempts"] == len(attempts)
    assert totals["failed_attempts"] == len(failed)
    assert totals["time_to_forward_seconds"] > 0


async def test_the_trace_holds_no_personal_data(tmp_path: Path) -> None:
    async with traced_application(tmp_path) as traced:
        _, body = await get_trace(traced.world, traced.application_id)
    text = json.dumps(body, ensure_ascii=False)
    for value in PERSONAL:
        assert value not in text
    assert body["applications"][0]["applicant"]["name"] == "王**"


async def test_the_clients_trace_id_reaches_the_region_and_the_audit_entries(
    tmp_path: Path,
) -> None:
    async with traced_application(tmp_path) as traced:
        _, body = await get_trace(traced.world, traced.application_id)
        seen = list(traced.world.sandboxes["shenzhen"].core.seen)
    (trace,) = body["applications"]
    assert trace["trace_id"] == TRACE_ID
    received = trace["timeline"][0]
    assert received["trace_id"] == TRACE_ID
    # Every call the relay made for it (the failed ones too) joined the client's trace.
    submissions = [s for s in seen if s["request_id"] == REQUEST_ID]
    assert len(submissions) == trace["totals"]["attempts"]
    for call in submissions:
        traceparent = call["traceparent"]
        assert traceparent is not None
        version, trace_id, span_id, _ = traceparent.split("-")
        assert (version, trace_id) == ("00", TRACE_ID)
        assert span_id != "00f067aa0ba902b7"  # a span of our own, not the client's
    forwarded = next(i for i in trace["timeline"] if i.get("to_status") == "forwarded")
    assert forwarded["trace_id"] == TRACE_ID


async def test_unknown_id_is_a_404_problem_and_the_route_needs_the_ops_token(
    tmp_path: Path,
) -> None:
    async with traced_application(tmp_path) as traced:
        status, body = await get_trace(traced.world, "no-such-id-anywhere")
        unauthenticated = await traced.world.gateway.client.get(
            f"/v1/trace/{traced.application_id}"
        )
    assert status == 404
    assert body["type"].endswith("trace-not-found")
    assert unauthenticated.status == 401


async def test_tongban_trace_prints_a_table_json_and_not_found(tmp_path: Path) -> None:
    async with traced_application(tmp_path) as traced:
        config = tmp_path / "tongban.toml"
        config.write_text(f'data_dir = "{tmp_path / "var"}"\n', encoding="utf-8")
        runner = CliRunner()

        def run(*args: str) -> Any:
            return runner.invoke(main, ["trace", *args, "--config", str(config)])

        table = await asyncio.to_thread(run, traced.case_no)
        as_json = await asyncio.to_thread(run, REQUEST_ID, "--json")
        missing = await asyncio.to_thread(run, "no-such-id-anywhere")
    assert table.exit_code == 0, table.output
    assert traced.application_id in table.output
    assert "timeline" in table.output
    assert "approved" in table.output
    assert "delivered" in table.output
    for value in PERSONAL:
        assert value not in table.output
    assert as_json.exit_code == 0, as_json.output
    document = json.loads(as_json.output)
    assert document["applications"][0]["application_id"] == traced.application_id
    assert document["applications"][0]["matched_as"] == ["request_id"]
    assert missing.exit_code == 1
    assert "not found" in missing.output
