"""Retention: a real gateway purges closed cases' personal data on its schedule.

Cases for Shenzhen go to its sandbox, which decides them at once (the case closes);
retention is 0 days, so the scheduled job purges them. A Dongguan case, whose region
is unreachable, stays open and keeps its data: the control that shows the byte
search finds what is there. Then no name, ID number, masked value, blind-index
token or ciphertext of a purged case is left in the database file or its WAL, nor
its attachment files; the audit log verifies and records each purge.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from support.examples import EXAMPLES, example
from support.loopback import FAST_RELAY, free_port
from support.ops_gateway import GatewayProcess, application, resident_id
from support.relay_world import running_sandboxes

from gateway.applications.attachments import AttachmentStore

PURGED_NAMES = ("清除甲", "清除乙", "清除丙")


def _rows(database: Path, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
    conn = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        return list(conn.execute(sql, params))
    finally:
        conn.close()


def _raw(database: Path) -> bytes:
    wal = database.with_name(database.name + "-wal")
    return database.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


async def _upload(gateway: GatewayProcess, session: aiohttp.ClientSession, data: bytes) -> str:
    status, answer = await gateway.signed(
        session, "POST", "/v1/attachments", data, "application/pdf"
    )
    assert status in (200, 201), answer
    return str(answer["digest"])


async def _submit_all(gateway: GatewayProcess) -> tuple[list[dict[str, Any]], str]:
    pdf = (EXAMPLES / "attachments" / "id_card.pdf").read_bytes()
    purged: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as session:
        await gateway.upload_examples(session)
        for n, name in enumerate(PURGED_NAMES):
            body = application(9000 + n)
            body["applicant"]["name"] = body["delivery"]["recipient"] = name
            # Each applicant's own ID card scan: its file must go with the case.
            digest = await _upload(gateway, session, pdf + f"\n% {name}\n".encode())
            body["materials"][0]["attachments"] = [digest]
            raw = json.dumps(body, ensure_ascii=False).encode()
            status, answer = await gateway.signed(
                session, "POST", "/v1/applications", raw, "application/json"
            )
            assert status == 202, answer
            purged.append({"id": answer["id"], "body": body, "digest": digest})
        kept = example("full_online_enterprise")
        raw = json.dumps(kept, ensure_ascii=False).encode()
        status, answer = await gateway.signed(
            session, "POST", "/v1/applications", raw, "application/json"
        )
        assert status == 202, answer
    return purged, str(answer["id"])


async def _raw_once_free_of(database: Path, secrets: list[bytes], seconds: float = 15.0) -> bytes:
    """The database file and its WAL, once none of `secrets` is in them (or at the
    deadline, as they are then: the caller's assertions name what is left)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        raw = _raw(database)
        if not any(secret in raw for secret in secrets):
            return raw
        if asyncio.get_running_loop().time() > deadline:
            return raw
        await asyncio.sleep(0.1)


async def _wait_purged(database: Path, ids: list[str], gateway: GatewayProcess) -> None:
    marks = ",".join("?" * len(ids))
    for _ in range(600):
        rows = _rows(
            database,
            f"SELECT COUNT(*) AS n FROM applications WHERE personal_purged_at IS NOT NULL "  # noqa: S608 - placeholders
            f"AND id IN ({marks})",
            tuple(ids),
        )
        if rows[0]["n"] == len(ids):
            return
        await asyncio.sleep(0.1)
    states = _rows(database, "SELECT id, status FROM applications")
    seen = [dict(r) for r in states]
    raise AssertionError(f"not purged: {seen}; {gateway.log.read_text()[-2000:]}")


@pytest.mark.timeout(180)
async def test_scheduled_purge_leaves_no_personal_data_and_the_audit_log_verifies(
    tmp_path: Path,
) -> None:
    port = free_port()
    before: dict[str, dict[str, Any]] = {}

    def secrets_of(case: dict[str, Any]) -> list[bytes]:
        row, applicant = before[case["id"]], case["body"]["applicant"]
        masked = json.loads(row["masked"])
        return [
            applicant["name"].encode(),
            applicant["id_number"].encode(),
            masked["id_number"].encode(),
            masked["name"].encode(),
            row["applicant_index"].encode(),
            row["personal"][:40].encode(),
        ]

    async with running_sandboxes(port) as sandboxes:
        gateway = GatewayProcess(
            tmp_path,
            extra={
                "relay": {"enabled": True, **FAST_RELAY},
                "adapters": {
                    "shenzhen": {"url": sandboxes["shenzhen"].url},
                    "dongguan": {"url": f"http://127.0.0.1:{free_port()}"},  # nobody there
                    "callback_base_url": f"http://127.0.0.1:{port}",
                },
                "retention": {"personal_data_days": 0, "purge_interval_seconds": 0.2},
            },
            port=port,
        )
        gateway.start()
        database = gateway.data_dir / "tongban.db"
        try:
            purged, kept_id = await _submit_all(gateway)
            ids = [case["id"] for case in purged]
            query = "SELECT id, personal, masked, applicant_index FROM applications"
            before.update({r["id"]: dict(r) for r in _rows(database, query)})
            await _wait_purged(database, ids, gateway)
            # The marks are visible before the job has checkpointed and truncated the
            # WAL (the old page images stay in the file until then): wait for that.
            secrets = [secret for case in purged for secret in secrets_of(case)]
            raw_running = await _raw_once_free_of(database, secrets)
        finally:
            gateway.stop()
    raw_stopped = _raw(database)

    for raw in (raw_running, raw_stopped):
        for case in purged:
            for secret in secrets_of(case):
                assert secret not in raw, (case["id"], secret)
        # The control: the open case's data is still there, so the search can find it.
        assert before[kept_id]["applicant_index"].encode() in raw
        assert before[kept_id]["masked"].encode() in raw

    files = AttachmentStore(gateway.data_dir / "attachments", max_bytes=1, media_types=())
    for case in purged:
        assert not files.path_of(case["digest"]).exists()
    licence = example("full_online_enterprise")
    assert files.path_of(licence["materials"][0]["attachments"][0]).exists()

    # The non-personal record stays; each purge is audited on the case itself.
    rows = _rows(database, "SELECT id, item_code, status, personal_purged_at FROM applications")
    by_id = {r["id"]: r for r in rows}
    for case_id in ids:
        assert by_id[case_id]["item_code"] == "TEST-SZ-HUKOU"
    assert by_id[kept_id]["personal_purged_at"] is None
    audited = _rows(
        database,
        "SELECT application_id FROM audit_entries WHERE kind = 'application.personal_data_purged'",
    )
    assert sorted(r["application_id"] for r in audited) == sorted(ids)
    verified = gateway.cli("audit", "verify", "--json")
    assert json.loads(verified.stdout)["ok"] is True
    assert resident_id(9000) == purged[0]["body"]["applicant"]["id_number"]


@pytest.mark.timeout(180)
async def test_purge_cli_lists_then_purges_beside_the_running_gateway(tmp_path: Path) -> None:
    """--dry-run changes nothing; --apply purges the due cases once; a second run finds none."""
    port = free_port()
    async with running_sandboxes(port) as sandboxes:
        gateway = GatewayProcess(
            tmp_path,
            extra={
                "relay": {"enabled": True, **FAST_RELAY},
                "adapters": {
                    "shenzhen": {"url": sandboxes["shenzhen"].url},
                    "callback_base_url": f"http://127.0.0.1:{port}",
                },
                "retention": {"personal_data_days": 0, "purge_enabled": False},
            },
            port=port,
        )
        gateway.start()
        database = gateway.data_dir / "tongban.db"
        try:
            purged, _ = await _submit_all(gateway)
            ids = sorted(case["id"] for case in purged)
            for _ in range(600):
                dry = json.loads(gateway.cli("purge", "--dry-run", "--json").stdout)
                if sorted(dry["application_ids"]) == ids:
                    break
                await asyncio.sleep(0.1)
            assert sorted(dry["application_ids"]) == ids
            marked = "SELECT COUNT(*) AS n FROM applications WHERE personal_purged_at IS NOT NULL"
            assert _rows(database, marked)[0]["n"] == 0
            applied = json.loads(gateway.cli("purge", "--apply", "--json").stdout)
            assert sorted(applied["application_ids"]) == ids
            # Each one's own ID card scan, and the photo they share, which no open case uses.
            assert applied["attachments"] == len(ids) + 1
            again = json.loads(gateway.cli("purge", "--apply", "--json").stdout)
            assert again["cases"] == 0
        finally:
            gateway.stop()
    assert json.loads(gateway.cli("audit", "verify", "--json").stdout)["ok"] is True
    usage = gateway.cli("purge", check=False)
    assert usage.returncode == 2
    assert "--dry-run" in usage.stderr
