"""The audit log as a running service: its parts, opened and closed together.

`running_audit` loads the checkpoint key, builds the `AuditLog`, the
`ProofService` and the `Sealer`, starts the sealer task, and on exit cancels
it, awaits it, and seals once more so the last entries get a checkpoint. The
app opens it in one `cleanup_ctx`; the CLI opens the same parts without the task.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.audit.checkpoints import (
    Ed25519CheckpointSigner,
    load_or_create_key,
    public_jwk,
)
from gateway.audit.log import AuditLog
from gateway.audit.proofs import ProofService
from gateway.audit.sealer import Sealer
from gateway.config import Settings
from gateway.errors import TongbanError
from gateway.security.wiring import key_passphrase
from gateway.store import Store

__all__ = [
    "AuditService",
    "checkpoint_key_path",
    "origin_for",
    "running_audit",
]

log = structlog.get_logger("gateway.audit")


@dataclass(frozen=True, slots=True)
class AuditService:
    """Everything the routes and the application code need from the audit log."""

    store: Store
    log: AuditLog
    proofs: ProofService
    sealer: Sealer
    signer: Ed25519CheckpointSigner

    @property
    def origin(self) -> str:
        return self.sealer.origin

    @property
    def trusted_keys(self) -> dict[str, Ed25519PublicKey]:
        """The public keys checkpoints of this gateway verify with, by key id."""
        return {self.signer.key_id: self.signer.public_key}

    @property
    def jwks(self) -> list[dict[str, str]]:
        return [public_jwk(self.signer.public_key)]


def checkpoint_key_path(settings: Settings) -> Path:
    """Where the checkpoint signing key lives."""
    return settings.audit.signing_key_file or settings.data_dir / "keys" / "audit-checkpoint.pem"


def origin_for(installation_id: str) -> str:
    """The origin line of this installation's checkpoints."""
    return f"tongban:{installation_id}"


async def build_audit(store: Store, settings: Settings, installation_id: str) -> AuditService:
    """Assemble the audit parts over `store` (no background task)."""
    key = await asyncio.to_thread(
        load_or_create_key, checkpoint_key_path(settings), key_passphrase(settings)
    )
    signer = Ed25519CheckpointSigner(key)
    proofs = ProofService(store)
    sealer = Sealer(
        store,
        proofs,
        signer,
        origin_for(installation_id),
        every_entries=settings.audit.checkpoint_every_entries,
        interval_seconds=settings.audit.checkpoint_interval_seconds,
    )
    return AuditService(
        store, AuditLog(store.backend, on_append=sealer.nudge), proofs, sealer, signer
    )


@contextlib.asynccontextmanager
async def running_audit(
    store: Store, settings: Settings, installation_id: str
) -> AsyncIterator[AuditService]:
    """The audit service with its sealer running, for as long as the block lasts."""
    service = await build_audit(store, settings, installation_id)
    task = asyncio.create_task(service.sealer.run(), name="audit-sealer")
    log.info("audit.started", origin=service.origin, key_id=service.signer.key_id)
    try:
        yield service
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        try:
            await service.sealer.seal()
        except TongbanError as exc:
            log.warning("audit.seal_failed", error=str(exc), error_type=type(exc).__name__)
