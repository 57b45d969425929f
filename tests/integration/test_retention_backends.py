"""The purge's SQL on both backends: a closed case's personal data goes, the record stays.

The case is closed by writing its status directly (no region here); the scheduled job
and the byte-level checks run against a real gateway in test_retention_purge.py.
"""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp.test_utils import TestClient
from support.examples import upload_examples
from support.fixture_types import CatalogueSettings
from support.gateway_server import GatewayTestServer
from support.ops_gateway import application
from support.partner_signing import PARTNER, SignedClient

from gateway.app import STORE, create_app
from gateway.app_keys import APPLICATIONS, AUDIT
from gateway.retention import PURGED_KIND, run_purge


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
        async with store.transaction() as conn:
            await conn.execute(
                "UPDATE applications SET status = 'denied' WHERE id = :id", {"id": closed["id"]}
            )
            await conn.execute(
                "UPDATE deliveries SET state = 'delivered' WHERE application_id = :id",
                {"id": closed["id"]},
            )
        deps = app[APPLICATIONS]
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
