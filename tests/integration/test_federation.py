"""Federation end to end: two real gateway processes as peers (issue 16).

Each test reads what each side stored (its SQLite database), what Shenzhen's
sandbox holds, and what Dongguan's partner API answers.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from federation_world import Federation, count, rows, running_federation, tongban, wait_until
from support.audit_attacks import ENV, rewrite_and_resign
from support.audit_attacks import tongban as audit_cli_run
from support.examples import example

from gateway.config import load_settings
from gateway.security import RequestSigner, thumbprint
from gateway.security.receipts import verify_receipt

# Two gateway processes start (and restart) per test: generous on a loaded machine.
pytestmark = [pytest.mark.timeout(300), pytest.mark.whole_system]


async def test_an_application_for_a_shenzhen_item_goes_through_the_peer_and_approval_comes_back(
    tmp_path: Path,
) -> None:
    async with running_federation(tmp_path) as world:
        files = await world.upload_files()
        started = time.monotonic()
        application_id = await world.submit("fed-1")

        async def approved() -> bool:
            return await world.status_at_dongguan(application_id) == "approved"

        await wait_until(approved, what="准予 at Dongguan")
        seconds_to_approval = time.monotonic() - started
        cases = world.sandbox.cases()
        await _check_one_case_and_every_hop(world, application_id, files)
        hops = count(world.dongguan_home, "SELECT COUNT(*) FROM delivery_attempts") + count(
            world.shenzhen_home, "SELECT COUNT(*) FROM delivery_attempts"
        )
        print(
            "federation run:",
            json.dumps(
                {
                    "applications": 1,
                    "cases_at_shenzhen_sandbox": len(cases),
                    "delivery_attempts_both_gateways": hops,
                    "seconds_to_approved_at_dongguan": round(seconds_to_approval, 2),
                }
            ),
        )


async def _check_one_case_and_every_hop(
    world: Federation, application_id: str, files: dict[str, str]
) -> None:
    cases = world.sandbox.cases()
    assert len(cases) == 1, cases
    (shenzhen_app,) = rows(world.shenzhen_home, "SELECT id, submitted_by FROM applications")
    # Shenzhen took it from Dongguan's gateway as a partner, authenticated by signature.
    assert shenzhen_app[1] == "partner:dongguan"
    assert cases[0]["application_id"] == shenzhen_app[0]
    # Dongguan keeps Shenzhen's case number and its signed receipt with the delivery.
    ((case_no, receipt_text),) = rows(
        world.dongguan_home,
        "SELECT region_case_no, hand_over_receipt FROM deliveries "
        "WHERE application_id = ? AND kind = 'submission'",
        (application_id,),
    )
    assert case_no == shenzhen_app[0]
    # One trace spans both gateways (traceparent on every hop).
    trace_ids = [
        rows(home, "SELECT trace_id FROM applications WHERE id = ?", (app_id,))[0][0]
        for home, app_id in (
            (world.dongguan_home, application_id),
            (world.shenzhen_home, shenzhen_app[0]),
        )
    ]
    assert trace_ids[0]
    assert trace_ids[0] == trace_ids[1]
    # ...which verifies with the keys Shenzhen publishes, and names Shenzhen's application.
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{world.shenzhen.url}/.well-known/tongban/keys") as response,
    ):
        jwks = await response.json(content_type=None)
    receipt = verify_receipt(json.loads(receipt_text), jwks)
    assert shenzhen_app[0] in json.dumps(receipt), receipt
    # The application's files (only those) arrived with the SHA-256 the partner sent.
    named = {d for m in example()["materials"] for d in m.get("attachments", ())}
    assert named
    assert named <= set(files)
    arrived = {row[0] for row in rows(world.shenzhen_home, "SELECT digest FROM attachments")}
    assert arrived == named
    for digest in named:
        stored = world.shenzhen_home / "var" / "attachments" / digest[:2] / digest[2:4] / digest
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == digest
    # Every status notice Shenzhen sent was accepted by Dongguan (verified, applied).
    outcomes = [
        row[0]
        for row in rows(
            world.dongguan_home, "SELECT outcome FROM region_events WHERE region = 'shenzhen'"
        )
    ]
    assert outcomes
    assert "unknown_case" not in outcomes, outcomes
    log = world.dongguan.log_path.read_text(encoding="utf-8")
    assert "region.callback_refused" not in log
    assert "adapter.peer.receipt_" not in log  # Dongguan verified Shenzhen's receipt itself
    assert "security.partner_refused" not in world.shenzhen.log_path.read_text(encoding="utf-8")


async def test_a_gateway_that_is_not_a_peer_is_refused_both_ways(tmp_path: Path) -> None:
    async with running_federation(tmp_path) as world:
        key = Ed25519PrivateKey.generate()
        stranger = RequestSigner(key, thumbprint(key.public_key()))
        for gateway in (world.dongguan, world.shenzhen):
            url = f"{gateway.url}/v1/applications"
            status, problem = await world.call(
                "POST", url, b"{}", {"Idempotency-Key": "x-1"}, signer=stranger
            )
            assert status == 401, problem
            assert problem["check"] == "key_unknown"
        # A status notice signed by a stranger is refused at Dongguan's peer callback.
        url = f"{world.dongguan.url}/v1/regions/shenzhen/callbacks"
        body = json.dumps({"notice_id": "n", "application_id": "x", "status": "approved"}).encode()
        status, problem = await world.call(
            "POST", url, body, {"Idempotency-Key": "n"}, signer=stranger
        )
        assert status == 401, problem


def _pending(home: Path) -> int:
    return count(home, "SELECT COUNT(*) FROM deliveries WHERE state IN ('pending', 'in_flight')")


async def _all_approved(world: Federation, ids: list[str]) -> None:
    async def done() -> bool:
        for application_id in ids:
            if await world.status_at_dongguan(application_id) != "approved":
                return False
        return True

    await wait_until(done, seconds=150, what="every application 准予 at Dongguan")
    await wait_until(
        lambda: _pending(world.dongguan_home) == 0 and _pending(world.shenzhen_home) == 0,
        what="no delivery left pending on either side",
    )


def _cases_once(world: Federation, count_expected: int) -> None:
    at_sandbox = [case["application_id"] for case in world.sandbox.cases()]
    assert len(at_sandbox) == count_expected, at_sandbox
    # One case per application; a delivery cut by a kill is sent again under its key
    # (`times_submitted` > 1), and the region keeps it as the same case.
    assert len(set(at_sandbox)) == count_expected, "an application became two cases"


async def test_the_relay_holds_while_the_peer_is_down_and_delivers_once_when_it_is_back(
    tmp_path: Path,
) -> None:
    async with running_federation(tmp_path) as world:
        await world.upload_files()
        await world.shenzhen.stop()
        application_id = await world.submit("fed-down-1")
        await wait_until(
            lambda: count(world.dongguan_home, "SELECT COUNT(*) FROM delivery_attempts") >= 2,
            what="Dongguan trying the peer while it is down",
        )
        assert await world.status_at_dongguan(application_id) == "received"
        await world.shenzhen.start()
        await _all_approved(world, [application_id])
        _cases_once(world, 1)


async def kill_both_mid_flow(tmp_path: Path, *, applications: int, rounds: int) -> None:
    """Each round: submit, kill -9 Dongguan, restart, kill -9 Shenzhen once it holds a
    case, restart. Then every application is 准予 at Dongguan, once at the sandbox."""
    # Latency at the sandbox keeps deliveries in flight when a gateway dies.
    async with running_federation(tmp_path, latency_ms=60.0) as world:
        await world.upload_files()
        ids: list[str] = []
        per_round = max(1, applications // rounds)
        in_flight_at_kill = 0
        for round_no in range(rounds):
            ids += [await world.submit(f"fed-kill-{round_no}-{n}") for n in range(per_round)]
            in_flight_at_kill += _in_flight(world.dongguan_home)
            await world.dongguan.kill()
            await world.dongguan.start()
            before = round_no * per_round
            await wait_until(lambda: len(world.sandbox.cases()) > before, what="a case")  # noqa: B023 - awaited at once
            in_flight_at_kill += _in_flight(world.shenzhen_home)
            await world.shenzhen.kill()
            await world.shenzhen.start()
        started = time.monotonic()
        await _all_approved(world, ids)
        _cases_once(world, len(ids))
        print(
            "federation kill run:",
            json.dumps(
                {
                    "applications": len(ids),
                    "kills": 2 * rounds,
                    "deliveries_in_flight_at_kills": in_flight_at_kill,
                    "seconds_to_all_approved_after_last_restart": round(
                        time.monotonic() - started, 2
                    ),
                }
            ),
        )


def _in_flight(home: Path) -> int:
    return count(home, "SELECT COUNT(*) FROM deliveries WHERE state = 'in_flight'")


async def test_kill_9_of_either_gateway_mid_flow_loses_and_duplicates_nothing(
    tmp_path: Path,
) -> None:
    await kill_both_mid_flow(tmp_path, applications=4, rounds=1)


@pytest.mark.soak
@pytest.mark.timeout(900)
async def test_soak_kill_9_both_gateways_over_many_applications(tmp_path: Path) -> None:
    await kill_both_mid_flow(tmp_path, applications=60, rounds=4)


async def test_dongguan_rotates_its_key_and_shenzhen_accepts_it_without_a_restart(
    tmp_path: Path,
) -> None:
    async with running_federation(tmp_path) as world:
        await world.upload_files()
        first = await world.submit("fed-rotate-1")
        await _all_approved(world, [first])
        tongban(world.dongguan.config, "keys", "rotate")
        await world.dongguan.stop()  # a rotation takes effect at the (rolling) restart
        await world.dongguan.start()
        second = await world.submit("fed-rotate-2")
        await _all_approved(world, [first, second])
        _cases_once(world, 2)
        shenzhen_log = world.shenzhen.log_path.read_text(encoding="utf-8")
        assert "federation.peer_key_found" in shenzhen_log
        assert "security.partner_refused" not in shenzhen_log


async def test_a_rewritten_peer_log_is_reported_by_the_witness_and_fails_trusted_verify(
    tmp_path: Path,
) -> None:
    async with running_federation(tmp_path) as world:
        await world.upload_files()
        await _all_approved(world, [await world.submit("fed-witness-1")])
        witness_url = f"{world.dongguan.url}/v1/audit/witness?peer=shenzhen"

        async def witnessed_size() -> int:
            async with aiohttp.ClientSession() as session, session.get(witness_url) as response:
                if response.status != 200:
                    return 0
                return int((await response.json())["tree_size"])

        await wait_until(lambda: _at_least(witnessed_size, 5), what="Dongguan witnessing")
        kept = await witnessed_size()
        # Shenzhen's operator rewrites an early entry and re-signs every checkpoint with
        # Shenzhen's own checkpoint key: Shenzhen's own checks cannot see it.
        await world.shenzhen.stop()
        shenzhen = load_settings(world.shenzhen.config, environ=ENV)
        await rewrite_and_resign(shenzhen, seq=2, data='{"rewritten":true}')
        assert tongban(world.shenzhen.config, "audit", "verify") is not None  # passes alone
        await world.shenzhen.start()

        async def reported() -> bool:
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"{world.dongguan.url}/readyz") as response,
            ):
                report = await response.json()
            return "shenzhen" in report["checks"]["witness"]["inconsistent"]

        await wait_until(reported, what="the witness reporting Shenzhen")
        log = world.dongguan.log_path.read_text(encoding="utf-8")
        (line,) = [x for x in log.splitlines() if "federation.witness_inconsistent" in x]
        assert "error" in line
        assert f"size {kept} root" in line  # the checkpoint kept, and the one seen
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{world.dongguan.url}/metrics") as response,
        ):
            assert 'tongban_witness_inconsistent{peer="shenzhen"} 1.0' in await response.text()
        # Shenzhen's log, checked against the checkpoint Dongguan cosigned, fails.
        code, output = await asyncio.to_thread(_verify_trusted, world.shenzhen.config, witness_url)
        assert code == 1, output
        assert "TRUSTED CHECKPOINT FAILS (rewritten)" in output
        assert f"entries before {kept} were changed" in output


async def _at_least(size: Callable[[], Awaitable[int]], minimum: int) -> bool:
    return await size() >= minimum


def _verify_trusted(config: Path, url: str) -> tuple[int, str]:
    result = audit_cli_run("audit", "verify", "--config", str(config), "--trusted", url)
    return result.exit_code, result.output
