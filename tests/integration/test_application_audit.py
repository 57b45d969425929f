"""Applications and the audit log, over loopback HTTP: one entry per history event, on
the same transaction, without personal data; signed receipts and attestations that a
partner checks offline; the receipt's entry provable against a signed checkpoint.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from support.examples import EXAMPLES, example, upload_examples
from support.partner_signing import PARTNER, SignedClient
from support.region_events import region_says

from gateway.app import STORE, create_app
from gateway.app_keys import APPLICATIONS, AUDIT
from gateway.applications import transitions
from gateway.applications.transitions import Origin
from gateway.audit.checkpoints import (
    Checkpoint,
    load_public_keys_from_jwks,
    signature_problem,
)
from gateway.config import Settings
from gateway.envelope import Status
from gateway.errors import InvalidAuditEntry, SignatureError
from gateway.security import KeyStore, verify_receipt

REPO = Path(__file__).resolve().parents[2]
PASSPHRASE = "audit test passphrase"  # noqa: S105 - a throwaway key ring in tmp_path


@pytest.fixture
async def client(catalogue_settings: Callable[..., Settings]) -> AsyncIterator[SignedClient]:
    """The gateway with an unlocked key ring (receipts signed), signing as `PARTNER`."""
    settings = catalogue_settings(security={"key_passphrase": PASSPHRASE})
    KeyStore(settings.data_dir / "keys", PASSPHRASE).generate()
    async with TestClient(TestServer(create_app(settings), host="127.0.0.1")) as test_client:
        signed = SignedClient(test_client, PARTNER)
        await upload_examples(signed)
        yield signed


async def entries(client: SignedClient, application_id: str | None = None) -> list[dict[str, Any]]:
    where = "WHERE application_id = :id" if application_id else ""
    async with client.app[STORE].transaction() as conn:
        rows = await conn.fetch_all(
            f"SELECT * FROM audit_entries {where} ORDER BY seq",  # noqa: S608 - fixed clause
            {"id": application_id} if application_id else None,
        )
    return [{**row, "data": json.loads(row["data"])} for row in rows]


async def history_count(client: SignedClient) -> int:
    async with client.app[STORE].transaction() as conn:
        row = await conn.fetch_one("SELECT COUNT(*) AS n FROM application_events")
    assert row is not None
    return int(row["n"])


def rfc9162_inclusion_root(index: int, size: int, leaf: bytes, path: list[bytes]) -> bytes | None:
    """RFC 9162 §2.1.3.2, written from the RFC's text: the root a proof leads to."""
    if index >= size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


async def test_receipt_is_signed_and_its_entry_is_provable_offline(client: SignedClient) -> None:
    """JWKS verifies the receipt; its seq has an inclusion proof to a signed checkpoint."""
    ids = [await client.post("/v1/applications", json=example(n)) for n in (
        "full_online_person", "full_online_enterprise", "multi_region_enterprise")]  # fmt: skip
    response = await client.post("/v1/applications", json=example("proxy_person"))
    assert response.status == 202
    assert all(r.status == 202 for r in ids)
    receipt = (await response.json())["receipt"]
    jwks = await (await client.client.get("/.well-known/tongban/keys")).json(content_type=None)
    verified = verify_receipt(receipt, jwks)
    assert verified["audit"]["seq"] == 3
    assert verified["submission"]["keyid"] == PARTNER.keyid
    await client.app[AUDIT].sealer.seal()
    seq = verified["audit"]["seq"]
    proof = await (await client.client.get(verified["audit"]["proof_url"])).json()
    latest = await (await client.client.get("/v1/audit/checkpoints/latest")).json()
    assert proof["leaf_hash"] == verified["audit"]["leaf_hash"]
    path = [bytes.fromhex(h) for h in proof["path"]]
    root = rfc9162_inclusion_root(seq, latest["tree_size"], bytes.fromhex(proof["leaf_hash"]), path)
    assert root is not None
    assert root.hex() == latest["root_hash"]
    audit_keys = await (await client.client.get("/v1/audit/keys")).json(content_type=None)
    checkpoint = Checkpoint.from_json(latest)
    assert signature_problem(checkpoint, load_public_keys_from_jwks(audit_keys)) is None


async def test_a_changed_receipt_no_longer_verifies(client: SignedClient) -> None:
    response = await client.post("/v1/applications", json=example("full_online_person"))
    receipt = (await response.json())["receipt"]
    jwks = await (await client.client.get("/.well-known/tongban/keys")).json(content_type=None)
    receipt["audit"]["seq"] += 1
    with pytest.raises(SignatureError, match="does not verify"):
        verify_receipt(receipt, jwks)


async def test_replayed_and_duplicate_answers_carry_the_original_entry(
    client: SignedClient,
) -> None:
    headers = {"Idempotency-Key": "audit-replay-1"}
    first = await (
        await client.post("/v1/applications", json=example("proxy_person"), headers=headers)
    ).json()
    replay = await (
        await client.post("/v1/applications", json=example("proxy_person"), headers=headers)
    ).json()
    duplicate = await (
        await client.post("/v1/applications", json=example("proxy_person") | {"remarks": "再次"})
    ).json()
    assert replay == first
    assert duplicate["duplicate"] is True
    assert duplicate["receipt"]["audit"]["seq"] == first["receipt"]["audit"]["seq"]
    assert len(await entries(client)) == 1


