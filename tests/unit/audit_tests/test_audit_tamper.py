"""Tamper detection: every kind of rewrite is named at the entry where it happened.

To tamper, each test first drops the append-only triggers, which shows they are
there: without that, the database refuses (see test_audit_log.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit_tests.audit_support import COLUMNS, ORIGIN, append_many, tamperable_log
from gateway.audit import AuditLog, Ed25519CheckpointSigner, ProofService, Sealer, verify_store
from gateway.audit.canonical import entry_bytes
from gateway.audit.checkpoints import Checkpoint, jwk_thumbprint, public_jwk
from gateway.audit.export import verify_export, write_export
from gateway.audit.merkle import leaf_hash
from gateway.audit.verify import Report
from gateway.store import Connection, SQLiteStore


@pytest.fixture
async def log_of_20(store: SQLiteStore, audit_log: AuditLog, sealer: Sealer) -> SQLiteStore:
    """20 entries with checkpoints at 8 and 20, triggers dropped for tampering."""
    return await tamperable_log(store, audit_log, sealer, sealed_at=(8, 20))


async def verify(store: SQLiteStore, signer: Ed25519CheckpointSigner) -> Report:
    return await verify_store(store, {signer.key_id: signer.public_key}, origin=ORIGIN)


async def first_bad(store: SQLiteStore, signer: Ed25519CheckpointSigner) -> tuple[int | None, str]:
    """Where verification first fails: the entry's seq and the reason."""
    report = await verify(store, signer)
    assert report.first_bad is not None, report.to_json()
    return report.first_bad.seq, report.first_bad.reason


async def row(conn: Connection, seq: int) -> dict[str, Any]:
    sql = f"SELECT {COLUMNS} FROM audit_entries WHERE seq = :s"  # noqa: S608 - constant columns
    found = await conn.fetch_one(sql, {"s": seq})
    assert found is not None
    return found


async def put(conn: Connection, values: dict[str, Any]) -> None:
    placeholders = ", ".join(":" + name for name in COLUMNS.split(", "))
    sql = f"INSERT INTO audit_entries ({COLUMNS}) VALUES ({placeholders})"  # noqa: S608 - constants
    await conn.execute(sql, values)


async def test_untouched_log_verifies(
    log_of_20: SQLiteStore, signer: Ed25519CheckpointSigner
) -> None:
    report = await verify(log_of_20, signer)
    assert report.ok, report.to_json()
    assert (report.entries, report.checkpoints, report.checkpoints_matched) == (20, 2, 2)


async def test_changed_entry_is_named(
    log_of_20: SQLiteStore, signer: Ed25519CheckpointSigner
) -> None:
    async with log_of_20.transaction() as conn:
        await conn.execute("UPDATE audit_entries SET data = '{\"n\":999}' WHERE seq = 5")
    assert await first_bad(log_of_20, signer) == (5, "changed")


async def test_changed_entry_with_recomputed_hash_is_named_by_its_successor(
    log_of_20: SQLiteStore, signer: Ed25519CheckpointSigner
) -> None:
    async with log_of_20.transaction() as conn:
        entry = await row(conn, 11)
        entry["kind"] = "application.withdrawn"
        entry["leaf_hash"] = leaf_hash(entry_bytes(entry))
        await conn.execute(
            "UPDATE audit_entries SET kind = :kind, leaf_hash = :leaf_hash WHERE seq = 11", entry
        )
    assert await first_bad(log_of_20, signer) == (11, "rewritten")


async def test_deleted_entry_is_named(
    log_of_20: SQLiteStore, signer: Ed25519CheckpointSigner
) -> None:
    async with log_of_20.transaction() as conn:
        await conn.execute("DELETE FROM audit_entries WHERE seq = 6")
    assert await first_bad(log_of_20, signer) == (6, "deleted")


async def test_deleted_entries_at_the_end_are_caught_by_the_checkpoint(
    log_of_20: SQLiteStore, signer: Ed25519CheckpointSigner
) -> None:
    async with log_of_20.transaction() as conn:
        await conn.execute("DELETE FROM audit_entries WHERE seq >= 17")
    assert await first_bad(log_of_20, signer) == (17, "deleted")


async def test_reordered_entries_are_named(
    log_of_20: SQLiteStore, signer: Ed25519CheckpointSigner
) -> None:
    async with log_of_20.transaction() as conn:
        a, b = await row(conn, 9), await row(conn, 10)
        await conn.execute("DELETE FROM audit_entries WHERE seq IN (9, 10)")
        await put(conn, {**b, "seq": 9})
        await put(conn, {**a, "seq": 10})
    assert await first_bad(log_of_20, signer) == (9, "changed")


async def test_inserted_entry_is_named(
    log_of_20: SQLiteStore, signer: Ed25519CheckpointSigner
) -> None:
    """A forged entry, hashed correctly and chained to entry 3, slipped in at position 4."""
    async with log_of_20.transaction() as conn:
        for seq in range(19, 3, -1):  # make room: renumber 4..19 to 5..20, top down
            await conn.execute("UPDATE audit_entries SET seq = seq + 1 WHERE seq = :s", {"s": seq})
        before = await row(conn, 3)
        forged = {
            **before,
            "seq": 4,
            "kind": "application.approved",
            "prev_hash": before["leaf_hash"],
        }
        forged["leaf_hash"] = leaf_hash(entry_bytes(forged))
        await put(conn, forged)
    assert await first_bad(log_of_20, signer) == (4, "inserted")


