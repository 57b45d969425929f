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
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from structlog.typing import EventDict
from support.crash_client import Submissions, submit_through_kills, upload_attachments
from support.loopback import free_port
from support.partner_signing import PARTNER
from support.relay_world import running_sandboxes
from support.serve_process import ServeProcess, crash_config

from gateway.security import RequestSigner

pytestmark = [
    pytest.mark.whole_system,
    pytest.mark.postgres,
    pytest.mark.parametrize("store_url", ["postgres"], indirect=True),
]

WORKERS = 2


@dataclass
class KillRun(Submissions):
    """What a run did, for the assertions and the figures it prints."""

    kills: int = 0
    in_flight_at_kill: int = 0  # deliveries the killed worker held mid-call


class Gateway(ServeProcess):
    """`tongban serve --workers 2`: the parent, and its workers as its log names them."""

    def __init__(self, config: Path, port: int, log_path: Path) -> None:
        super().__init__(config, port, log_path, "--workers", str(WORKERS))

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

    async def until_up(self) -> None:
        await self.until_ready(WORKERS)

    def verify_audit(self) -> subprocess.CompletedProcess[str]:
        return self.cli("audit", "verify")


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


async def kill_and_count(
    tmp_path: Path, store_url: str, logs: list[EventDict], *, applications: int, kills: int
) -> KillRun:
    run = KillRun()
    port = free_port()
    signer = RequestSigner(PARTNER.key, PARTNER.keyid)
    # Latency keeps deliveries in flight when a worker dies.
    async with running_sandboxes(port, latency_ms=80.0) as sandboxes:
        shenzhen = sandboxes["shenzhen"]
        urls = {region: sandbox.url for region, sandbox in sandboxes.items()}
        config = crash_config(
            tmp_path, port, urls, partner_name="kill test partner", log_level="info",
            store_url=store_url,
        )  # fmt: skip
        gateway = Gateway(config, port, tmp_path / "gateway.log")
        try:
            await gateway.start()
            await upload_attachments(gateway.url, signer)

            async def kill_a_worker() -> None:
                victim = gateway.ready_workers()[0]  # the same slot each time, restarted
                run.in_flight_at_kill += await until_holding(store_url, victim)
                os.kill(victim, signal.SIGKILL)
                run.kills += 1

            async def restarted() -> None:
                await gateway.until_ready(WORKERS + run.kills)  # its parent restarted it

            keys = [f"kill-{n:05d}" for n in range(applications)]
            # A 503 is transient (a deadlock victim): nothing was stored, retried as is.
            await submit_through_kills(
                gateway.url, signer, keys, run, kills=kills, kill=kill_a_worker,
                recover=restarted, parallel=8, retry_unavailable=True,
            )  # fmt: skip

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
            status = await gateway.stop(seconds=30)
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
