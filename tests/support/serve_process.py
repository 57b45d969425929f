"""`tongban serve` as an asyncio subprocess, for tests that kill it and start it again.

Which gateway helper to use:

- `support.gateway_server.GatewayTestServer`: the app built in the test's own process
  and served with the gateway's connection rules. Most API tests.
- `support.ops_gateway.GatewayProcess`: `tongban serve` in a process of its own, on a
  config it writes for you, driven from synchronous code with ``tongban`` commands
  beside it (operations tests: backup, purge, key reload).
- `ServeProcess` (here): `tongban serve` on a config file the test wrote, driven from
  async code next to sandboxes in the test's process: killed with SIGKILL mid-flow
  and started again (crash tests), or several at once (federation).

`crash_config` writes the config file of a crash test; `RELAY_TOML` and `partner_toml`
are pieces of it that other config files share.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import aiohttp

from support.at_rest import tongban_env
from support.examples import APPLICATIONS_CATALOGUE
from support.partner_signing import PARTNER, TestPartner

RELAY_TOML = """
[relay]
poll_interval = 0.05
in_call_attempts = 1
lease_seconds = 2.0

[relay.default]
retry_base_seconds = 0.05
retry_max_seconds = 0.3
breaker_failures = 5
breaker_reset_seconds = 0.3
"""
"""Relay timings for a crash test: polls and retries in tens of milliseconds, leases
that expire soon after a kill."""


def partner_toml(name: str, partner: TestPartner = PARTNER) -> str:
    """The ``[security.partners.<id>]`` table for `partner`: every item, no rate limit
    that a test's bursts would reach."""
    (key,) = partner.setting()["keys"]
    return f"""
[security.partners.{partner.id}]
name = "{name}"
items = ["*"]
rate_limit_per_minute = 1000000
rate_limit_burst = 100000
keys = [{{ keyid = "{key["keyid"]}", public_key = "{key["public_key"]}" }}]
"""


def crash_config(
    tmp_path: Path,
    port: int,
    sandbox_urls: Mapping[str, str],
    *,
    partner_name: str,
    log_level: str = "warning",
    store_url: str | None = None,
) -> Path:
    """``tmp_path/tongban.toml`` for a gateway on `port` that relays to the regions'
    sandboxes at `sandbox_urls` with `RELAY_TOML`'s timings and takes the test partner's
    applications; on SQLite in ``tmp_path/var`` unless `store_url` names a database."""
    urls = "\n".join(f'[adapters.{r}]\nurl = "{url}"' for r, url in sandbox_urls.items())
    store = f'\n[store]\nurl = "{store_url}"\n' if store_url else ""
    text = f"""
data_dir = "{tmp_path / "var"}"

[server]
port = {port}
shutdown_timeout = 2.0
{store}
[catalog]
directory = "{APPLICATIONS_CATALOGUE}"

[applications]
duplicate_window_minutes = 0

[log]
level = "{log_level}"

[adapters]
callback_base_url = "http://127.0.0.1:{port}"
{urls}
{RELAY_TOML}{partner_toml(partner_name)}"""
    path = tmp_path / "tongban.toml"
    path.write_text(text, encoding="utf-8")
    return path


class ServeProcess:
    """`tongban serve [options] --config <config>` in its own process, its output
    appended to `log_path`; `start` returns once it answers ``/healthz``."""

    def __init__(self, config: Path, port: int, log_path: Path, *options: str) -> None:
        self.config, self.port, self.log_path = config, port, log_path
        self.options = options
        self.env = tongban_env()
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "gateway.cli", "serve", *self.options,
                "--config", str(self.config),
                env=self.env, stdout=log, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
        await self.until_up()

    async def until_up(self) -> None:
        """Until the process answers ``/healthz`` (30 s at most)."""
        assert self.process is not None
        deadline = time.monotonic() + 30
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.process.returncode is not None:
                    raise AssertionError(f"gateway exited: {self.log_path.read_text()[-2000:]}")
                try:
                    async with session.get(f"{self.url}/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError("gateway did not start")

    async def kill(self) -> None:
        """SIGKILL: no shutdown, whatever it held mid-call stays as it was."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self, seconds: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL after `seconds`; the exit status (None if it had to be
        killed or never started)."""
        if self.process is None or self.process.returncode is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(seconds):
                return await self.process.wait()
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            return None

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``tongban ARGS --config <this config>`` with the same environment."""
        return subprocess.run(
            [sys.executable, "-m", "gateway.cli", *args, "--config", str(self.config)],
            env=self.env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
