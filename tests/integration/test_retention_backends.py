"""The purge's SQL on both backends: a closed case's personal data goes, the record stays.

The case is closed by writing its status directly (no region here); the scheduled job
and the byte-level checks run against a real gateway in test_retention_purge.py.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from support.examples import upload_examples
from support.fixture_types import CatalogueSettings
from support.gateway_server import GatewayTestServer
from support.ops_gateway import application
from support.partner_signing import PARTNER, SignedClient

from gateway.app import STORE, create_app
from gateway.app_keys import APPLICATIONS, AUDIT
from gateway.applications import followups, handover, history
from gateway.applications.records import Deps
from gateway.retention import PURGED_KIND, run_purge
from gateway.store import Store

# What the window recorded about the purged case: none of it may stay anywhere.
FOLLOWUP_NOTE = "已回访清除丁本人，其反映窗口排队过久"
TRACKING = "EM998877665CN"
RECEIPT_NAME = "回执丁*"  # the masked applicant in a peer gateway's signed receipt
PEER_RECEIPT = {"receipt_no": "PEER-0001", "applicant": {"name": RECEIPT_NAME, "kind": "person"}}
# The open case's tracking number: the control that shows the search finds what is there.
KEPT_TRACKING = "SF1234567890"


async def _window_records(deps: Deps, store: Store, closed: str, still_open: str) -> str:
    """Tracking numbers, a closed 差评 follow-up and a peer's receipt; the receipt's text."""
    for case_id, number in ((closed, TRACKING), (still_open, KEPT_TRACKING)):
        await handover.record_tracking(
            deps, case_id, leg="materials", carrier="EMS", number=number, caller="staff:clerk"
        )
    receipt = json.dumps(PEER_RECEIPT, ensure_ascii=False)
    async with store.transaction() as conn:
        row = await history.load(conn, closed)
        await followups.open_for(conn, row, 1, at="2026-12-01T00:00:00+00:00")
        await conn.execute(
            "UPDATE deliveries SET hand_over_receipt = :r WHERE application_id = :id",
            {"r": receipt, "id": closed},
        )
    await followups.close(
        deps, closed, note=FOLLOWUP_NOTE, centre_region=row["receiving_region"], caller="staff:lead"
    )
    return receipt


def _file_bytes(database: Path) -> bytes:
    wal = database.with_name(database.name + "-wal")
    return database.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


async def _every_text(store: Store, *, sqlite: bool) -> str:
    """Every row of every table as text: personal data left anywhere shows up here."""
    async with store.transaction() as conn:
        if sqlite:
            tables = await conn.fetch_all(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        else:
            tables = await conn.fetch_all(
                "SELECT table_name AS name FROM information_schema.tables "
                "WHERE table_schema = current_schema()"
            )
        dumped: list[Any] = []
        for table in tables:
            rows = await conn.fetch_all(f'SELECT * FROM "{table["name"]}"')  # noqa: S608 - catalogue names
            dumped += [dict(row) for row in rows]
    return json.dumps(dumped, ensure_ascii=False, default=str)


async def test_purge_clears_personal_data_on_each_backend(
    catalogue_settings: CatalogueSettings, store_url: str, tmp_path: Path
) -> None:
    settings = catalogue_settings(
        store={"url": store_url},
        relay={"enabled": False},
        retention={"personal_data_days": 0, "purge_enabled": False},
    )
    app = create_app(settings)
    async with TestClient(GatewayTestServer(app, host="127.0.0.1")) as test_client:
        client = SignedClient(test_client, PARTNER)
        await upload_examples(client)
        closed = await (await client.post("/v1/applications", json=application(1))).json()
        still_open = await (await client.post("/v1/applications", json=application(2))).json()
        store = app[STORE]
        deps = app[APPLICATIONS]
        receipt = await _window_records(deps, store, closed["id"], still_open["id"])
        async with store.transaction() as conn:
            await conn.execute(
                "UPDATE applications SET status = 'denied' WHERE id = :id", {"id": closed["id"]}
            )
            await conn.execute(
                "UPDATE deliveries SET state = 'delivered' WHERE application_id = :id",
                {"id": closed["id"]},
            )
        report = await run_purge(store, app[AUDIT].log, deps.cipher, settings, dry_run=False)
        assert report.cases == [closed["id"]]
        async with store.transaction() as conn:
            rows = {
                r["id"]: r
                for r in await conn.fetch_all(
                    "SELECT id, item_code, status, personal, masked, applicant_index, "
                    "submission_body, personal_purged_at FROM applications"
                )
            }
            envelopes = await conn.fetch_all(
                "SELECT envelope FROM deliveries WHERE application_id = :id", {"id": closed["id"]}
            )
            kept_keys = await conn.fetch_all(
                "SELECT 1 AS k FROM idempotency_keys WHERE application_id = :id",
                {"id": closed["id"]},
            )
            audited = await conn.fetch_all(
                "SELECT application_id FROM audit_entries WHERE kind = :kind", {"kind": PURGED_KIND}
            )
            followup = await conn.fetch_one(
                "SELECT level, closed_by, note FROM rating_followups WHERE application_id = :id",
                {"id": closed["id"]},
            )
            tracking = await conn.fetch_all(
                "SELECT leg, carrier, number FROM postal_tracking WHERE application_id = :id",
                {"id": closed["id"]},
            )
            receipts = await conn.fetch_all(
                "SELECT hand_over_receipt FROM deliveries WHERE application_id = :id",
                {"id": closed["id"]},
            )
        sqlite = store_url.startswith("sqlite")
        everything = (await _every_text(store, sqlite=sqlite)).encode()
    if sqlite:  # the file's bytes too, not only its rows (and its WAL, if one is left)
        everything += _file_bytes(Path(store_url.removeprefix("sqlite:///")))
    for secret in (FOLLOWUP_NOTE, TRACKING, RECEIPT_NAME):
        assert secret.encode() not in everything, secret
    assert KEPT_TRACKING.encode() in everything  # the control: the search finds what is there
    # What the window did stays, without what would identify the applicant.
    assert followup == {"level": 1, "closed_by": "staff:lead", "note": None}
    assert [dict(t) for t in tracking] == [
        {"leg": "materials", "carrier": "EMS", "number": "purged:1"}
    ]
    assert [json.loads(r["hand_over_receipt"]) for r in receipts] == [
        {
            "purged": True,
            "receipt_no": "PEER-0001",
            "sha256": hashlib.sha256(receipt.encode()).hexdigest(),
        }
    ]
    purged, kept = rows[closed["id"]], rows[still_open["id"]]
    assert purged["item_code"] == "TEST-SZ-HUKOU"
    assert purged["status"] == "denied"
    assert purged["personal_purged_at"] is not None
    assert purged["submission_body"] is None
    assert json.loads(purged["masked"]) == {"kind": "person", "purged": True}
    assert deps.cipher.open(purged["personal"], bound_to=closed["id"]) == {
        "applicant": {},
        "delivery": {},
    }
    assert purged["applicant_index"].startswith("purged:")
    assert all(row["envelope"] == "" for row in envelopes)
    assert kept_keys == []
    assert [r["application_id"] for r in audited] == [closed["id"]]
    assert kept["personal_purged_at"] is None
    assert deps.cipher.open(kept["personal"], bound_to=still_open["id"])["applicant"]["name"]
