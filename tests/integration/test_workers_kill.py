"""Two gateway processes on one PostgreSQL database, one killed with SIGKILL mid-flow.

`tongban serve --workers 2` runs as a real process: a parent and two workers
sharing the port, each with its relay on, on a fresh database of this test's own.
The regions' sandboxes run in this test's process, so they outlive every kill and
keep the count. A client submits signed applications as a partner's system would
(each with its own Idempotency-Key, retrying with the same key whatever got no
answer); a worker is killed while it holds deliveries mid-call, and its parent
starts another. At the end: each accepted application is stored once and is a
case at the region exactly once, no delivery is left pending or in flight, and
`tongban audit verify` accepts the log both workers appended to.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from structlog.typing import EventDict
from support.at_rest import TEST_PASSPHRASE
from support.examples import APPLICATIONS_CATALOGUE, example, example_files
from support.loopback import free_port
from support.partner_signing import PARTNER
from support.relay_world import Sandbox, running_sandboxes

from gateway.security import RequestSigner

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("store_url", ["postgres"], indirect=True),
]

WORKERS = 2


@dataclass
class KillRun:
    """What a run did, for the assertions and the figures it prints."""

    accepted: dict[str, str] = field(default_factory=dict)  # idempotency key -> application id
    kills: int = 0
    in_flight_at_kill: int = 0  # deliveries the killed worker held mid-call
    retried_requests: int = 0
    unavailable: int = 0  # 503 answers (retried with the same key)
    started: float = field(default_factory=time.monotonic)


def write_config(tmp_path: Path, port: int, store_url: str, sandboxes: dict[str, Sandbox]) -> Path:
    partner = PARTNER.setting()
    (key,) = partner["keys"]
    urls = "\n".join(f'[adapters.{r}]\nurl = "{s.url}"' for r, s in sandboxes.items())
    text = f"""
data_dir = "{tmp_path / "var"}"

[server]
port = {port}
shutdown_timeout = 2.0

[store]
url = "{store_url}"

[catalog]
directory = "{APPLICATIONS_CATALOGUE}"

[applications]
duplicate_window_minutes = 0

