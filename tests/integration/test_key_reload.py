"""Keys without downtime: a real gateway re-reads its keys and partners on SIGHUP.

Before the signal: a new partner is refused, receipts are signed with the old gateway
key, personal data sealed with the old PII key. After it: the partner is accepted,
receipts carry the rotated key's id, new rows use the new PII key while old rows
still open, and `tongban keys rewrap` moves the old rows; the audit log verifies.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import signal
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from support.ops_gateway import GatewayProcess, application, to_toml
from support.partner_signing import PARTNER, TestPartner

from gateway.security.keys import b64url_decode

NEW_PARTNER = TestPartner("new-partner")


def _kid(receipt: dict[str, Any]) -> str:
    protected = receipt["jws"].split(".")[0]
    return str(json.loads(b64url_decode(protected))["kid"])


def _personal_key(database: Path, application_id: str) -> str:
    conn = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT personal FROM applications WHERE id = ?", (application_id,))
        return str(row.fetchone()[0]).split(".")[1]
    finally:
        conn.close()


async def _submit_as(gateway: GatewayProcess, partner: TestPartner, n: int) -> tuple[int, Any]:
    """Submit application `n` signed as `partner` (the example files are uploaded already)."""
    signer_partner = gateway.partner
    gateway.use_partner(partner)
    try:
        async with aiohttp.ClientSession() as session:
            return await gateway.submit(session, n)
    finally:
        gateway.use_partner(signer_partner)


@pytest.mark.timeout(180)
async def test_sighup_takes_in_new_partner_gateway_and_pii_keys(tmp_path: Path) -> None:
    k1, k2, index = (base64.b64encode(secrets.token_bytes(32)).decode() for _ in range(3))
    pii_before = {"keys": {"k1": k1}, "active_key": "k1", "index_key": index}
    gateway = GatewayProcess(tmp_path, extra={"pii": pii_before})
    gateway.cli("keys", "generate")
    gateway.start()
    database = gateway.data_dir / "tongban.db"
    try:
        async with aiohttp.ClientSession() as session:
            await gateway.upload_examples(session)
            status, first = await gateway.submit(session, 1)
        assert status == 202, first
        old_kid = _kid(first["receipt"])
        status, _ = await _submit_as(gateway, NEW_PARTNER, 2)
        assert status == 401  # not configured yet

        # What an operator does: rotate the gateway key, add the partner and the PII key.
        rotated = json.loads(gateway.cli("keys", "rotate", "--json").stdout)
        sections = gateway.sections
        sections["security"]["partners"][NEW_PARTNER.id] = NEW_PARTNER.setting()
        sections["pii"] = {"keys": {"k1": k1, "k2": k2}, "active_key": "k2", "index_key": index}
        gateway.config.write_text(to_toml(sections), encoding="utf-8")
        gateway.signal(signal.SIGHUP)

        for _ in range(200):
            status, second = await _submit_as(gateway, NEW_PARTNER, 3)
            if status == 202:
                break
            await asyncio.sleep(0.1)
        assert status == 202, second
        new_kid = _kid(second["receipt"])
        assert new_kid != old_kid
        assert new_kid in json.dumps(rotated)
        jwks_url = f"{gateway.base}/.well-known/tongban/keys"
        async with aiohttp.ClientSession() as session, session.get(jwks_url) as answer:
            published = {key["kid"] for key in (await answer.json())["keys"]}
        assert {old_kid, new_kid} <= published  # the old key stays published (grace)
        assert _personal_key(database, first["id"]) == "k1"
        assert _personal_key(database, second["id"]) == "k2"

        rewrapped = json.loads(gateway.cli("keys", "rewrap", "--json").stdout)
        assert rewrapped["rewrapped"]["applications.personal"] >= 1
        assert _personal_key(database, first["id"]) == "k2"
        again = json.loads(gateway.cli("keys", "rewrap", "--json").stdout)
        assert sum(again["found"].values()) == 0  # resumable: nothing left to do
    finally:
        gateway.stop()
    assert json.loads(gateway.cli("audit", "verify", "--json").stdout)["ok"] is True


@pytest.mark.timeout(120)
async def test_a_bad_reload_keeps_the_running_keys(tmp_path: Path) -> None:
    """A PII ring that drops a key still in use is refused; the gateway goes on serving."""
    k1, k2, index = (base64.b64encode(secrets.token_bytes(32)).decode() for _ in range(3))
    gateway = GatewayProcess(
        tmp_path, extra={"pii": {"keys": {"k1": k1}, "active_key": "k1", "index_key": index}}
    )
    gateway.start()
    try:
        async with aiohttp.ClientSession() as session:
            await gateway.upload_examples(session)
        sections = gateway.sections
        sections["pii"] = {"keys": {"k2": k2}, "active_key": "k2", "index_key": index}
        sections["security"]["partners"][NEW_PARTNER.id] = NEW_PARTNER.setting()
        gateway.config.write_text(to_toml(sections), encoding="utf-8")
        gateway.signal(signal.SIGHUP)
        for _ in range(200):
            if "security.reload_failed" in gateway.log.read_text("utf-8"):
                break
            await asyncio.sleep(0.1)
        assert "rewrap before removing" in gateway.log.read_text("utf-8")
        status, answer = await _submit_as(gateway, NEW_PARTNER, 4)
        assert status == 401  # nothing of the refused reload was taken in
        status, answer = await _submit_as(gateway, PARTNER, 5)
        assert status == 202, answer
        assert _personal_key(gateway.data_dir / "tongban.db", answer["id"]) == "k1"
    finally:
        gateway.stop()
    assert application(4)["applicant"]["name"] != application(5)["applicant"]["name"]
