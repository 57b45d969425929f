"""Trusted checkpoints: signed tree heads kept away from the gateway, to check its log against.

Someone with write access to the data directory can delete the newest entries
and checkpoints, or rewrite an entry and re-sign every checkpoint with the key on
disk: the log and its own checkpoints then agree, and only a checkpoint kept
elsewhere can tell. `tongban audit checkpoint --save FILE` writes one
(`saved_document`): the checkpoint as ``GET /v1/audit/checkpoints/latest`` gives
it, plus the public keys it verified with when saved (``keys``, a JWK list).
`tongban audit verify --trusted FILE|URL` reads them back (`load_trusted`).

A trusted checkpoint's signature is checked with keys the verifier trusts: those
given with ``--key``, else the ones saved in the file itself (it was saved while
the key was trusted) — never the key currently on disk, which the tamperer holds.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.audit.checkpoints import Checkpoint, load_public_keys_from_jwks, public_jwk
from gateway.errors import AuditFileError

__all__ = ["TrustedCheckpoint", "load_trusted", "saved_document"]

_MAX_BYTES = 1 << 20  # a checkpoint is a few hundred bytes
_TIMEOUT_SECONDS = 10


@dataclass(frozen=True, slots=True)
class TrustedCheckpoint:
    """A checkpoint from `source`, and the keys to check it with (by key id)."""

    source: str
    checkpoint: Checkpoint
    keys: Mapping[str, Ed25519PublicKey]


def saved_document(checkpoint: Checkpoint, keys: Mapping[str, Ed25519PublicKey]) -> dict[str, Any]:
    """What ``audit checkpoint --save`` writes: the checkpoint, its keys, when it was saved."""
    return {
        **checkpoint.to_json(),
        "keys": [public_jwk(key) for key in keys.values()],
        "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _read(source: str) -> bytes:
    if source.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(source, timeout=_TIMEOUT_SECONDS) as response:  # noqa: S310 - scheme checked
                raw: bytes = response.read(_MAX_BYTES + 1)
        except urllib.error.HTTPError as exc:
            exc.close()  # it holds the response open
            raise AuditFileError(f"cannot fetch the trusted checkpoint: {exc}", source) from exc
        except (OSError, ValueError) as exc:
            raise AuditFileError(f"cannot fetch the trusted checkpoint: {exc}", source) from exc
    else:
        try:
            with Path(source).open("rb") as file:
                raw = file.read(_MAX_BYTES + 1)
        except OSError as exc:
            raise AuditFileError(exc.strerror or str(exc), source) from exc
    if len(raw) > _MAX_BYTES:
        raise AuditFileError("too large for a checkpoint", source)
    return raw


def load_trusted(
    source: str, pinned: Mapping[str, Ed25519PublicKey] | None = None
) -> TrustedCheckpoint:
    """Read the checkpoint at `source` (a file path or an http(s) URL).

    Its keys are `pinned` if given, else those saved in the document. Raises
    `AuditFileError` if it cannot be read, is not a checkpoint, or no key is
    trusted for it.
    """
    try:
        document = json.loads(_read(source))
        if not isinstance(document, dict):
            raise ValueError("not a JSON object")
        checkpoint = Checkpoint.from_json(document)
        saved = {"keys": document.get("keys") or []}
        keys = dict(pinned) if pinned else load_public_keys_from_jwks(saved)
    except (ValueError, KeyError, TypeError) as exc:
        raise AuditFileError(f"not a saved checkpoint: {exc}", source) from exc
    if not keys:
        raise AuditFileError("no key to check it with: pass --key with the gateway's keys", source)
    return TrustedCheckpoint(source, checkpoint, keys)
