"""Two Tongban gateways as peers, each a real process (`tongban serve`), on loopback.

Dongguan's gateway takes the application (a partner submits there) and routes
Shenzhen's items to the peer Shenzhen gateway; Shenzhen's gateway delivers them to
the Shenzhen sandbox (run in this test's process, so it outlives either gateway and
keeps the count) and sends its status notices back to Dongguan. Each gateway has its
own key ring (``tongban keys generate``) and finds the other's keys through its
JWKS URL: nothing is pinned.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from support import relay_world
from support.at_rest import tongban_env
from support.examples import APPLICATIONS_CATALOGUE as TEST_CATALOGUE
from support.examples import EXAMPLES, example
from support.loopback import free_port
from support.partner_signing import PARTNER
from support.relay_world import Sandbox, running_sandboxes
from support.serve_process import RELAY_TOML, ServeProcess, partner_toml

from gateway.security import RequestSigner


def gateway_toml(
    home: Path,
    port: int,
    *,
    region: str,
    adapters: dict[str, str],
    peers: dict[str, dict[str, Any]],
    partner: bool,
) -> Path:
    """A gateway's settings file: its own region, its sandboxes, its peers."""
    urls = "".join(f'\n[adapters.{name}]\nurl = "{url}"\n' for name, url in adapters.items())
    regions = ", ".join(f'"{name}"' for name in adapters)
    text = f"""
data_dir = "{home / "var"}"

[server]
port = {port}
shutdown_timeout = 2.0

[catalog]
directory = "{TEST_CATALOGUE}"

[applications]
duplicate_window_minutes = 0

[log]
level = "info"

[audit]
checkpoint_interval_seconds = 0.5

[adapters]
regions = [{regions}]
callback_base_url = "http://127.0.0.1:{port}"
{urls}{RELAY_TOML}
[federation]
region = "{region}"
jwks_refetch_seconds = 0.5
witness_interval_seconds = 0.5
"""
    for peer_id, peer in peers.items():
        routed = ", ".join(f'"{r}"' for r in peer.get("regions", ()))
        text += f"""
[federation.peers.{peer_id}]
base_url = "{peer["base_url"]}"
regions = [{routed}]
"""
    if partner:
        text += partner_toml("federation test partner")
    home.mkdir(parents=True, exist_ok=True)
    path = home / "tongban.toml"
    path.write_text(text, encoding="utf-8")
    return path


def tongban(config: Path, *args: str) -> str:
    """Run one ``tongban`` command against `config`; its standard output."""
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args, "--config", str(config)],
        env=tongban_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def count(home: Path, sql: str, params: tuple[Any, ...] = ()) -> int:
    with closing(sqlite3.connect(home / "var" / "tongban.db")) as db:
        return int(db.execute(sql, params).fetchone()[0])


def rows(home: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(home / "var" / "tongban.db")) as db:
        return list(db.execute(sql, params).fetchall())


@dataclass
class Federation:
    dongguan: ServeProcess
    shenzhen: ServeProcess
    dongguan_home: Path
    shenzhen_home: Path
    sandbox: Sandbox  # Shenzhen's back office
    partner: RequestSigner  # the partner that submits at Dongguan

    async def call(
        self,
        method: str,
        url: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        *,
        signer: RequestSigner | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """A request signed as the partner (or as `signer`); the status and JSON answer."""
        headers = dict(headers or {})
        if body:
            headers.setdefault("Content-Type", "application/json")
        headers.update((signer or self.partner)(method, url, headers, body))
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, url, data=body or None, headers=headers) as response,
        ):
            return response.status, await response.json(content_type=None)

    async def upload_files(self) -> dict[str, str]:
        """The example attachments, uploaded at Dongguan; digest -> SHA-256 of the bytes."""
        digests = {}
        for path in sorted((EXAMPLES / "attachments").iterdir()):
            media_type = "application/pdf" if path.suffix == ".pdf" else "image/jpeg"
            status, answer = await self.call(
                "POST",
                f"{self.dongguan.url}/v1/attachments",
                path.read_bytes(),
                {"Content-Type": media_type, "Idempotency-Key": f"file-{path.name}"},
            )
            assert status in (200, 201), answer
            digests[answer["digest"]] = path.name
        return digests

    async def submit(self, key: str, **changes: Any) -> str:
        body = json.dumps(example(**changes), ensure_ascii=False).encode()
        status, answer = await self.call(
            "POST", f"{self.dongguan.url}/v1/applications", body, {"Idempotency-Key": key}
        )
        assert status == 202, answer
        return str(answer["id"])

    async def status_at_dongguan(self, application_id: str) -> str:
        status, answer = await self.call(
            "GET", f"{self.dongguan.url}/v1/applications/{application_id}"
        )
        assert status == 200, answer
        return str(answer["status"])


async def wait_until(
    condition: Callable[[], Any], *, seconds: float = 30.0, what: str = "condition"
) -> None:
    """`support.relay_world.wait_until`, asking less often: the gateways are processes."""
    await relay_world.wait_until(condition, seconds=seconds, what=what, pause=0.1)


@asynccontextmanager
async def running_federation(tmp_path: Path, **sandbox_options: Any) -> AsyncIterator[Federation]:
    """Dongguan's and Shenzhen's gateways, wired as peers, with Shenzhen's sandbox."""
    dongguan_port, shenzhen_port = free_port(), free_port()
    dongguan_home, shenzhen_home = tmp_path / "dongguan", tmp_path / "shenzhen"
    async with running_sandboxes(shenzhen_port, **sandbox_options) as boxes:
        dongguan_config = gateway_toml(
            dongguan_home,
            dongguan_port,
            region="dongguan",
            adapters={"dongguan": boxes["dongguan"].url},
            peers={
                "shenzhen": {
                    "base_url": f"http://127.0.0.1:{shenzhen_port}",
                    "regions": ["shenzhen"],
                }
            },
            partner=True,
        )
        shenzhen_config = gateway_toml(
            shenzhen_home,
            shenzhen_port,
            region="shenzhen",
            adapters={"shenzhen": boxes["shenzhen"].url},
            peers={"dongguan": {"base_url": f"http://127.0.0.1:{dongguan_port}"}},
            partner=False,
        )
        for config in (dongguan_config, shenzhen_config):
            tongban(config, "keys", "generate")
        dongguan = ServeProcess(dongguan_config, dongguan_port, dongguan_home / "gw.log")
        shenzhen = ServeProcess(shenzhen_config, shenzhen_port, shenzhen_home / "gw.log")
        try:
            await asyncio.gather(dongguan.start(), shenzhen.start())
            yield Federation(
                dongguan,
                shenzhen,
                dongguan_home,
                shenzhen_home,
                boxes["shenzhen"],
                RequestSigner(PARTNER.key, PARTNER.keyid),
            )
        finally:
            await asyncio.gather(dongguan.stop(), shenzhen.stop())
