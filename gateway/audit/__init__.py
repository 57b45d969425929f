"""The tamper-evident audit log.

An entry is something the gateway did or saw, about one application or partner,
at one time. Entries are appended in the same transaction as what they describe,
hashed as RFC 9162 Merkle leaves over their RFC 8785 canonical bytes, chained to
the entry before, and covered by Ed25519-signed checkpoints; anyone holding a
checkpoint can be given inclusion and consistency proofs, and `tongban audit
verify` recomputes it all. No personal data in the clear: record `pseudonymise`
digests or masked values.

Modules: `canonical` (RFC 8785 bytes), `merkle` (hashing, proofs), `log`
(append), `checkpoints` (signed tree heads, keys), `sealer` (the background
task), `proofs` (proofs over the store), `verify`, `parallel` (verification's
worker processes), `export`, `service` (lifecycle), `cli`.

The names below are imported on first use (PEP 562), not with the package: a
verification worker process imports `parallel` alone, without the store, the
cryptography and the rest that these pull in (~0.6 s of CPU per process).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.audit.checkpoints import (
        Checkpoint,
        CheckpointSigner,
        Ed25519CheckpointSigner,
        jwk_thumbprint,
    )
    from gateway.audit.log import AuditLog, Entry, Position, looks_personal, pseudonymise
    from gateway.audit.proofs import ProofService
    from gateway.audit.sealer import Sealer
    from gateway.audit.service import AuditService, running_audit
    from gateway.audit.verify import Finding, Report, Verifier, verify_store

_HOMES = {
    "Checkpoint": "checkpoints",
    "CheckpointSigner": "checkpoints",
    "Ed25519CheckpointSigner": "checkpoints",
    "jwk_thumbprint": "checkpoints",
    "AuditLog": "log",
    "Entry": "log",
    "Position": "log",
    "looks_personal": "log",
    "pseudonymise": "log",
    "ProofService": "proofs",
    "Sealer": "sealer",
    "AuditService": "service",
    "running_audit": "service",
    "Finding": "verify",
    "Report": "verify",
    "Verifier": "verify",
    "verify_store": "verify",
}

__all__ = [
    "AuditLog",
    "AuditService",
    "Checkpoint",
    "CheckpointSigner",
    "Ed25519CheckpointSigner",
    "Entry",
    "Finding",
    "Position",
    "ProofService",
    "Report",
    "Sealer",
    "Verifier",
    "jwk_thumbprint",
    "looks_personal",
    "pseudonymise",
    "running_audit",
    "verify_store",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
