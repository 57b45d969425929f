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
import random
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.crash_client import Submissions, submit_through_kills, upload_attachments
from support.loopback import free_port
from support.partner_signing import PARTNER
from support.relay_world import running_sandboxes
from support.serve_process import ServeProcess, crash_config

from gateway.security import RequestSigner


@dataclass
class CrashRun(Submissions):
    """What a run did, for the assertions and the figures it prints."""

    crashes: int = 0
    in_flight_at_crash: int = 0  # deliveries claimed, mid-call, when the process died


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


async def crash_and_count(tmp_path: Path, *, applications: int, crashes: int) -> CrashRun:
    rng = random.Random(20261127)
    run = CrashRun()
    port = free_port()
    signer = RequestSigner(PARTNER.key, PARTNER.keyid)
    # Latency keeps deliveries in flight when the gateway dies.
    async with running_sandboxes(port, latency_ms=80.0) as sandboxes:
        shenzhen = sandboxes["shenzhen"]
        urls = {region: sandbox.url for region, sandbox in sandboxes.items()}
        config = crash_config(tmp_path, port, urls, partner_name="crash test partner")
        gateway = ServeProcess(config, port, tmp_path / "gw.log")
        try:
            await gateway.start()
            await upload_attachments(gateway.url, signer)

            async def crash() -> None:
                # Kill while it is taking applications in and relaying them out: once
                # deliveries are mid-call, at a slightly random moment after that.
                await until_in_flight(tmp_path)
                await asyncio.sleep(rng.uniform(0, 0.03))
                await gateway.kill()
                run.crashes += 1
                run.in_flight_at_crash += in_flight(tmp_path)

            keys = [f"crash-{n:05d}" for n in range(applications)]
            await submit_through_kills(
                gateway.url, signer, keys, run,
                kills=crashes, kill=crash, recover=gateway.start, parallel=4,
            )  # fmt: skip

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
