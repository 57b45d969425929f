"""/readyz shows, for each region adapter, whether its region answers, and why not.

An unreachable region does not make the gateway unready (deliveries wait in the
outbox), so its check stays ``ok`` while ``region_reachable`` tells the truth.
"""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from support.loopback import adapter_urls, free_port
from support.relay_world import running_sandboxes

from gateway.app import create_app
from gateway.config import Settings

REGIONS = ("shenzhen", "dongguan", "zhangjiagang", "peer")


async def readyz(settings: Settings, region_urls: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """The gateway's /readyz status and body, with each region at the URL given."""
    adapters = settings.adapters.model_copy(update=adapter_urls(region_urls))
    app = create_app(settings.model_copy(update={"adapters": adapters}))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        response = await client.get("/readyz")
        return response.status, await response.json()


async def test_a_region_that_is_not_running_is_unreachable_with_the_reason(
    settings: Settings,
) -> None:
    ports = {region: free_port() for region in REGIONS}  # nothing listens on them
    status, body = await readyz(
        settings, {region: f"http://127.0.0.1:{port}" for region, port in ports.items()}
    )
    assert (status, body["status"]) == (200, "ready")  # the outbox holds their deliveries
    for region, port in ports.items():
        check = body["checks"][f"adapter:{region}"]
        assert check["ok"] is True
        assert check["region_reachable"] is False
        assert check["error"].startswith(f"{region}: ")
        assert f"127.0.0.1:{port}" in check["error"]  # where it looked, so ops can check


async def test_a_running_region_is_reachable(settings: Settings) -> None:
    async with running_sandboxes(gateway_port=free_port()) as sandboxes:
        assert set(sandboxes) == set(REGIONS)
        status, body = await readyz(settings, {r: s.url for r, s in sandboxes.items()})
    assert (status, body["status"]) == (200, "ready")
    for region in REGIONS:
        check = body["checks"][f"adapter:{region}"]
        assert check["ok"] is True
        assert check["region_reachable"] is True, check
        assert "error" not in check


async def test_one_region_down_leaves_the_others_reachable(settings: Settings) -> None:
    async with running_sandboxes(gateway_port=free_port()) as sandboxes:
        urls = {r: s.url for r, s in sandboxes.items()}
        urls["dongguan"] = f"http://127.0.0.1:{free_port()}"
        _, body = await readyz(settings, urls)
    reachable = {r: body["checks"][f"adapter:{r}"]["region_reachable"] for r in REGIONS}
    assert reachable == {r: r != "dongguan" for r in REGIONS}
