"""A gateway and every region's sandbox on loopback, for end-to-end relay tests.

The sandboxes are the real ones (`tongban sandbox`), started in-process so a test
can change their faults; the gateway is the real app, its relay tuned to retry in
milliseconds instead of minutes. Applications go in over HTTP like a client's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from aiohttp import ClientSession
from aiohttp.test_utils import TestClient, TestServer

from adapters.sandbox import CORE, SandboxCore, SandboxOptions
from gateway.adapters_registry import SANDBOX_GROUP, discover
from gateway.app import create_app
from gateway.config import Settings, load_settings
from support.at_rest import TEST_PASSPHRASE
from support.examples import APPLICATIONS_CATALOGUE, upload_examples
from support.loopback import FAST_RELAY, adapter_urls, free_port
from support.partner_signing import PARTNER, SignedClient, partners_setting


async def wait_until(
    condition: Callable[[], Any], *, seconds: float, what: str = "condition", pause: float = 0.05
) -> None:
    """Until `condition()` (or the coroutine it returns) is true, asking every `pause`
    seconds: the other side's progress raises no event here. Fails after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(pause)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Sandbox:
    region: str
    url: str
    core: SandboxCore

    def set_options(self, **changes: Any) -> None:
        self.core.options = replace(self.core.options, **changes)

    def go_down(self, seconds: float) -> None:
        self.core.down_until = time.monotonic() + seconds

    def cases(self) -> list[dict[str, Any]]:
        listing: list[dict[str, Any]] = self.core.listing()
        return listing


@dataclass
class World:
    gateway: SignedClient
    sandboxes: dict[str, Sandbox] = field(default_factory=dict)

    async def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.gateway.post("/v1/applications", json=body)
        answer: dict[str, Any] = await response.json()
        assert response.status == 202, answer
        return answer

    async def application(self, application_id: str) -> dict[str, Any]:
        response = await self.gateway.get(f"/v1/applications/{application_id}")
        answer: dict[str, Any] = await response.json()
        assert response.status == 200, answer
        return answer

    async def wait_for(
        self, condition: Callable[[], Any], *, seconds: float = 15.0, what: str = "condition"
    ) -> None:
        await wait_until(condition, seconds=seconds, what=what)

    async def status_of(self, application_id: str) -> str:
        return str((await self.application(application_id))["status"])


def world_settings(
    tmp_path: Path, port: int, sandbox_urls: dict[str, str], extra: dict[str, Any] | None = None
) -> Settings:
    adapters: dict[str, Any] = adapter_urls(sandbox_urls)
    adapters["callback_base_url"] = f"http://127.0.0.1:{port}"
    overrides: dict[str, Any] = {
        "data_dir": str(tmp_path / "var"),
        "server": {"port": port},
        "catalog": {"directory": str(APPLICATIONS_CATALOGUE)},
        "applications": {"duplicate_window_minutes": 0},
        "security": {"partners": partners_setting(PARTNER), "key_passphrase": TEST_PASSPHRASE},
        "adapters": adapters,
        "relay": FAST_RELAY,
    }
    return load_settings(environ={}, overrides=merged(overrides, extra or {}))


def merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """`extra` over `base`, table by table, so a region's URL stays beside its secret."""
    result = dict(base)
    for key, value in extra.items():
        old = result.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            result[key] = merged(old, value)
        else:
            result[key] = value
    return result


@asynccontextmanager
async def running_world(
    tmp_path: Path, *, settings: dict[str, Any] | None = None, **sandbox_options: Any
) -> AsyncIterator[World]:
    """Every region's sandbox and a gateway wired to them, all on loopback.

    `settings` are extra gateway settings (merged over the world's own, per section).
    """
    port = free_port()
    async with running_sandboxes(port, **sandbox_options) as sandboxes:
        urls = {r: s.url for r, s in sandboxes.items()}
        app_settings = world_settings(tmp_path, port, urls, settings)
        server = TestServer(create_app(app_settings), host="127.0.0.1", port=port)
        async with TestClient(server) as test_client:
            gateway = SignedClient(test_client, PARTNER)
            await upload_examples(gateway)
            yield World(gateway, sandboxes)


@asynccontextmanager
async def running_sandboxes(
    gateway_port: int, **sandbox_options: Any
) -> AsyncIterator[dict[str, Sandbox]]:
    """Every installed region sandbox on a free loopback port, pushing results to the
    gateway that will listen on `gateway_port`; `sandbox_options` go to each sandbox
    (`SandboxOptions`; a review takes 0.05 s unless ``review_delay`` says otherwise)."""
    servers: list[TestServer] = []
    sandboxes: dict[str, Sandbox] = {}
    try:
        sandbox_options.setdefault("review_delay", 0.05)
        for region, plugin in discover(SANDBOX_GROUP).items():
            options = SandboxOptions(
                callback_url=f"http://127.0.0.1:{gateway_port}/v1/regions/{region}/callbacks",
                **sandbox_options,
            )
            app = plugin.factory(options, {})
            server = TestServer(app, host="127.0.0.1")
            await server.start_server()
            servers.append(server)
            sandboxes[region] = Sandbox(region, str(server.make_url("")).rstrip("/"), app[CORE])
        yield sandboxes
    finally:
        for server in servers:
            await server.close()


async def sandbox_cases(url: str) -> list[dict[str, Any]]:
    """The cases a sandbox holds, over its HTTP listing (for out-of-process sandboxes)."""
    async with ClientSession() as session, session.get(f"{url}/_sandbox/cases") as response:
        body: dict[str, Any] = await response.json()
    cases: list[dict[str, Any]] = body["cases"]
    return cases
