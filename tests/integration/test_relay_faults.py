"""Faults the relay must survive without resending or losing anything, end to end.

The real gateway and the regions' sandboxes on loopback, on each store backend: a
region that hands out a case number it already gave another application, an
outbox row the gateway cannot read back, and a region's result pushed before the
submission's acknowledgement was recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from relay_world import FAST_RELAY, World, example, running_world
from structlog.typing import EventDict

from gateway.api.applications import APPLICATIONS
from gateway.app_keys import STORE
from gateway.relay.deliveries import UNREADABLE_FORMAT_ZH
from gateway.relay.reasons import DUPLICATE_CASE_NO_ZH

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
    failures = [e for e in logs if e["event"] == "relay.settle_failed"]
    assert len(failures) == 1
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
