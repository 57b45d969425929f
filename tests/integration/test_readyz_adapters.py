"""/readyz lists every region adapter; an unreachable region does not make us unready."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.sandbox import SandboxOptions
from adapters.shenzhen import create_sandbox
from gateway.app import create_app
from gateway.config import Settings


async def test_readyz_shows_each_region(client: TestClient[web.Request, web.Application]) -> None:
    response = await client.get("/readyz")
    body = await response.json()
    assert response.status == 200
    for region in ("shenzhen", "dongguan", "zhangjiagang", "peer"):
        assert body["checks"][f"adapter:{region}"]["ok"] is True


async def test_readyz_shows_a_running_region_as_reachable(settings: Settings) -> None:
    sandbox = TestServer(
        create_sandbox(SandboxOptions(), settings.adapters.region_table("shenzhen")),
        host="127.0.0.1",
    )
    await sandbox.start_server()
    try:
        adapters = settings.adapters.model_copy(
            update={
                "shenzhen": {"url": str(sandbox.make_url("")).rstrip("/")},
                "dongguan": {"url": "http://127.0.0.1:9"},  # nothing listens on the discard port
                "health_timeout": 0.5,
            }
        )
        app = create_app(settings.model_copy(update={"adapters": adapters}))
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            checks = (await (await client.get("/readyz")).json())["checks"]
    finally:
        await sandbox.close()
    assert checks["adapter:shenzhen"]["region_reachable"] is True
    assert checks["adapter:dongguan"]["region_reachable"] is False
