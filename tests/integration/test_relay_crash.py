"""Kill -9 the gateway while it relays, restart it, and count at the region.

The gateway runs as a real process (`tongban serve`); the regions' sandboxes run in
this test's process, so they outlive every crash and keep the count. A client
submits applications the way a partner's system would: signed, each with its own
Idempotency-Key, and retrying (same key, same body) whatever got no answer
because the gateway died. At the end every accepted application must be a case
at the region exactly once, and no delivery may be left pending.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import sys
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from support.at_rest import TEST_PASSPHRASE
from support.examples import APPLICATIONS_CATALOGUE, example, example_files
from support.loopback import free_port
from support.partner_signing import PARTNER
from support.relay_world import Sandbox, running_sandboxes

from gateway.security import RequestSigner


@dataclass
class CrashRun:
    """What a run did, for the assertions and the figures it prints."""

    accepted: dict[str, str] = field(default_factory=dict)  # idempotency key -> application id
    crashes: int = 0
    in_flight_at_crash: int = 0  # deliveries claimed, mid-call, when the process died
    retried_requests: int = 0
    started: float = field(default_factory=time.monotonic)


def gateway_config(tmp_path: Path, port: int, sandboxes: dict[str, Sandbox]) -> Path:
    partner = PARTNER.setting()
    (key,) = partner["keys"]
    urls = "\n".join(f'[adapters.{r}]\nurl = "{s.url}"' for r, s in sandboxes.items())
    text = f"""
data_dir = "{tmp_path / "var"}"

[server]
port = {port}
shutdown_timeout = 2.0

[catalog]
directory = "{APPLICATIONS_CATALOGUE}"

[applications]
duplicate_window_minutes = 0

[log]
level = "warning"

[adapters]
callback_base_url = "http://127.0.0.1:{port}"
{urls}

[relay]
poll_interval = 0.05
in_call_attempts = 1
lease_seconds = 2.0

[relay.default]
retry_base_seconds = 0.05
retry_max_seconds = 0.3
breaker_failures = 5
breaker_reset_seconds = 0.3

[security.partners.{PARTNER.id}]
name = "crash test partner"
items = ["*"]
rate_limit_per_minute = 1000000
rate_limit_burst = 100000
keys = [{{ keyid = "{key["keyid"]}", public_key = "{key["public_key"]}" }}]
"""
    path = tmp_path / "tongban.toml"
    path.write_text(text, encoding="utf-8")
    return path


class GatewayProcess:
    """`tongban serve` in its own process, killed and restarted at will."""

    def __init__(self, config: Path, port: int, log_path: Path) -> None:
        self.config, self.port, self.log_path = config, port, log_path
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}
        env["TONGBAN_SECURITY__KEY_PASSPHRASE"] = TEST_PASSPHRASE  # keys at rest are encrypted
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                *(sys.executable, "-m", "gateway.cli", "serve", "--config", str(self.config)),
                env=env,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
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
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(15):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


def count(tmp_path: Path, sql: str) -> int:
    """One COUNT(*) from the gateway's database, read while the process may be down."""
    # closing(): sqlite3's own context manager only commits; the connection stays open.
    with closing(sqlite3.connect(tmp_path / "var" / "tongban.db")) as db:
        return int(db.execute(sql).fetchone()[0])


def in_flight(tmp_path: Path) -> int:
    return count(tmp_path, "SELECT COUNT(*) FROM deliveries WHERE state = 'in_flight'")


async def until_in_flight(tmp_path: Path, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while in_flight(tmp_path) == 0:
        if time.monotonic() > deadline:
            raise AssertionError("no delivery went in flight")
        await asyncio.sleep(0.005)


async def signed(
    session: aiohttp.ClientSession,
    signer: RequestSigner,
    method: str,
    url: str,
    body: bytes,
    headers: dict[str, str],
) -> tuple[int, dict[str, Any]]:
    headers = {**headers, **signer(method, url, headers, body)}
    async with session.request(method, url, data=body or None, headers=headers) as response:
        return response.status, await response.json(content_type=None)


async def upload_attachments(gateway: GatewayProcess, signer: RequestSigner) -> None:
    async with aiohttp.ClientSession() as session:
        for file in example_files():
            status, answer = await signed(
                session,
                signer,
                "POST",
                f"{gateway.url}/v1/attachments",
                file.content,
                {"Content-Type": file.media_type, "Idempotency-Key": file.name},
            )
            assert status in (200, 201), answer


async def submit_all(
    gateway: GatewayProcess, signer: RequestSigner, keys: list[str], run: CrashRun
) -> list[str]:
    """Submit each key's application; return the keys that got no answer."""
    body = json.dumps(example(), ensure_ascii=False).encode()
    unanswered: list[str] = []
    limit = asyncio.Semaphore(4)

    async def one(session: aiohttp.ClientSession, key: str) -> None:
        async with limit:
            try:
                status, answer = await signed(
                    session,
                    signer,
                    "POST",
                    f"{gateway.url}/v1/applications",
                    body,
                    {"Content-Type": "application/json", "Idempotency-Key": key},
                )
            except (TimeoutError, aiohttp.ClientError):
                unanswered.append(key)
                return
            assert status in (200, 202), answer
            run.accepted[key] = answer["id"]

    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(one(session, key) for key in keys))
    return unanswered


