"""Faults the relay must survive without resending or losing anything, end to end.

The real gateway and the regions' sandboxes on loopback, on each store backend: a
region that hands out a case number it already gave another application, an
outbox row the gateway cannot read back, and a region's result pushed before the
submission's acknowledgement was recorded.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from structlog.typing import EventDict
from support.examples import example
from support.loopback import FAST_RELAY
from support.relay_world import World, running_world

from adapters.shenzhen import protocol
from adapters.shenzhen.settings import ShenzhenSettings
from gateway.app_keys import APPLICATIONS, STORE
from gateway.applications.journal import Journal
from gateway.applications.region_events import EventOutcome, apply_parked_events, apply_status_event
from gateway.audit import AuditLog
from gateway.envelope import Status, StatusEvent
from gateway.relay.deliveries import UNREADABLE_FORMAT_ZH
from gateway.relay.reasons import DUPLICATE_CASE_NO_ZH
from gateway.security.pii import PiiCipher, PiiKeys
from gateway.store import Store, bundled_migrations, migrate

# Short leases: a delivery left in flight by a crashed task would be claimed and
# sent again within the test, so "sent once" is a real check.
SHORT_LEASE = {**FAST_RELAY, "lease_seconds": 0.3}


@pytest.fixture
def world_settings(store_url: str) -> dict[str, Any]:
    """Gateway settings for this test's backend (SQLite file or a fresh PostgreSQL db)."""
    return {"store": {"url": store_url}, "relay": SHORT_LEASE}


async def deliveries_of(world: World, application_id: str) -> list[dict[str, Any]]:
    async with world.gateway.app[STORE].transaction() as conn:
        return await conn.fetch_all(
            "SELECT * FROM deliveries WHERE application_id = :id ORDER BY created_at",
            {"id": application_id},
        )


def status_is(world: World, application_id: str, *wanted: str) -> Callable[[], Any]:
    async def check() -> bool:
        return await world.status_of(application_id) in wanted

    return check


def case_of(world: World, region: str, application_id: str) -> dict[str, Any]:
    (case,) = [c for c in world.sandboxes[region].cases() if c["application_id"] == application_id]
    return case


async def test_a_repeated_case_number_is_a_dead_letter_sent_once_and_the_relay_goes_on(
    tmp_path: Path, world_settings: dict[str, Any], logs: list[EventDict]
) -> None:
    async with running_world(tmp_path, settings=world_settings) as world:
        shenzhen = world.sandboxes["shenzhen"]
        first = (await world.submit(example()))["id"]
        await world.wait_for(
            status_is(world, first, "forwarded", "accepted", "in_review", "approved"),
            what="the first case at the region",
        )
        taken = case_of(world, "shenzhen", first)["case_no"]

        shenzhen.set_options(repeat_case_no=True)  # the region's numbering goes wrong
        second = (await world.submit(example()))["id"]
        await world.wait_for(status_is(world, second, "relay_failed"), what="the dead letter")
        shenzhen.set_options(repeat_case_no=False)

        third = (await world.submit(example()))["id"]  # the relay still delivers
        await world.wait_for(status_is(world, third, "approved"), what="a later approval")
        (dead,) = await deliveries_of(world, second)
        view = await world.application(second)
        third_case = case_of(world, "shenzhen", third)["case_no"]
        second_case = case_of(world, "shenzhen", second)

    assert second_case["case_no"] == taken
    assert second_case["times_submitted"] == 1  # never sent to the region again
    assert dead["state"] == "failed"
    assert dead["dead_reason_zh"] == DUPLICATE_CASE_NO_ZH
    assert dead["region_case_no"] == taken  # the region's answer is kept
    assert taken in dead["dead_detail"]
    assert "UniqueViolation" in dead["dead_detail"]
    assert dead["attempts"] == 1
    assert view["status"] == "relay_failed"
    assert view["region_case_no"] is None
    assert third_case != taken
    # Only this world's applications: the log capture is process-wide.
    ours = {first, second, third}
    failures = [
        e for e in logs if e["event"] == "relay.settle_failed" and e.get("application_id") in ours
    ]
    seen = [(e.get("application_id"), e.get("delivery_id"), e.get("error")) for e in failures]
    assert [e["application_id"] for e in failures] == [second], seen
    assert failures[0]["log_level"] == "error"
    assert failures[0].get("exc_info"), "logged with its traceback"
    assert not [e for e in logs if e["event"] in ("relay.task_crashed", "relay.delivery_crashed")]


