"""Browser tests: Debian's Chromium driven by Playwright, against a real gateway and sandboxes.

The browser is the system's (``chromium`` on PATH, installed by ``.ci/run``);
Playwright never downloads one. Without it the tests skip, or fail when ``CI`` is
set. The gateway runs on the real catalogue with every region's sandbox on
loopback, its relay retrying in milliseconds; the console accounts are made in
its store. Each test leaves screenshots in its tmp dir (``shot``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, async_playwright
from support.console import ConsoleWorld, Shot, add_account
from support.loopback import FAST_RELAY, adapter_urls, free_port
from support.relay_world import running_sandboxes

from gateway.app import create_app
from gateway.app_keys import STORE
from gateway.config import load_settings
from gateway.security.keys import KeyStore
from gateway.staff.accounts import Role

REPO = Path(__file__).resolve().parents[2]
CATALOGS = REPO / "catalogs"
PASSPHRASE = "e2e passphrase"  # noqa: S105 - a throwaway key ring in tmp_path
VIEWPORT = {"width": 1366, "height": 768}


@pytest.fixture
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ConsoleWorld]:
    """Gateway (real catalogue, signed receipts) + every sandbox; accounts clerk, ops and
    a supervisor (boss). Parametrized indirectly, a dict of retry policy settings for
    every region (e.g. ``{"retry_max_attempts": 3}`` to make dead letters quickly)."""
    default: dict[str, Any] = dict(FAST_RELAY["default"])  # type: ignore[call-overload]
    relay = {**FAST_RELAY, "default": {**default, **getattr(request, "param", {})}}
    port = free_port()
    async with AsyncExitStack() as stack:
        sandboxes = await stack.enter_async_context(running_sandboxes(port, review_delay=2.0))
        cores = {region: sandbox.core for region, sandbox in sandboxes.items()}
        adapters: dict[str, Any] = adapter_urls({r: s.url for r, s in sandboxes.items()})
        adapters["callback_base_url"] = f"http://127.0.0.1:{port}"
        settings = load_settings(
            environ={},
            overrides={
                "data_dir": str(tmp_path / "var"),
                "server": {"port": port},
                "catalog": {"directory": str(CATALOGS)},
                "applications": {"duplicate_window_minutes": 0},
                "security": {"key_passphrase": PASSPHRASE},
                "adapters": adapters,
                "relay": relay,
            },
        )
        KeyStore(settings.data_dir / "keys", PASSPHRASE).generate()
        server = TestServer(create_app(settings), host="127.0.0.1", port=port)
        await server.start_server()
        stack.push_async_callback(server.close)
        await add_account(server.app[STORE], "clerk")
        await add_account(server.app[STORE], "opsuser", Role.OPS)
        await add_account(server.app[STORE], "boss", Role.SUPERVISOR)
        yield ConsoleWorld(f"http://127.0.0.1:{port}", server, cores)


def _chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        message = "Debian's chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = _chromium()
    # Root (CI containers) cannot use Chromium's user-namespace sandbox.
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=args
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh browser context at the hall PC's 1366×768, in Chinese, Beijing time."""
    context = await browser.new_context(
        viewport=VIEWPORT,  # type: ignore[arg-type]
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        accept_downloads=False,
    )
    opened = await context.new_page()
    try:
        yield opened
    finally:
        await context.close()


@pytest.fixture
def shot(tmp_path: Path) -> Shot:
    """Saves a full-page screenshot under the test's tmp dir and returns its path."""

    async def take(page: Page, name: str) -> Path:
        path = tmp_path / "screenshots" / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(path), full_page=True)
        return path

    return take
