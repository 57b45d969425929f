"""Appending: validation, gap-free positions, the outbox rule, and append-only storage."""

from __future__ import annotations

import asyncio
import itertools
import json

import pytest

from gateway.audit import AuditLog, pseudonymise
from gateway.audit.canonical import entry_bytes
from gateway.audit.log import GENESIS_PREV
from gateway.audit.merkle import leaf_hash
from gateway.errors import InvalidAuditEntry, StoreError
from gateway.store import SQLiteStore


async def test_positions_are_consecutive_and_chained(store: SQLiteStore) -> None:
    log = AuditLog("sqlite")
    positions = []
    for i in range(5):
        async with store.transaction() as conn:
            positions.append(await log.append(conn, kind="test.appended", actor="system",
                                              data={"i": i}))  # fmt: skip
    assert [p.seq for p in positions] == [0, 1, 2, 3, 4]
    async with store.transaction() as conn:
        rows = await conn.fetch_all("SELECT * FROM audit_entries ORDER BY seq")
    assert bytes(rows[0]["prev_hash"]) == GENESIS_PREV
    for before, row in itertools.pairwise(rows):
        assert bytes(row["prev_hash"]) == bytes(before["leaf_hash"])
    for row, position in zip(rows, positions, strict=True):
        assert bytes(row["leaf_hash"]) == position.leaf_hash == leaf_hash(entry_bytes(row))


async def test_concurrent_appends_get_every_number_once(store: SQLiteStore) -> None:
    log = AuditLog("sqlite")

    async def one(i: int) -> int:
        async with store.transaction() as conn:
            return (await log.append(conn, kind="test.appended", actor="system",
                                     data={"i": i})).seq  # fmt: skip

    seqs = await asyncio.gather(*(one(i) for i in range(60)))
    assert sorted(seqs) == list(range(60))


async def test_entry_rolls_back_with_the_callers_transaction(store: SQLiteStore) -> None:
    """The outbox rule: the entry and the row it describes commit or vanish together."""
    log = AuditLog("sqlite")
    async with store.transaction() as conn:
        await conn.execute("CREATE TABLE things (id TEXT PRIMARY KEY)")

    async def write_then_fail() -> None:
        async with store.transaction() as conn:
            await conn.execute("INSERT INTO things (id) VALUES ('a')")
            await log.append(conn, kind="thing.created", actor="system", application_id="a")
            raise RuntimeError("the application write failed after the append")

    with pytest.raises(RuntimeError):
        await write_then_fail()
    async with store.transaction() as conn:
        assert await conn.fetch_all("SELECT * FROM things") == []
        assert await conn.fetch_all("SELECT * FROM audit_entries") == []
        position = await log.append(conn, kind="thing.created", actor="system")
    assert position.seq == 0  # the rolled-back number is reused: no gap


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("kind", {"kind": "NoDots"}),
        ("actor", {"actor": "someone"}),
        ("actor", {"actor": "staff:"}),
        ("region", {"region": "Shen Zhen"}),
        ("request_id", {"request_id": "has space"}),
        ("data.applicant.id_number", {"data": {"applicant": {"id_number": "44030019900101123X"}}}),
        ("data.phone", {"data": {"phone": "tel 13812345678"}}),
        ("data", {"data": {"x": float("nan")}}),
        ("data", {"data": {"blob": "x" * 20_000}}),
    ],
)
async def test_invalid_entries_are_refused_and_nothing_is_written(
    store: SQLiteStore, field: str, kwargs: dict[str, object]
) -> None:
    log = AuditLog("sqlite")
    arguments: dict[str, object] = {"kind": "test.appended", "actor": "system", **kwargs}
    async with store.transaction() as conn:
        with pytest.raises(InvalidAuditEntry) as caught:
            await log.append(conn, **arguments)  # type: ignore[arg-type]
        assert await conn.fetch_all("SELECT * FROM audit_entries") == []
    if caught.value.field is not None:
        assert caught.value.field == field


async def test_pseudonymised_values_and_hex_digests_are_accepted(store: SQLiteStore) -> None:
    key = b"k" * 32
    digest = pseudonymise("44030019900101123X", key)
    assert digest.startswith("hmac-sha256:")
    assert digest == pseudonymise("44030019900101123X", key)
    assert digest != pseudonymise("44030019900101123X", b"other key")
    assert "44030019900101123X" not in digest
    async with store.transaction() as conn:
        await AuditLog("sqlite").append(
            conn, kind="application.received", actor="partner:shenzhen",
            data={"applicant": digest, "sha256": "1" * 64},
        )  # fmt: skip
        row = await conn.fetch_one("SELECT data FROM audit_entries")
    assert row is not None
    assert json.loads(row["data"])["applicant"] == digest


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entries SET kind = 'forged.kind' WHERE seq = 0",
        "DELETE FROM audit_entries WHERE seq = 0",
        "UPDATE audit_checkpoints SET tree_size = 99",
        "DELETE FROM audit_checkpoints",
    ],
)
async def test_the_database_refuses_to_change_or_remove_rows(
    store: SQLiteStore, statement: str, audit_log: AuditLog, sealer: object
) -> None:
    async with store.transaction() as conn:
        await audit_log.append(conn, kind="test.appended", actor="system")
    await sealer.seal()  # type: ignore[attr-defined]
    with pytest.raises(StoreError, match="append-only"):
        async with store.transaction() as conn:
            await conn.execute(statement)
    async with store.transaction() as conn:
        assert (await conn.fetch_one("SELECT count(*) AS n FROM audit_entries")) == {"n": 1}
        assert (await conn.fetch_one("SELECT count(*) AS n FROM audit_checkpoints")) == {"n": 1}


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="backend"):
        AuditLog("mysql")