async def test_an_unreadable_outbox_row_is_dead_lettered_alone(
    tmp_path: Path, world_settings: dict[str, Any]
) -> None:
    async with running_world(tmp_path, settings=world_settings) as world:
        shenzhen = world.sandboxes["shenzhen"]
        shenzhen.go_down(60)  # nothing leaves until the bad row is planted
        poisoned = (await world.submit(example()))["id"]
        (row,) = await deliveries_of(world, poisoned)
        # Sealed with the gateway's own key, so it opens, but it is no envelope.
        cipher = world.gateway.app[APPLICATIONS].cipher
        sealed = cipher.seal({"kind": "submission", "body": "nonsense"}, bound_to=row["id"])
        async with world.gateway.app[STORE].transaction() as conn:
            await conn.execute(
                "UPDATE deliveries SET envelope = :sealed WHERE id = :id",
                {"sealed": sealed, "id": row["id"]},
            )
        same_region = (await world.submit(example()))["id"]
        other_region = (await world.submit(example("multi_region_enterprise")))["id"]
        shenzhen.go_down(0)

        await world.wait_for(status_is(world, poisoned, "relay_failed"), what="the dead letter")
        for application_id in (same_region, other_region):
            await world.wait_for(
                status_is(world, application_id, "approved"), what="the others delivered"
            )
        (dead,) = await deliveries_of(world, poisoned)
        (fine,) = await deliveries_of(world, same_region)
        shenzhen_cases = shenzhen.cases()

    assert dead["state"] == "failed"
    assert dead["dead_reason_zh"] == UNREADABLE_FORMAT_ZH
    assert dead["dead_detail"].startswith("ValidationError: ")
    assert "nonsense" not in dead["dead_detail"]  # what the row holds is not quoted
    assert fine["state"] == "delivered"
    assert [c["application_id"] for c in shenzhen_cases] == [same_region]


def shenzhen_push(event_id: str, case_no: str, status: Status, at: datetime) -> tuple[bytes, str]:
    """A result pushed the way Shenzhen does, signed, but without our application id."""
    shenzhen = ShenzhenSettings()  # the demo appId and secret the gateway runs with
    raw = json.dumps(
        {
            "eventId": event_id,
            "caseNo": case_no,
            "statusCode": protocol.CODE_OF_STATUS[status],
            "statusTime": at.isoformat(),
            "opinion": "已受理",
        }
    ).encode()
    params = protocol.signed_params(shenzhen.app_id, shenzhen.app_secret.get_secret_value(), raw)
    return raw, f"/v1/regions/shenzhen/callbacks?{urlencode(params)}"


async def push(world: World, event_id: str, case_no: str, status: Status, at: datetime) -> None:
    raw, path = shenzhen_push(event_id, case_no, status, at)
    response = await world.gateway.client.post(
        path, data=raw, headers={"Content-Type": "application/json"}
    )
    answer = await response.json()
    assert response.status == 200, answer
    assert answer["code"] == protocol.OK


async def region_transitions(world: World, application_id: str) -> list[dict[str, Any]]:
    history = (await world.application(application_id))["history"]
    return [e for e in history if e.get("actor") == "region:shenzhen"]


