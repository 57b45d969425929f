"""The relay end to end: the real gateway and the regions' sandboxes on loopback.

Each test counts at the sandbox (`/_sandbox/cases`): how many cases a region
holds and how often each was submitted, so "nothing lost, nothing twice" is
measured where it matters, in the region's system.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from aiohttp import ClientResponse
from support.examples import example
from support.loopback import FAST_RELAY
from support.relay_world import World, running_world

from gateway.app_keys import STORE
from gateway.relay.deliveries import from_db

SHENZHEN_ITEM = "TEST-SZ-HUKOU"


async def approved(world: World, application_id: str) -> bool:
    return await world.status_of(application_id) == "approved"


async def test_an_application_reaches_its_region_and_the_result_comes_back(
    tmp_path: Path,
) -> None:
    async with running_world(tmp_path) as world:
        answer = await world.submit(example())
        application_id = answer["id"]
        await world.wait_for(lambda: approved(world, application_id), what="approval")
        view = await world.application(application_id)
        (case,) = world.sandboxes["shenzhen"].cases()
        assert case["application_id"] == application_id
        assert case["times_submitted"] == 1
        assert view["region_case_no"] == case["case_no"]
        moves = [
            (event["from_status"], event["to_status"])
            for event in view["history"]
            if event["kind"] == "transition"
        ]
        # Forwarded once the region acknowledged, then the region's own pushes, in order.
        assert moves == [
            (None, "received"),
            ("received", "forwarded"),
            ("forwarded", "accepted"),
            ("accepted", "in_review"),
            ("in_review", "approved"),
        ]


async def test_region_down_then_back_delivers_everything_once(tmp_path: Path) -> None:
    """Every application queued while the region was down reaches it, exactly once.

    (Applications are sent concurrently, so their order across each other is not kept;
    the order the relay keeps, within one application, is tested below.)"""
    async with running_world(tmp_path) as world:
        shenzhen = world.sandboxes["shenzhen"]
        shenzhen.go_down(1.0)
        ids = [(await world.submit(example()))["id"] for _ in range(5)]
        await world.wait_for(
            lambda: len(shenzhen.cases()) == 5, seconds=20, what="all five cases at the region"
        )
        cases = shenzhen.cases()
        assert sorted(case["application_id"] for case in cases) == sorted(ids)
        assert all(case["times_submitted"] == 1 for case in cases)
        for application_id in ids:
            await world.wait_for(partial(approved, world, application_id), what="approvals")


async def test_follow_ups_queued_while_down_reach_the_region_after_their_submissions(
    tmp_path: Path,
) -> None:
    """A withdrawal that overtook its submission would name no case and be refused."""
    async with running_world(tmp_path) as world:
        shenzhen = world.sandboxes["shenzhen"]
        shenzhen.go_down(60)  # until both kinds are queued, however slow this machine is
        ids = [(await world.submit(example()))["id"] for _ in range(3)]
        for application_id in ids:
            response = await world.gateway.post(
                f"/v1/applications/{application_id}/withdrawal", json={"reason": "申请人不再需要"}
            )
            assert response.status == 202, await response.json()
        assert shenzhen.cases() == []  # nothing has gone out yet: order is the relay's to keep
        shenzhen.go_down(0)
        await world.wait_for(
            lambda: [case["status"] for case in shenzhen.cases()] == ["withdrawn"] * 3,
            seconds=20,
            what="three cases withdrawn at the region",
        )

        async def withdrawals_settled() -> bool:
            # The region takes a withdrawal before the relay commits its outcome.
            attempts = await delivery_attempts(world)
            return all(
                any(a["outcome"] == "delivered" for a in attempts[i].get("withdrawal", []))
                for i in ids
            )

        await world.wait_for(withdrawals_settled, seconds=20, what="withdrawals settled")
        failed = await ops_deliveries(world, state="failed")
        attempts = await delivery_attempts(world)
    cases = shenzhen.cases()
    assert sorted(case["application_id"] for case in cases) == sorted(ids)
    assert all(case["times_submitted"] == 1 for case in cases)
    assert failed == []
    for application_id in ids:
        submission, withdrawal = (
            attempts[application_id]["submission"],
            attempts[application_id]["withdrawal"],
        )
        delivered = max(a["ended_at"] for a in submission if a["outcome"] == "delivered")
        assert min(a["started_at"] for a in withdrawal) >= delivered, attempts[application_id]


async def delivery_attempts(world: World) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Every attempt at every delivery, by application and kind (from the outbox's log)."""
    async with world.gateway.app[STORE].transaction() as conn:
        rows = await conn.fetch_all(
            "SELECT d.application_id, d.kind, a.outcome, a.started_at, a.ended_at"
            " FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id"
            " ORDER BY a.started_at"
        )
    by_application: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for row in rows:
        attempt = {
            "outcome": row["outcome"],
            "started_at": from_db(row["started_at"]),
            "ended_at": from_db(row["ended_at"]),
        }
        by_application.setdefault(row["application_id"], {}).setdefault(row["kind"], []).append(
            attempt
        )
    return by_application


