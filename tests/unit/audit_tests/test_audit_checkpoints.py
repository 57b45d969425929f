"""Signed checkpoints, the sealer, and proofs over the stored log."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from support.at_rest import TEST_PASSPHRASE

from audit_tests.audit_support import ORIGIN, append_many
from gateway.audit import AuditLog, Ed25519CheckpointSigner, ProofService, Sealer, jwk_thumbprint
from gateway.audit.checkpoints import Checkpoint, load_or_create_key, signature_problem
from gateway.audit.merkle import root_from_leaves, verify_consistency, verify_inclusion
from gateway.errors import AuditError
from gateway.store import SQLiteStore


@asynccontextmanager
async def running(sealer: Sealer) -> AsyncIterator[None]:
    """The sealer's background loop, for the block; it ends by cancellation, not by itself."""
    task = asyncio.create_task(sealer.run())
    try:
        yield
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def sealed_up_to(store: SQLiteStore, size: int) -> None:
    """Wait (10 s at most) until the latest checkpoint covers `size` entries."""
    async with asyncio.timeout(10):
        while True:
            async with store.transaction() as conn:
                row = await conn.fetch_one("SELECT max(tree_size) AS n FROM audit_checkpoints")
            if row and row["n"] == size:
                return
            await asyncio.sleep(0.01)


def test_key_id_is_the_rfc7638_thumbprint() -> None:
    # RFC 8037 Appendix A.3: the thumbprint of the example Ed25519 key.
    x = base64.urlsafe_b64decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
    key = Ed25519PublicKey.from_public_bytes(x)
    assert jwk_thumbprint(key) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_signature_covers_the_documented_bytes(signer: Ed25519CheckpointSigner) -> None:
    root = hashlib.sha256(b"root").digest()
    checkpoint = Checkpoint(ORIGIN, 7, root, "2025-01-31T08:00:00.000000Z", "").signed_by(signer)
    documented = (
        "tongban-audit-checkpoint/v1\n"
        f"origin {ORIGIN}\nsize 7\nroot {root.hex()}\n"
        f"time 2025-01-31T08:00:00.000000Z\nkey {signer.key_id}\n"
    ).encode()
    signer.public_key.verify(checkpoint.signature, documented)  # raises if not
    with pytest.raises(InvalidSignature):
        signer.public_key.verify(checkpoint.signature, documented.replace(b"size 7", b"size 8"))
    assert signature_problem(checkpoint, {signer.key_id: signer.public_key}) is None
    other = Ed25519PrivateKey.generate().public_key()
    assert signature_problem(checkpoint, {signer.key_id: other}) == "signature does not verify"
    assert "unknown key" in (signature_problem(checkpoint, {}) or "")


def test_checkpoint_json_round_trips(signer: Ed25519CheckpointSigner) -> None:
    checkpoint = Checkpoint(ORIGIN, 3, bytes(32), "t", "").signed_by(signer)
    assert Checkpoint.from_json(checkpoint.to_json()) == checkpoint


def test_key_file_is_created_private_and_read_back(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "keys" / "audit.pem"
    created = load_or_create_key(path, TEST_PASSPHRASE)
    assert path.stat().st_mode & 0o777 == 0o600
    assert jwk_thumbprint(load_or_create_key(path, TEST_PASSPHRASE).public_key()) == jwk_thumbprint(
        created.public_key()
    )


async def test_seal_signs_the_root_of_the_committed_log(
    store: SQLiteStore, audit_log: AuditLog, sealer: Sealer, signer: Ed25519CheckpointSigner
) -> None:
    assert await sealer.seal() is None  # nothing to seal yet
    await append_many(store, audit_log, 23)
    checkpoint = await sealer.seal()
    assert checkpoint is not None
    async with store.transaction() as conn:
        rows = await conn.fetch_all("SELECT leaf_hash FROM audit_entries ORDER BY seq")
    assert checkpoint.tree_size == 23
    assert checkpoint.root_hash == root_from_leaves(bytes(r["leaf_hash"]) for r in rows)
    assert signature_problem(checkpoint, {signer.key_id: signer.public_key}) is None
    assert await sealer.seal() is None  # no growth, no new checkpoint


async def test_proofs_from_the_store_verify_for_every_position_and_size(
    store: SQLiteStore, audit_log: AuditLog, proofs: ProofService
) -> None:
    await append_many(store, audit_log, 37)
    async with store.transaction() as conn:
        rows = await conn.fetch_all("SELECT leaf_hash FROM audit_entries ORDER BY seq")
    leaves = [bytes(r["leaf_hash"]) for r in rows]
    roots = [root_from_leaves(leaves[:n]) for n in range(38)]
    for size in range(1, 38):
        assert await proofs.root(size) == roots[size]
        for index in range(size):
            path = await proofs.inclusion(index, size)
            assert verify_inclusion(leaves[index], index, size, path, roots[size])
        for first in range(1, size + 1):
            proof = await proofs.consistency(first, size)
            assert verify_consistency(first, size, roots[first], roots[size], proof)


async def test_background_sealer_seals_after_n_entries_without_blocking_appends(
    store: SQLiteStore, proofs: ProofService, signer: Ed25519CheckpointSigner
) -> None:
    sealer = Sealer(store, proofs, signer, ORIGIN, every_entries=5, interval_seconds=3600)
    log = AuditLog("sqlite", on_append=sealer.nudge)
    async with running(sealer):
        await append_many(store, log, 5)
        await sealed_up_to(store, 5)


async def test_background_sealer_seals_after_the_interval(
    store: SQLiteStore, proofs: ProofService, signer: Ed25519CheckpointSigner
) -> None:
    sealer = Sealer(store, proofs, signer, ORIGIN, every_entries=1000, interval_seconds=0.05)
    await append_many(store, AuditLog("sqlite", on_append=sealer.nudge), 3)
    async with running(sealer):
        await sealed_up_to(store, 3)


async def test_sealer_refuses_to_sign_over_a_rewritten_history(
    store: SQLiteStore, audit_log: AuditLog, sealer: Sealer, signer: Ed25519CheckpointSigner
) -> None:
    await append_many(store, audit_log, 8)
    await sealer.seal()
    async with store.transaction() as conn:
        await conn.execute("DROP TRIGGER audit_entries_no_update")
        await conn.execute(
            "UPDATE audit_entries SET leaf_hash = :h WHERE seq = 3", {"h": bytes(32)}
        )
    await append_many(store, audit_log, 2)
    fresh = Sealer(store, ProofService(store, tile_height=2), signer, ORIGIN,
                   every_entries=10, interval_seconds=3600)  # fmt: skip
    with pytest.raises(AuditError, match="refusing"):
        await fresh.seal()


def test_time_format_is_fixed() -> None:
    from gateway.audit.log import format_time

    moment = datetime(2025, 1, 31, 16, 0, tzinfo=UTC)
    assert format_time(moment) == "2025-01-31T16:00:00.000000Z"
