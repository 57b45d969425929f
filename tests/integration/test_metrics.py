"""GET /metrics over a real relay: the exposition parses and its values move.

The gateway and the sandboxes run on loopback; Shenzhen is down while the
application arrives, then comes back. The scrape is parsed with
`prometheus_client.parser`, the reference parser, never matched as text.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from support.examples import example
from support.relay_world import World, running_world

from gateway.app import create_app
from gateway.config import Settings

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(world: World) -> Samples:
    response = await world.gateway.client.get("/metrics")
    assert response.status == 200
    assert response.content_type == "text/plain"
    return parse(await response.text())


def parse(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def labelled(samples: Samples, name: str) -> list[dict[str, str]]:
    return [dict(labels) for (sample, labels) in samples if sample == name]


async def test_metrics_move_with_a_submission_and_its_delivery(tmp_path: Path) -> None:
    overrides = {"metrics": {"store_cache_seconds": 0}}
    async with running_world(tmp_path, settings=overrides) as world:
        shenzhen = world.sandboxes["shenzhen"]
        before = await scrape(world)
        shenzhen.go_down(60)
        application_id = (await world.submit(example()))["id"]

        async def failed_once() -> bool:
            now = await scrape(world)
            return value(now, "tongban_delivery_attempts_total", region="shenzhen",
                         outcome="unavailable") >= 1  # fmt: skip

        await world.wait_for(failed_once, what="a failed attempt in the metrics")
        waiting = await scrape(world)
        shenzhen.core.down_until = 0.0

        async def delivered() -> bool:
            now = await scrape(world)
            return value(now, "tongban_deliveries_total", region="shenzhen",
                         outcome="delivered") == 1  # fmt: skip

        await world.wait_for(delivered, what="the delivery in the metrics")
        await world.application(application_id)
        after = await scrape(world)

    intake = "tongban_intake_total"
    assert value(before, intake, channel="online", region="shenzhen") == 0
    assert value(after, intake, channel="online", region="shenzhen") == 1
    posts = {"method": "POST", "route": "/v1/applications", "status": "202"}
    assert value(after, "tongban_http_requests_total", **posts) == 1
    # Routes are templates: the application's id never becomes a label value.
    routes = {labels["route"] for labels in labelled(after, "tongban_http_requests_total")}
    assert "/v1/applications/{id}" in routes
    assert not any(application_id in route for route in routes)

    # While Shenzhen was down the delivery waited in the queue.
    queued = value(waiting, "tongban_deliveries_queued", region="shenzhen", state="pending")
    queued += value(waiting, "tongban_deliveries_queued", region="shenzhen", state="in_flight")
    assert queued == 1
    assert value(after, "tongban_deliveries_queued", region="shenzhen", state="pending") == 0
    assert value(after, "tongban_dead_letters", region="shenzhen") == 0
    assert ("tongban_delivery_oldest_due_age_seconds", frozenset({("region", "shenzhen")})) in after

    attempts = sum(
        value(after, "tongban_delivery_attempts_total", region="shenzhen", outcome=outcome)
        for outcome in ("delivered", "unavailable", "error", "rejected")
    )
    assert value(after, "tongban_delivery_attempts_total", region="shenzhen",
                 outcome="delivered") == 1  # fmt: skip
    count = value(after, "tongban_delivery_attempt_duration_seconds_count", region="shenzhen")
    assert count == attempts >= 2

    breaker = {
        labels["state"]: value(after, "tongban_relay_breaker_state", **labels)
        for labels in labelled(after, "tongban_relay_breaker_state")
        if labels["region"] == "shenzhen"
    }
    assert set(breaker) == {"closed", "half_open", "open"}
    assert sum(breaker.values()) == 1

    entries = value(after, "tongban_audit_entries")
    assert entries > value(before, "tongban_audit_entries")
    assert 0 <= value(after, "tongban_audit_checkpoint_lag_entries") <= entries
    assert value(after, "tongban_applications_overdue", region="shenzhen") == 0


async def test_two_apps_in_one_process_keep_their_own_registries(settings: Settings) -> None:
    first, second = create_app(settings), create_app(settings)
    async with (
        TestClient(TestServer(first, host="127.0.0.1")) as one,
        TestClient(TestServer(second, host="127.0.0.1")) as two,
    ):
        await one.get("/healthz")
        await one.get("/healthz")
        await two.get("/healthz")
        samples_one = parse(await (await one.get("/metrics")).text())
        samples_two = parse(await (await two.get("/metrics")).text())
    health = {"method": "GET", "route": "/healthz", "status": "200"}
    assert value(samples_one, "tongban_http_requests_total", **health) == 2
    assert value(samples_two, "tongban_http_requests_total", **health) == 1