async def crash_and_count(tmp_path: Path, *, applications: int, crashes: int) -> CrashRun:
    rng = random.Random(20261127)
    run = CrashRun()
    port = free_port()
    signer = RequestSigner(PARTNER.key, PARTNER.keyid)
    # Latency keeps deliveries in flight when the gateway dies.
    async with running_sandboxes(port, latency_ms=80.0) as sandboxes:
        shenzhen = sandboxes["shenzhen"]
        gateway = GatewayProcess(
            gateway_config(tmp_path, port, sandboxes), port, tmp_path / "gw.log"
        )
        try:
            await gateway.start()
            await upload_attachments(gateway, signer)
            keys = [f"crash-{n:05d}" for n in range(applications)]
            chunks = [keys[i :: crashes + 1] for i in range(crashes + 1)]
            retry: list[str] = []
            for round_no, chunk in enumerate(chunks):
                submitting = asyncio.create_task(submit_all(gateway, signer, retry + chunk, run))
                if round_no < crashes:
                    # Kill while it is taking applications in and relaying them out: once
                    # deliveries are mid-call, at a slightly random moment after that.
                    await until_in_flight(tmp_path)
                    await asyncio.sleep(rng.uniform(0, 0.03))
                    await gateway.kill()
                    run.crashes += 1
                    run.in_flight_at_crash += in_flight(tmp_path)
                    retry = await submitting
                    run.retried_requests += len(retry)
                    await gateway.start()
                else:
                    retry = await submitting
            while retry:  # whatever the last crash left unanswered, sent again
                retry = await submit_all(gateway, signer, retry, run)

            def all_there() -> bool:
                held = {case["application_id"] for case in shenzhen.cases()}
                return set(run.accepted.values()) <= held

            deadline = time.monotonic() + 60
            # Polling: the region's cases change in its own handlers, with no event to await.
            while not all_there() and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        finally:
            await gateway.stop()
        cases = shenzhen.cases()
    run_seconds = time.monotonic() - run.started
    accepted_ids = set(run.accepted.values())
    at_region = [case["application_id"] for case in cases]
    duplicates = len(at_region) - len(set(at_region))
    lost = len(accepted_ids - set(at_region))
    stuck = count(
        tmp_path, "SELECT COUNT(*) FROM deliveries WHERE state IN ('pending', 'in_flight')"
    )
    resent = count(tmp_path, "SELECT COUNT(*) FROM deliveries WHERE attempts > 1")
    figures = {
        "applications_accepted": len(accepted_ids),
        "crashes": run.crashes,
        "deliveries_in_flight_at_crash": run.in_flight_at_crash,
        "client_retries_after_crash": run.retried_requests,
        "cases_at_region": len(at_region),
        "cases_submitted_more_than_once": sum(case["times_submitted"] > 1 for case in cases),
        "deliveries_attempted_more_than_once": resent,
        "duplicates": duplicates,
        "lost": lost,
        "stuck": stuck,
        "seconds": round(run_seconds, 1),
    }
    print("crash run:", json.dumps(figures))
    assert len(accepted_ids) == applications
    assert duplicates == 0
    assert lost == 0
    assert set(at_region) == accepted_ids
    assert stuck == 0
    assert run.retried_requests > 0, "no crash hit intake in flight: the run proves nothing"
    assert run.in_flight_at_crash > 0, "no crash hit a delivery in flight: the run proves nothing"
    return run


async def test_kill_9_while_relaying_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    await crash_and_count(tmp_path, applications=60, crashes=2)


@pytest.mark.soak
@pytest.mark.timeout(600)
async def test_soak_kill_9_a_few_hundred_applications(tmp_path: Path) -> None:
    await crash_and_count(tmp_path, applications=400, crashes=4)