[log]
level = "info"

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
name = "kill test partner"
items = ["*"]
rate_limit_per_minute = 1000000
rate_limit_burst = 100000
keys = [{{ keyid = "{key["keyid"]}", public_key = "{key["public_key"]}" }}]
"""
    path = tmp_path / "tongban.toml"
    path.write_text(text, encoding="utf-8")
    return path


class Gateway:
    """`tongban serve --workers 2`: the parent, and its workers as its log names them."""

    def __init__(self, config: Path, port: int, log_path: Path) -> None:
        self.config, self.port, self.log_path = config, port, log_path
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}
        self.env["TONGBAN_SECURITY__KEY_PASSPHRASE"] = TEST_PASSPHRASE
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ready_workers(self) -> dict[int, int]:
        """Worker slot -> pid of its latest process that said it was ready."""
        ready = [e for e in log_events(self.log_path) if e.get("event") == "workers.worker_ready"]
        return {int(e["worker"]): int(e["pid"]) for e in ready}

    def readiness_count(self) -> int:
        return self.log_path.read_text("utf-8").count('"workers.worker_ready"')

    async def until_ready(self, count: int, seconds: float = 60.0) -> None:
        """Until `count` worker starts have been reported ready in all."""
        deadline = time.monotonic() + seconds
        while self.readiness_count() < count:
            assert self.process is not None
            if self.process.returncode is not None or time.monotonic() > deadline:
                raise AssertionError(f"workers not ready: {self.log_path.read_text()[-3000:]}")
            await asyncio.sleep(0.05)

    async def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "gateway.cli", "serve", "--workers", str(WORKERS),
                "--config", str(self.config),
                env=self.env, stdout=log, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
        await self.until_ready(WORKERS)

    async def stop(self) -> int | None:
        """SIGTERM the parent; its exit status (None if it had to be killed)."""
        if self.process is None or self.process.returncode is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(30):
                return await self.process.wait()
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            return None

    def verify_audit(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gateway.cli", "audit", "verify", "--config", str(self.config)],
            env=self.env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip


async def fetch_count(store_url: str, sql: str, *args: Any) -> int:
    conn = await asyncpg.connect(store_url)
    try:
        return int(await conn.fetchval(sql, *args))
    finally:
        await conn.close()


async def dead_letters(store_url: str) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(store_url)
    try:
        rows = await conn.fetch(
            "SELECT kind, destination, state, attempts, last_error, dead_reason_zh"
            " FROM deliveries WHERE state <> 'delivered'"
        )
    finally:
        await conn.close()
    return [dict(row) for row in rows]


async def statuses_behind(store_url: str, cases: list[dict[str, Any]]) -> int:
    """Applications whose status at the gateway is not their case's at the region
    (a region callback the gateway failed to apply)."""
    conn = await asyncpg.connect(store_url)
    try:
        rows = await conn.fetch("SELECT id, status FROM applications")
    finally:
        await conn.close()
    at_region = {case["application_id"]: case["status"] for case in cases}
    return sum(at_region.get(row["id"]) != row["status"] for row in rows)


def log_events(log_path: Path) -> Iterator[dict[str, Any]]:
    """The JSON log events of the parent and its workers (one file, several writers:
    a long line's parts may be written apart, so a line can hold two events)."""
    decoder = json.JSONDecoder()
    for line in log_path.read_text("utf-8").splitlines():
        at = 0
        while at < len(line):
            try:
                event, at = decoder.raw_decode(line, at)
            except ValueError:
                break  # a torn piece: not one of the events counted here
            if isinstance(event, dict):
                yield event
            while at < len(line) and line[at] != "{":
                at += 1


def given_up(logs: list[EventDict]) -> int:
    """Callbacks the region's sandbox gave up on after its retries (all cut or refused)."""
    return sum(event["event"] == "sandbox.push_failed" for event in logs)


def callback_answers(log_path: Path) -> Counter[int]:
    """The gateway's answers to the region's callbacks, by status, from its log."""
    answers: Counter[int] = Counter()
    for event in log_events(log_path):
        if event.get("event") == "http.request" and "/callbacks" in str(event.get("path")):
            answers[int(event["status"])] += 1
    return answers


def lease_owner(pid: int) -> str:
    return f"{socket.gethostname()}:{pid}"  # gateway.relay.service.instance_name


async def until_holding(store_url: str, pid: int, seconds: float = 20.0) -> int:
    """Wait until worker `pid` holds a delivery mid-call; how many it holds (0 on timeout)."""
    sql = "SELECT count(*) FROM deliveries WHERE state = 'in_flight' AND lease_owner = $1"
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        held = await fetch_count(store_url, sql, lease_owner(pid))
        if held:
            return held
        await asyncio.sleep(0.005)
    return 0


async def signed(
    session: aiohttp.ClientSession,
    signer: RequestSigner,
    url: str,
    body: bytes,
    headers: dict[str, str],
) -> tuple[int, dict[str, Any]]:
    headers = {**headers, **signer("POST", url, headers, body)}
    async with session.post(url, data=body, headers=headers) as response:
        return response.status, await response.json(content_type=None)


async def upload_attachments(gateway: Gateway, signer: RequestSigner) -> None:
    async with aiohttp.ClientSession() as session:
        for file in example_files():
            status, answer = await signed(
                session, signer, f"{gateway.url}/v1/attachments", file.content,
                {"Content-Type": file.media_type, "Idempotency-Key": file.name},
            )  # fmt: skip
            assert status in (200, 201), answer


async def submit_all(
    gateway: Gateway, signer: RequestSigner, keys: list[str], run: KillRun
) -> list[str]:
    """Submit each key's application; return the keys that got no answer."""
    body = json.dumps(example(), ensure_ascii=False).encode()
    unanswered: list[str] = []
    limit = asyncio.Semaphore(8)

    async def one(session: aiohttp.ClientSession, key: str) -> None:
        async with limit:
            try:
                status, answer = await signed(
                    session, signer, f"{gateway.url}/v1/applications", body,
                    {"Content-Type": "application/json", "Idempotency-Key": key},
                )  # fmt: skip
            except (TimeoutError, aiohttp.ClientError):
                unanswered.append(key)
                return
            if status == 503:  # transient (a deadlock victim): nothing stored, retry as is
                run.unavailable += 1
                unanswered.append(key)
                return
            assert status in (200, 202), answer
            run.accepted[key] = answer["id"]

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        await asyncio.gather(*(one(session, key) for key in keys))
    return unanswered


async def kill_and_count(
    tmp_path: Path, store_url: str, logs: list[EventDict], *, applications: int, kills: int
) -> KillRun:
    run = KillRun()
    port = free_port()
    signer = RequestSigner(PARTNER.key, PARTNER.keyid)
    # Latency keeps deliveries in flight when a worker dies.
    async with running_sandboxes(port, latency_ms=80.0) as sandboxes:
        shenzhen = sandboxes["shenzhen"]
        config = write_config(tmp_path, port, store_url, sandboxes)
        gateway = Gateway(config, port, tmp_path / "gateway.log")
        try:
            await gateway.start()
            await upload_attachments(gateway, signer)
            keys = [f"kill-{n:05d}" for n in range(applications)]
            chunks = [keys[i :: kills + 1] for i in range(kills + 1)]
            retry: list[str] = []
            for round_no, chunk in enumerate(chunks):
                submitting = asyncio.create_task(submit_all(gateway, signer, retry + chunk, run))
                if round_no < kills:
                    victim = gateway.ready_workers()[0]  # the same slot each time, restarted
                    run.in_flight_at_kill += await until_holding(store_url, victim)
                    os.kill(victim, signal.SIGKILL)
                    run.kills += 1
                    retry = await submitting
                    run.retried_requests += len(retry)
                    await gateway.until_ready(WORKERS + run.kills)  # its parent restarted it
                else:
                    retry = await submitting
            while retry:  # whatever the last kill left unanswered, sent again
                retry = await submit_all(gateway, signer, retry, run)

            async def settled() -> bool:
                held = {case["application_id"] for case in shenzhen.cases()}
                open_ = await fetch_count(
                    store_url,
                    "SELECT count(*) FROM deliveries WHERE state IN ('pending', 'in_flight')",
                )
                if not (set(run.accepted.values()) <= held and open_ == 0):
                    return False
                behind = await statuses_behind(store_url, shenzhen.cases())
                # Every push the region made has landed or been given up: one cut by a
                # kill is retried for a while (adapters.sandbox.Pusher), so wait for it.
                taken = await fetch_count(store_url, "SELECT count(*) FROM region_events")
                history = sum(len(case["history"]) for case in shenzhen.cases())
                return behind <= given_up(logs) and taken + given_up(logs) == history

            deadline = time.monotonic() + 90
            # Polling: the region's cases change in its own handlers, with no event to await.
            while not await settled() and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.2)
        finally:
            status = await gateway.stop()
        cases = shenzhen.cases()
    seconds = time.monotonic() - run.started
    accepted_ids = set(run.accepted.values())
    at_region = [case["application_id"] for case in cases]
    stored = await fetch_count(store_url, "SELECT count(*) FROM applications")
    stored_accepted = await fetch_count(
        store_url, "SELECT count(*) FROM applications WHERE id = ANY($1)", list(accepted_ids)
    )
    stuck = await fetch_count(
        store_url, "SELECT count(*) FROM deliveries WHERE state IN ('pending', 'in_flight')"
    )
    undelivered = await fetch_count(
        store_url, "SELECT count(*) FROM deliveries WHERE state <> 'delivered'"
    )
    behind = await statuses_behind(store_url, cases)
    events_taken = await fetch_count(store_url, "SELECT count(*) FROM region_events")
    answers = callback_answers(gateway.log_path)
    refused = sum(n for status, n in answers.items() if status >= 500)
    lost_pushes = given_up(logs)
    region_history = sum(len(case["history"]) for case in cases)
    verify = gateway.verify_audit()
    audit_entries = await fetch_count(store_url, "SELECT count(*) FROM audit_entries")
    figures = {
        "workers": WORKERS,
        "applications_accepted": len(accepted_ids),
        "kills": run.kills,
        "deliveries_in_flight_at_kill": run.in_flight_at_kill,
        "client_retries_after_kill": run.retried_requests,
        "answers_503": run.unavailable,
        "applications_stored": stored,
        "cases_at_region": len(at_region),
        "duplicates": len(at_region) - len(set(at_region)),
        "lost": len(accepted_ids - set(at_region)),
        "stuck": stuck,
        "undelivered": undelivered,
        "statuses_behind_region": behind,
        "region_events_taken": events_taken,
        "region_history": region_history,
        "callbacks_answered": dict(sorted(answers.items())),
        "callbacks_given_up_by_region": lost_pushes,
        "audit_entries": audit_entries,
        "seconds": round(seconds, 1),
    }
    print("kill run:", json.dumps(figures))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert status == 0, f"the parent did not stop cleanly: {status}"
    assert len(accepted_ids) == applications
    assert stored == stored_accepted == applications  # each acknowledged one, once
    assert sorted(at_region) == sorted(accepted_ids)  # one case each, none extra
    assert stuck == 0
    # Every callback the region made was taken, whichever worker got it, unless the region
    # gave up retrying one cut by a kill: none was refused (a 5xx: a deadlock, a lost race).
    assert refused == 0, answers
    assert events_taken + lost_pushes == region_history
    assert behind <= lost_pushes
    assert undelivered == 0, json.dumps(await dead_letters(store_url), ensure_ascii=False)
    assert gateway.readiness_count() == WORKERS + kills
    assert run.in_flight_at_kill > 0, "no kill hit a delivery in flight: the run proves nothing"
    return run


async def test_kill_9_one_of_two_workers_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, store_url: str, logs: list[EventDict]
) -> None:
    await kill_and_count(tmp_path, store_url, logs, applications=60, kills=1)


@pytest.mark.soak
@pytest.mark.timeout(900)
async def test_soak_kill_9_twice_a_few_hundred_applications(
    tmp_path: Path, store_url: str, logs: list[EventDict]
) -> None:
    await kill_and_count(tmp_path, store_url, logs, applications=400, kills=2)
