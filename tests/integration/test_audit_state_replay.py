"""``audit verify`` replays the audited transitions against every stored application;
``trace`` warns when the two disagree.

Real applications go through the gateway, the relay and a region's sandbox to
准予 (approved); then an attacker with database access changes a row directly,
around the gateway, as any SQL client can. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.audit_attacks import settings_of, tongban, write_config
from support.examples import example
from support.relay_world import running_world

from gateway.store import open_store

OPS_TOKEN = "ops-secret-for-tests"  # noqa: S105 - a test fixture's token


@dataclass
class Approved:
    config: Path
    tampered: str  # the application the tests change
    untouched: str


@pytest.fixture
async def approved(tmp_path: Path, store_url: str) -> Approved:
    """Two applications approved by the region, the gateway stopped after."""
    overrides = {"store": {"url": store_url}, "ops": {"token": OPS_TOKEN}}
    async with running_world(tmp_path, settings=overrides) as world:
        ids = [(await world.submit(example()))["id"] for _ in range(2)]

        async def both_approved() -> bool:
            return all([await world.status_of(i) == "approved" for i in ids])

        await world.wait_for(both_approved, what="both applications approved")
    return Approved(write_config(tmp_path, store_url), ids[0], ids[1])


async def change(config: Path, sql: str, application_id: str) -> None:
    """Run one statement around the gateway, as an attacker with database access would."""
    store = await open_store(settings_of(config))
    try:
        async with store.transaction() as conn:
            assert await conn.execute(sql, {"id": application_id}) == 1
    finally:
        await store.aclose()


async def cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = await asyncio.to_thread(tongban, *args, env=env)
    return result.exit_code, result.output


async def test_an_untouched_gateway_agrees_with_its_audit_log(approved: Approved) -> None:
    code, output = await cli("audit", "verify", "--config", str(approved.config))
    assert code == 0, output
    assert "replayed the audited transitions of 2 applications: 0 disagree" in output
    code, output = await cli("trace", approved.tampered, "--config", str(approved.config))
    assert code == 0, output
    assert "WARNING" not in output


async def test_a_status_changed_in_sql_is_named_by_verify_and_trace(approved: Approved) -> None:
    sql = "UPDATE applications SET status = 'denied' WHERE id = :id"
    await change(approved.config, sql, approved.tampered)

    code, output = await cli("audit", "verify", "--config", str(approved.config))
    assert code == 1, output
    assert "OK" not in output
    assert (
        f"STORED STATE DISAGREES: application {approved.tampered} is stored as denied, "
        "but its audit log ends in approved"
    ) in output
    assert approved.untouched not in output
    code, output = await cli("audit", "verify", "--config", str(approved.config), "--json")
    assert code == 1, output
    assert '"field": "status"' in output

    code, output = await cli("trace", approved.tampered, "--config", str(approved.config))
    assert code == 0, output
    assert "WARNING: the stored state disagrees with the audit log" in output
    assert f"application {approved.tampered} is stored as denied" in output
    code, output = await cli("trace", approved.untouched, "--config", str(approved.config))
    assert "WARNING" not in output


async def test_a_case_number_or_delivery_changed_in_sql_is_named(approved: Approved) -> None:
    await change(
        approved.config,
        "UPDATE applications SET region_case_no = 'SZ-FORGED-1' WHERE id = :id",
        approved.tampered,
    )
    await change(
        approved.config,
        "UPDATE deliveries SET state = 'failed' WHERE application_id = :id AND kind = 'submission'",
        approved.untouched,
    )
    code, output = await cli("audit", "verify", "--config", str(approved.config))
    assert code == 1, output
    assert (
        f"application {approved.tampered} has a region case number the audit log never recorded"
    ) in output
    assert f"application {approved.untouched}: delivery" in output
    assert "is stored as failed, but the audit log says delivered" in output
    assert "SZ-FORGED-1" not in output  # case numbers are compared as digests, not shown

    # Without the passphrase the digests cannot be computed: said, not silently skipped.
    code, output = await cli(
        "audit",
        "verify",
        "--config",
        str(approved.config),
        env={"TONGBAN_SECURITY__KEY_PASSPHRASE": ""},
    )
    assert code == 1, output  # the delivery is still named
    assert "region case numbers not compared" in output
    assert "never recorded" not in output
