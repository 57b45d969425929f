"""`tongban backup` on a running gateway taking signed applications, then restore and verify.

Every application acknowledged (202) before the backup started is in the restored
copy, the copy's audit log verifies, and the figures (acknowledged during the
backup, time, size) are printed for the report.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from support.ops_gateway import GatewayProcess

pytestmark = pytest.mark.whole_system


@dataclass
class Seen:
    summary: dict[str, Any]
    before: set[str]  # acknowledged before the backup command started
    during: set[str]  # acknowledged while it ran
    every: set[str]


async def _load_and_back_up(gateway: GatewayProcess, destination: Path) -> Seen:
    acknowledged: list[tuple[float, str]] = []
    stop = asyncio.Event()
    history = asyncio.Event()
    counter = iter(range(1_000_000))

    async def writer(session: aiohttp.ClientSession) -> None:
        while not stop.is_set():
            status, answer = await gateway.submit(session, next(counter))
            assert status == 202, answer
            acknowledged.append((time.monotonic(), answer["id"]))
            if len(acknowledged) >= 150:  # a database with some history first
                history.set()

    async with aiohttp.ClientSession() as session:
        await gateway.upload_examples(session)
        writers = [asyncio.create_task(writer(session)) for _ in range(8)]
        await history.wait()
        started = time.monotonic()
        backup = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway.cli", "backup", str(destination), "--json",
            "--with-keys", "--config", str(gateway.config),
            env=gateway.env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await backup.communicate()
        finished = time.monotonic()
        assert backup.returncode == 0, err.decode()
        await asyncio.sleep(0.5)  # writes keep being acknowledged after the backup too
        stop.set()
        await asyncio.gather(*writers)
    return Seen(
        summary=json.loads(out),
        before={i for t, i in acknowledged if t < started},
        during={i for t, i in acknowledged if started <= t <= finished},
        every={i for _, i in acknowledged},
    )


def _ids(database: Path) -> set[str]:
    conn = sqlite3.connect(database)
    try:
        return {row[0] for row in conn.execute("SELECT id FROM applications")}
    finally:
        conn.close()


@pytest.mark.timeout(300)
async def test_backup_under_write_load_restores_every_acknowledged_application(
    tmp_path: Path,
) -> None:
    gateway = GatewayProcess(tmp_path / "live")
    gateway.start()
    destination = tmp_path / "backup"
    try:
        seen = await _load_and_back_up(gateway, destination)
    finally:
        gateway.stop()
    summary, before, during = seen.summary, seen.before, seen.during
    key_files = [p for p in (destination / "keys").rglob("*") if p.is_file()]
    assert summary["key_files"] == len(key_files) > 0
    for path in key_files:  # nothing secret leaves in the clear
        assert b"-----BEGIN PRIVATE KEY-----" not in path.read_bytes(), path

    restored = GatewayProcess(tmp_path / "restored", partner=gateway.partner)
    result = restored.cli("restore", str(destination))
    assert "restored" in result.stdout
    ids = _ids(restored.data_dir / "tongban.db")
    assert before <= ids, f"{len(before - ids)} acknowledged applications missing"
    assert ids <= seen.every  # nothing the gateway never acknowledged
    assert restored.cli("backup", "--verify", str(destination)).returncode == 0
    verified = restored.cli("audit", "verify", "--json")
    assert json.loads(verified.stdout)["ok"] is True
    print(
        f"\nbackup under load: {len(before)} acknowledged before it, {len(during)} "
        f"acknowledged while it ran ({len(during & ids)} of them in the copy), "
        f"{summary['applications']} applications and {summary['audit_entries']} audit "
        f"entries, {summary['database_bytes']:,} bytes, {summary['seconds']} s"
    )


def test_restore_refuses_a_database_that_holds_data(tmp_path: Path) -> None:
    """Without --force, restore leaves a database with data alone and says why."""
    gateway = GatewayProcess(tmp_path / "live")
    gateway.start()
    try:
        gateway.cli("backup", str(tmp_path / "b1"))
        live = gateway.cli("restore", str(tmp_path / "b1"), "--force", check=False)
        assert live.returncode == 1
        assert "in use" in live.stderr
    finally:
        gateway.stop()
    refused = gateway.cli("restore", str(tmp_path / "b1"), check=False)
    assert refused.returncode == 1
    assert "already holds data; pass --force" in refused.stderr
    assert gateway.cli("restore", str(tmp_path / "b1"), "--force").returncode == 0


def test_verify_refuses_an_altered_backup(tmp_path: Path) -> None:
    """A backup whose database changed after it was taken fails --verify, naming why."""
    gateway = GatewayProcess(tmp_path / "live")
    gateway.start()
    try:
        gateway.cli("backup", str(tmp_path / "b"))
    finally:
        gateway.stop()
    assert gateway.cli("backup", "--verify", str(tmp_path / "b")).returncode == 0
    copy = tmp_path / "b" / "tongban.db"
    raw = bytearray(copy.read_bytes())
    raw[-1] ^= 0xFF
    copy.write_bytes(bytes(raw))
    altered = gateway.cli("backup", "--verify", str(tmp_path / "b"), check=False)
    assert altered.returncode == 1
    assert "does not match its manifest" in altered.stderr
