"""Fill a gateway's store fast with stored applications, by SQL batches, not HTTP.

`fill` clones one real application (submitted through the API, so every column holds
what intake writes: sealed personal data, masked fields, materials, deadlines) into
`count` more, 50,000 per statement, with a set-based INSERT ... SELECT on either
backend. Each clone gets its own UUIDv7-shaped id (time prefix in 2024, so clones
sort before anything submitted in the run), request id and applicant blind index
(so the duplicate check never matches them), region case number, and a copy of the template's first
history event. The gateway must be stopped while it runs (`Cluster.stopped`).

Clones get no audit entries: the hash chain stays valid (nothing is inserted into
it), but `audit verify --compare-states` would report the clones as unaudited.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from gateway.config import load_settings
from gateway.store import Store, open_store

__all__ = ["fill"]

BATCH = 50_000

_RANGE = {
    "sqlite": "WITH RECURSIVE n(i) AS (SELECT :first UNION ALL SELECT i + 1 FROM n "
    "WHERE i + 1 < :end) ",
    "postgres": "WITH n(i) AS (SELECT generate_series(CAST(:first AS bigint), "
    "CAST(:end AS bigint) - 1)) ",
}
_CASE = {  # region case numbers are unique per region
    "sqlite": "printf('GROWTH%012d', i)",
    "postgres": "'GROWTH' || lpad(CAST(i AS text), 12, '0')",
}
_HEX = {
    "sqlite": "printf('%0{width}x', i)",
    "postgres": "lpad(to_hex(i), {width}, '0')",
}


def _new_id(backend: str) -> str:
    return "'01900000-0000-7000-8000-' || " + _HEX[backend].format(width=12)


async def _clone(store: Store, template: str, first: int, end: int) -> None:
    backend = store.backend
    async with store.transaction() as conn:
        row = await conn.fetch_one("SELECT * FROM applications WHERE id = :id", {"id": template})
        event = await conn.fetch_one(
            "SELECT * FROM application_events WHERE application_id = :id ORDER BY id LIMIT 1",
            {"id": template},
        )
        if row is None or event is None:
            raise LookupError(f"no application {template} with history to clone")
        replaced = {
            "id": _new_id(backend),
            "request_id": _HEX[backend].format(width=32),
            "applicant_index": _HEX[backend].format(width=64),
            "region_case_no": _CASE[backend],
        }
        columns = list(row.keys())
        chosen = ", ".join(replaced.get(c, f"t.{c}") for c in columns)
        await conn.execute(
            _RANGE[backend] + f"INSERT INTO applications ({', '.join(columns)}) "  # noqa: S608
            f"SELECT {chosen} FROM n, applications t WHERE t.id = :template",
            {"first": first, "end": end, "template": template},
        )
        event_columns = [c for c in event if c != "id"]
        chosen = ", ".join(
            _new_id(backend) if c == "application_id" else f"e.{c}" for c in event_columns
        )
        await conn.execute(
            _RANGE[backend] + f"INSERT INTO application_events ({', '.join(event_columns)}) "  # noqa: S608
            f"SELECT {chosen} FROM n, application_events e WHERE e.id = :event",
            {"first": first, "end": end, "event": event["id"]},
        )


async def fill_store(config: Path, template: str, start: int, count: int) -> None:
    """Add clones number `start` .. `start + count - 1` of application `template`."""
    store = await open_store(load_settings(config))
    try:
        for first in range(start, start + count, BATCH):
            await _clone(store, template, first, min(first + BATCH, start + count))
    finally:
        await store.aclose()


def fill(config: Path, template: str, start: int, count: int) -> None:
    """`fill_store`, from synchronous code."""
    asyncio.run(fill_store(config, template, start, count))
