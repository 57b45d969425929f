"""Migration ``deliveries_destination``: the column ``region`` becomes ``destination``,
on each backend, keeping every queued delivery (a region's and a partner's)."""

from __future__ import annotations

from collections.abc import Mapping

from gateway.store import Store, bundled_migrations, migrate

NOW = "2026-03-02T02:00:00+00:00"
APPLICATION = {
    "id": "app-1",
    "request_id": "r1",
    "item_code": "SZ-0001",
    "receiving_region": "dongguan",
    "competent_region": "shenzhen",
    "channel": "window",
    "handling_mode": "full_online",
    "applicant_kind": "person",
    "applicant_index": "idx",
    "material_fingerprint": "fp",
    "personal": "sealed",
    "masked": "{}",
    "materials": "[]",
    "status": "received",
    "anticipate_type": "working_days",
    "promise_type": "working_days",
    "submitted_by": "partner:p1",
    "created_at": NOW,
    "updated_at": NOW,
}


def insert(table: str, row: Mapping[str, object]) -> str:
    columns = ", ".join(row)
    values = ", ".join(f":{column}" for column in row)
    return f"INSERT INTO {table} ({columns}) VALUES ({values})"  # noqa: S608 - our test's names


def delivery(delivery_id: str, region: str) -> dict[str, object]:
    return {
        "id": delivery_id,
        "application_id": "app-1",
        "kind": "submission",
        "region": region,
        "idempotency_key": f"key-{delivery_id}",
        "envelope": "sealed",
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": NOW,
        "created_at": NOW,
        "updated_at": NOW,
    }


async def test_queued_deliveries_keep_their_destination(store: Store) -> None:
    bundled = bundled_migrations(store.backend)
    (rename,) = [m for m in bundled if m.name == "deliveries_destination"]
    before = [m for m in bundled if m.version < rename.version]
    await migrate(store, before)
    async with store.transaction() as conn:
        await conn.execute(insert("applications", APPLICATION), APPLICATION)
        for row in (delivery("d1", "shenzhen"), delivery("d2", "partner:p1")):
            await conn.execute(insert("deliveries", row), row)

    applied = await migrate(store, bundled)
    assert applied[0].name == "deliveries_destination"

    async with store.transaction() as conn:
        rows = await conn.fetch_all(
            "SELECT id, destination, state FROM deliveries WHERE destination IN "
            "('shenzhen', 'partner:p1') ORDER BY id"
        )
    assert rows == [
        {"id": "d1", "destination": "shenzhen", "state": "pending"},
        {"id": "d2", "destination": "partner:p1", "state": "pending"},
    ]