async def test_a_lost_response_does_not_create_a_second_case(tmp_path: Path) -> None:
    async with running_world(tmp_path) as world:
        shenzhen = world.sandboxes["shenzhen"]
        shenzhen.set_options(drop_response_rate=1.0)
        application_id = (await world.submit(example()))["id"]
        await world.wait_for(
            lambda: shenzhen.cases() and shenzhen.cases()[0]["times_submitted"] >= 2,
            what="a retry after the lost response",
        )
        shenzhen.set_options(drop_response_rate=0.0)
        await world.wait_for(lambda: approved(world, application_id), what="approval")
        (case,) = shenzhen.cases()
        assert case["application_id"] == application_id
        assert case["times_submitted"] >= 2


async def test_a_permanent_refusal_dead_letters_at_once_in_the_clerks_words(
    tmp_path: Path,
) -> None:
    # Our signing secret is not the one Shenzhen has: it answers 1001 (sign invalid).
    wrong_secret = {"adapters": {"shenzhen": {"app_secret": "not-the-shared-secret"}}}
    async with running_world(tmp_path, settings=wrong_secret) as world:
        application_id = (await world.submit(example()))["id"]
        await world.wait_for(lambda: relay_failed(world, application_id), what="the dead letter")
        view = await world.application(application_id)
        deliveries = await ops_deliveries(world, state="failed")
        assert world.sandboxes["shenzhen"].cases() == []
    (dead,) = deliveries
    assert dead["application_id"] == application_id
    assert dead["attempts"] == 1  # refused for good: not retried
    assert dead["dead_reason_zh"].startswith("签名失败")
    assert "1001" in dead["dead_detail"]
    assert view["status"] == "relay_failed"


async def test_a_replayed_dead_letter_is_delivered_once(tmp_path: Path) -> None:
    settings = {
        "ops": {"token": OPS_TOKEN},
        "relay": {
            **FAST_RELAY,
            "regions": {
                "shenzhen": {
                    "retry_max_attempts": 2,
                    "retry_base_seconds": 0.05,
                    "retry_max_seconds": 0.1,
                    "breaker_failures": 100,
                }
            },
        },
    }
    async with running_world(tmp_path, settings=settings) as world:
        shenzhen = world.sandboxes["shenzhen"]
        shenzhen.go_down(60)
        application_id = (await world.submit(example()))["id"]
        await world.wait_for(lambda: relay_failed(world, application_id), what="a dead letter")
        (dead,) = await ops_deliveries(world, state="failed")
        assert dead["dead_reason_zh"] == "对方系统维护或暂不可用，多次重试未成功"
        shenzhen.go_down(0)
        first = await ops_post(world, f"/v1/ops/deliveries/{dead['id']}/replay")
        second = await ops_post(world, f"/v1/ops/deliveries/{dead['id']}/replay")
        await world.wait_for(lambda: approved(world, application_id), what="approval")
        history = (await world.application(application_id))["history"]
    assert first.status == 200
    assert second.status == 409  # queued already: replaying twice sends it once
    (case,) = shenzhen.cases()
    assert case["times_submitted"] == 1
    moves = [e["to_status"] for e in history if e.get("to_status")]
    assert moves[:4] == ["received", "relay_failed", "received", "forwarded"]
    replayed = [e for e in history if e.get("to_status") == "received"][1]
    assert replayed["actor"] == "ops:api"


OPS_TOKEN = "ops-token-for-tests"  # noqa: S105 - a test fixture, not a secret


async def relay_failed(world: World, application_id: str) -> bool:
    return await world.status_of(application_id) == "relay_failed"


async def ops_deliveries(world: World, *, state: str) -> list[dict[str, Any]]:
    response = await world.gateway.client.get(
        f"/v1/ops/deliveries?state={state}", headers={"Authorization": f"Bearer {OPS_TOKEN}"}
    )
    if response.status == 404:  # ops API off in this world: read the table through the store
        async with world.gateway.app[STORE].transaction() as conn:
            return await conn.fetch_all(
                "SELECT * FROM deliveries WHERE state = :state", {"state": state}
            )
    body: dict[str, Any] = await response.json()
    assert response.status == 200, body
    rows: list[dict[str, Any]] = body["deliveries"]
    return rows


async def ops_post(world: World, path: str) -> ClientResponse:
    return await world.gateway.client.post(path, headers={"Authorization": f"Bearer {OPS_TOKEN}"})


async def test_a_pull_region_is_polled_for_its_results(tmp_path: Path) -> None:
    """Dongguan pushes nothing: the relay polls queryStatus until the case is decided."""
    async with running_world(tmp_path) as world:
        application_id = (await world.submit(example("multi_region_enterprise")))["id"]
        await world.wait_for(partial(approved, world, application_id), what="approval by polling")
        view = await world.application(application_id)
    (case,) = world.sandboxes["dongguan"].cases()
    assert case["application_id"] == application_id
    assert view["region_case_no"] == case["case_no"]
    region_moves = [e for e in view["history"] if str(e.get("actor", "")) == "region:dongguan"]
    assert [e["to_status"] for e in region_moves][-1] == "approved"