async def test_a_result_pushed_before_the_submission_settled_is_applied_when_it_lands(
    tmp_path: Path, world_settings: dict[str, Any]
) -> None:
    async with running_world(tmp_path, settings=world_settings) as world:
        shenzhen = world.sandboxes["shenzhen"]
        # The region creates the case but its answer is lost, so our side has no case
        # number yet; and it pushes nothing by itself, so only our push moves the case.
        shenzhen.set_options(drop_response_rate=1.0, review_delay=3600)
        application_id = (await world.submit(example()))["id"]
        await world.wait_for(lambda: shenzhen.cases(), what="the case at the region")
        case_no = shenzhen.cases()[0]["case_no"]

        accepted_at = datetime.now(UTC)
        await push(world, "early-1", case_no, Status.ACCEPTED, accepted_at)
        await push(world, "early-1", case_no, Status.ACCEPTED, accepted_at)  # pushed again
        assert await world.status_of(application_id) == "received"

        shenzhen.set_options(drop_response_rate=0.0)  # the relay's retry gets the answer
        await world.wait_for(status_is(world, application_id, "accepted"), what="the early event")
        await push(world, "early-1", case_no, Status.ACCEPTED, accepted_at)  # and again
        view = await world.application(application_id)
        moves = await region_transitions(world, application_id)
        async with world.gateway.app[STORE].transaction() as conn:
            recorded = await conn.fetch_one(
                "SELECT outcome, application_id, event FROM region_events"
                " WHERE event_id = 'early-1'"
            )

    assert view["region_case_no"] == case_no
    assert view["status"] == "accepted"
    statuses = [e["to_status"] for e in view["history"] if e.get("to_status")]
    assert statuses == ["received", "forwarded", "accepted"]
    (move,) = moves  # applied once, though pushed three times
    assert move["to_status"] == "accepted"
    assert move["region_event_id"] == "early-1"
    assert recorded == {"outcome": "applied", "application_id": application_id, "event": None}


async def test_an_event_racing_the_case_number_into_the_store_is_not_lost(store: Store) -> None:
    """The event's transaction runs while the one recording the case number is open.

    On PostgreSQL neither sees the other's uncommitted rows: without a lock the
    event would be parked after the number's transaction looked for parked events.
    """
    await migrate(store, bundled_migrations(store.backend))
    journal = Journal(
        AuditLog(store.backend), PiiCipher(PiiKeys({"k1": bytes(32)}, "k1", bytes(32)))
    )
    now = datetime.now(UTC).isoformat()
    async with store.transaction() as conn:
        await conn.execute(
            "INSERT INTO applications (id, request_id, item_code, receiving_region,"
            " competent_region, channel, handling_mode, applicant_kind, applicant_index,"
            " material_fingerprint, personal, masked, materials, status, anticipate_type,"
            " promise_type, submitted_by, created_at, updated_at) VALUES ('app-1', 'r', 'X',"
            " 'shenzhen', 'shenzhen', 'window', 'proxy', 'person', 'i', 'f', 'sealed', '{}',"
            " '[]', 'forwarded', 'working_day', 'working_day', 'test', :now, :now)",
            {"now": now},
        )
    early = StatusEvent(
        event_id="race-1",
        region="shenzhen",
        region_case_no="SZ-9",
        status=Status.ACCEPTED,
        occurred_at=datetime.now(UTC),
    )

    async def push() -> EventOutcome:
        async with store.transaction() as conn:
            return await apply_status_event(conn, early, journal=journal)

    async with store.transaction() as conn:
        await conn.execute("UPDATE applications SET region_case_no = 'SZ-9' WHERE id = 'app-1'")
        landed = await conn.fetch_one("SELECT * FROM applications WHERE id = 'app-1'")
        assert landed is not None
        assert await apply_parked_events(conn, landed, journal=journal) == []
        racing = asyncio.create_task(push())
        await asyncio.wait({racing}, timeout=0.5)  # every chance to overtake the commit
    assert await racing is EventOutcome.APPLIED
    async with store.transaction() as conn:
        row = await conn.fetch_one("SELECT status FROM applications WHERE id = 'app-1'")
    assert row == {"status": "accepted"}