async def test_every_history_event_has_its_audit_entry(client: SignedClient) -> None:
    response = await client.post("/v1/applications", json=example("proxy_person"))
    body = await response.json()
    case_id = body["id"]
    photo = hashlib.sha256((EXAMPLES / "attachments" / "photo.jpg").read_bytes()).hexdigest()
    supplied = await client.post(
        f"/v1/applications/{case_id}/supplements",
        json={"materials": [{"material_id": "photo", "attachments": [photo]}]},
    )
    assert supplied.status == 202, await supplied.text()
    await region_says(client, case_id, Status.ACCEPTED, "e1")
    await region_says(client, case_id, Status.ACCEPTED, "e0-late")  # absorbed, still audited
    await region_says(client, case_id, Status.APPROVED, "e2", certificate_no="SZ-CERT-1")
    rated = await client.post(
        f"/v1/applications/{case_id}/rating", json={"level": 5, "setting": "offline"}
    )
    assert rated.status == 202, await rated.text()
    logged = await entries(client, case_id)
    assert [e["kind"] for e in logged] == [
        "application.received",
        "application.supplement",
        "application.status_changed",
        "application.region_event_ignored",
        "application.status_changed",
        "application.rated",
    ]
    assert len(logged) == await history_count(client)
    received = logged[0]
    assert received["actor"] == f"partner:{PARTNER.id}"
    assert received["request_id"] == body["request_id"] == response.headers["X-Request-ID"]
    assert received["region"] == "shenzhen"
    assert received["seq"] == body["receipt"]["audit"]["seq"]
    assert received["data"]["item_code"] == "TEST-SZ-HUKOU"
    assert received["data"]["to_status"] == "received"
    assert received["data"]["deferred_materials"] == ["photo"]
    assert received["data"]["submission"]["keyid"] == PARTNER.keyid
    assert logged[1]["data"]["attachments"] == [photo]
    assert logged[2]["actor"] == "region:shenzhen"
    assert logged[2]["data"]["to_status"] == "accepted"
    assert logged[3]["data"]["reason"] == "same_status"
    assert logged[4]["data"]["certificate_no_digest"].startswith("hmac-sha256:")
    assert logged[5]["data"]["level"] == 5


async def test_withdrawal_is_audited_without_the_applicants_words(client: SignedClient) -> None:
    case_id = (await (await client.post("/v1/applications", json=example("proxy_person"))).json())[
        "id"
    ]
    reason = "李华说家里有事，不办了"  # a name: nothing a pattern would catch
    response = await client.post(f"/v1/applications/{case_id}/withdrawal", json={"reason": reason})
    assert response.status == 202, await response.text()
    withdrawn = (await entries(client, case_id))[-1]
    assert withdrawn["kind"] == "application.withdrawn"
    assert withdrawn["data"]["to_status"] == "withdrawn"
    assert withdrawn["data"]["reason_digest"].startswith("hmac-sha256:")
    assert reason not in json.dumps(withdrawn, ensure_ascii=False, default=str)


async def test_no_personal_data_in_any_audit_entry(client: SignedClient) -> None:
    for name in ("proxy_person", "multi_region_enterprise", "full_online_person"):
        response = await client.post("/v1/applications", json=example(name))
        assert response.status == 202
    case_id = (await response.json())["id"]
    await region_says(
        client, case_id, Status.SUPPLEMENT_REQUIRED, "e9",
        message="请王小明(11010519491231002X, 13812345678)补交材料",
    )  # fmt: skip
    await region_says(client, case_id, Status.REJECTED, "e10", message="赵强未按时补正")
    text = json.dumps(await entries(client), ensure_ascii=False, default=str)
    for secret in (
        "360426199101010071", "11010519491231002X", "H12345678", "李华", "陈代办", "赵强",
        "王小明", "13900001234", "13700001111", "13812345678", "南山区科技园", "松山湖大道",
        "Y1440300MA5F0000XB",
    ):  # fmt: skip
        assert secret not in text, secret


async def test_history_and_audit_commit_or_roll_back_together(client: SignedClient) -> None:
    case_id = (await (await client.post("/v1/applications", json=example("proxy_person"))).json())[
        "id"
    ]
    journal = client.app[APPLICATIONS].journal
    before = (len(await entries(client)), await history_count(client))

    class Abort(Exception):
        pass

    async def forward(actor: str, *, then_fail: bool) -> None:
        async with client.app[STORE].transaction() as conn:
            await transitions.transition(
                conn, case_id, Status.FORWARDED, journal=journal, origin=Origin.RELAY, actor=actor
            )
            if then_fail:
                raise Abort

    # The transaction fails after the transition wrote both rows: neither remains.
    with pytest.raises(Abort):
        await forward("relay", then_fail=True)
    assert (len(await entries(client)), await history_count(client)) == before
    # The audit append itself fails (a malformed actor): the status and history stay.
    with pytest.raises(InvalidAuditEntry):
        await forward("not a valid actor!", then_fail=False)
    assert (len(await entries(client)), await history_count(client)) == before
    view = await (await client.get(f"/v1/applications/{case_id}")).json()
    assert view["status"] == "received"


async def test_staff_attestation_is_signed_and_verifies_with_the_jwks(
    client: SignedClient,
) -> None:
    body = example("proxy_person")
    case_id = (await (await client.post("/v1/applications", json=body)).json())["id"]
    view = await (await client.get(f"/v1/applications/{case_id}")).json()
    jwks = await (await client.client.get("/.well-known/tongban/keys")).json(content_type=None)
    attested = verify_receipt(view["attestation_signed"], jwks)
    assert attested["statement"] == "此件经与原件核对无误"
    assert attested["application_id"] == case_id
    assert attested["staff_id"] == body["attestation"]["staff_id"]
    assert attested["attachments"] == body["attestation"]["attachments"]
