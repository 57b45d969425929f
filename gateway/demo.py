"""The regional sandboxes for `tongban demo`, run beside the gateway.

`start_demo_sandboxes` starts every region's sandbox in-process, in a thread with
its own event loop, on free loopback ports, pushing results to the gateway's
callback URLs; it returns the settings that point the adapters at them. The
gateway's own start-up is untouched.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from adapters.sandbox import SandboxOptions
from gateway.adapters_registry import SANDBOX_GROUP, discover
from gateway.config import AdaptersSettings


@dataclass
class DemoSandboxes:
    """Running sandboxes: their URLs by region, and how to stop them."""

    urls: dict[str, str] = field(default_factory=dict)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _runners: list[web.AppRunner] = field(default_factory=list)

    def settings_overrides(self) -> dict[str, Any]:
        """``adapters`` overrides that point each region at its sandbox (``url``)."""
        return {region: {"url": url} for region, url in self.urls.items()}

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._cleanup(), self._loop)
        future.result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    async def _cleanup(self) -> None:
        for runner in self._runners:
            await runner.cleanup()


def start_demo_sandboxes(
    settings: AdaptersSettings,
    gateway_url: str,
    *,
    review_delay: float = 3.0,
    regions: Mapping[str, Any] | None = None,
) -> DemoSandboxes:
    """Start a sandbox for each required region that ships one; returns their URLs."""
    factories = discover(SANDBOX_GROUP) if regions is None else dict(regions)
    sandboxes = DemoSandboxes()
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        ready.set()
        loop.run_forever()
        loop.close()

    thread = threading.Thread(target=run, name="tongban-sandboxes", daemon=True)
    thread.start()
    ready.wait()
    sandboxes._loop, sandboxes._thread = loop, thread

    async def start(region: str, factory: Any) -> None:
        options = SandboxOptions(
            review_delay=review_delay,
            callback_url=f"{gateway_url.rstrip('/')}/v1/regions/{region}/callbacks",
        )
        runner = web.AppRunner(factory(options, settings.region_table(region)), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        sandboxes._runners.append(runner)
        host, port = runner.addresses[0][:2]
        sandboxes.urls[region] = f"http://{host}:{port}"

    async def start_all() -> None:
        regions = settings.regions if settings.regions is not None else sorted(factories)
        for region in regions:
            plugin = factories.get(region)
            if plugin is not None:
                await start(region, getattr(plugin, "factory", plugin))

    asyncio.run_coroutine_threadsafe(start_all(), loop).result(timeout=30)
    return sandboxes