async def test_full_rewrite_with_every_hash_recomputed_is_caught_by_the_signatures(
    log_of_20: SQLiteStore, signer: Ed25519CheckpointSigner
) -> None:
    """Someone who rehashes the whole tail defeats the chain, not the signed checkpoint."""
    async with log_of_20.transaction() as conn:
        rows = [await row(conn, seq) for seq in range(20)]
        await conn.execute("DELETE FROM audit_entries WHERE seq >= 12")
        prev = rows[11]["leaf_hash"]
        for entry in rows[12:]:
            forged = {**entry, "actor": "system:forger", "prev_hash": prev}
            forged["leaf_hash"] = prev = leaf_hash(entry_bytes(forged))
            await put(conn, forged)
    report = await verify(log_of_20, signer)
    assert report.first_bad is not None
    assert (report.first_bad.seq, report.first_bad.reason) == (8, "rewritten")
    assert report.first_bad.tree_size == 20
    assert [p.tree_size for p in report.checkpoint_problems] == [20]


async def test_forged_checkpoint_is_named(
    log_of_20: SQLiteStore, signer: Ed25519CheckpointSigner
) -> None:
    async with log_of_20.transaction() as conn:
        await conn.execute("UPDATE audit_checkpoints SET time = 'yesterday' WHERE tree_size = 8")
    report = await verify(log_of_20, signer)
    assert report.first_bad is None
    assert [(p.reason, p.tree_size) for p in report.checkpoint_problems] == [("signature", 8)]
    assert not report.ok


async def test_checkpoint_of_another_key_or_log_is_refused(
    store: SQLiteStore, audit_log: AuditLog, proofs: ProofService, signer: Ed25519CheckpointSigner
) -> None:
    await append_many(store, audit_log, 4)
    stranger = Ed25519CheckpointSigner(Ed25519PrivateKey.generate())
    await Sealer(store, proofs, stranger, ORIGIN, every_entries=1, interval_seconds=1).seal()
    await append_many(store, audit_log, 1)
    await Sealer(store, proofs, signer, "tongban:other", every_entries=1, interval_seconds=1).seal()
    report = await verify(store, signer)
    assert [(p.reason, p.tree_size) for p in report.checkpoint_problems] == [
        ("signature", 4),
        ("origin", 5),
    ]


async def exported(
    store: SQLiteStore, signer: Ed25519CheckpointSigner, path: Path, *, first: int, last: int
) -> Path:
    await write_export(
        store,
        ProofService(store),
        path,
        keys=[public_jwk(signer.public_key)],
        first=first,
        last=last,
    )
    return path


@pytest.mark.parametrize(("first", "last"), [(0, 19), (0, 7), (3, 15), (8, 19), (19, 19)])
async def test_export_of_any_range_verifies_offline(
    log_of_20: SQLiteStore, signer: Ed25519CheckpointSigner, tmp_path: Path, first: int, last: int
) -> None:
    path = await exported(log_of_20, signer, tmp_path / "e.jsonl", first=first, last=last)
    report, pinned = verify_export(path, {signer.key_id: signer.public_key})
    assert report.ok, report.to_json()
    assert pinned
    assert report.entries == last - first + 1
    assert report.checkpoints_matched >= 1


def rewrite_lines(path: Path, change: Any) -> None:
    lines = [json.loads(t) for t in path.read_text(encoding="utf-8").splitlines()]
    lines = change(lines)
    path.write_text("".join(json.dumps(d) + "\n" for d in lines), encoding="utf-8")


def entry_at(lines: list[dict[str, Any]], seq: int) -> int:
    return next(i for i, d in enumerate(lines) if d["type"] == "entry" and d["seq"] == seq)


async def test_export_tampering_is_named(
    log_of_20: SQLiteStore, signer: Ed25519CheckpointSigner, tmp_path: Path
) -> None:
    keys = {signer.key_id: signer.public_key}
    path = await exported(log_of_20, signer, tmp_path / "e.jsonl", first=3, last=15)

    def change(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        lines[entry_at(lines, 7)]["data"]["n"] = 70
        return lines

    rewrite_lines(path, change)
    report, _ = verify_export(path, keys)
    assert report.first_bad is not None
    assert (report.first_bad.seq, report.first_bad.reason) == (7, "changed")

    path = await exported(log_of_20, signer, tmp_path / "d.jsonl", first=3, last=15)
    rewrite_lines(path, lambda lines: [d for d in lines if d.get("seq") != 15])
    report, _ = verify_export(path, keys)
    assert report.first_bad is not None
    assert (report.first_bad.seq, report.first_bad.reason) == (15, "deleted")

    path = await exported(log_of_20, signer, tmp_path / "k.jsonl", first=3, last=15)
    stranger = Ed25519PrivateKey.generate()

    def resign(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for d in lines:
            if d["type"] == "checkpoint":
                cp = Checkpoint.from_json(d)
                forged = Checkpoint(cp.origin, cp.tree_size, cp.root_hash, cp.time, "")
                s = Ed25519CheckpointSigner(stranger)
                d.update(forged.signed_by(s).to_json())
        return lines

    rewrite_lines(path, resign)
    report, _ = verify_export(path, keys)  # pinned keys: the forger's key is unknown
    assert {p.reason for p in report.checkpoint_problems} == {"signature"}
    assert jwk_thumbprint(stranger.public_key()) in report.checkpoint_problems[0].message
