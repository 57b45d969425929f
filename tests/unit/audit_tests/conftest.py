"""Fixtures for the audit tests: a migrated SQLite store and the audit parts over it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from support.sqlite_store import migrated_sqlite

from audit_tests.audit_support import ORIGIN
from gateway.audit import AuditLog, Ed25519CheckpointSigner, ProofService, Sealer
from gateway.store import SQLiteStore


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    """A migrated SQLite store in this test's temporary directory."""
    async with migrated_sqlite(tmp_path / "audit.db") as opened:
        yield opened


@pytest.fixture
def signer() -> Ed25519CheckpointSigner:
    return Ed25519CheckpointSigner(Ed25519PrivateKey.generate())


@pytest.fixture
def proofs(store: SQLiteStore) -> ProofService:
    return ProofService(store, tile_height=2)  # small tiles: proofs cross tile edges often


@pytest.fixture
def sealer(store: SQLiteStore, proofs: ProofService, signer: Ed25519CheckpointSigner) -> Sealer:
    return Sealer(store, proofs, signer, ORIGIN, every_entries=10, interval_seconds=3600)


@pytest.fixture
def audit_log(sealer: Sealer) -> AuditLog:
    return AuditLog("sqlite", on_append=sealer.nudge)
