"""Signed checkpoints: a tree head (size, root, time) signed with the gateway's key.

The signature is Ed25519 over exactly these UTF-8 bytes, each line ending in
``\\n`` (in the spirit of C2SP tlog-checkpoint, with explicit labels)::

    tongban-audit-checkpoint/v1
    origin <origin: which log, e.g. tongban:<installation id>>
    size <tree size, decimal>
    root <root hash, 64 lowercase hex digits>
    time <UTC time, 2025-01-31T08:00:00.000000Z>
    key <key id: RFC 7638 JWK thumbprint of the public key>

Anyone holding the public key can check a checkpoint offline; the key id says
which key to use, so keys can rotate while old checkpoints stay verifiable. The
published recipe partners follow is ``contracts/audit-checkpoints.md``: change
this format only together with it (a test checks a live checkpoint by it).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gateway.errors import AuditFileError
from gateway.security import at_rest
from gateway.store import Row

__all__ = [
    "CHECKPOINT_FORMAT",
    "Checkpoint",
    "CheckpointSigner",
    "Ed25519CheckpointSigner",
    "jwk_thumbprint",
    "load_gateway_public_keys",
    "load_or_create_key",
    "load_public_keys",
    "load_public_keys_from_jwks",
    "public_jwk",
    "signature_problem",
]

CHECKPOINT_FORMAT = "tongban-audit-checkpoint/v1"


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def public_jwk(public_key: Ed25519PublicKey) -> dict[str, str]:
    """The RFC 8037 JWK of an Ed25519 public key (``kty``, ``crv``, ``x``, ``kid``)."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw)}
    return {**jwk, "kid": jwk_thumbprint(public_key), "use": "sig", "alg": "EdDSA"}


def jwk_thumbprint(public_key: Ed25519PublicKey) -> str:
    """The RFC 7638 thumbprint (SHA-256, base64url) of the key's JWK: its key id."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    # RFC 7638 §3.2: the required members only, sorted, no whitespace.
    members = json.dumps(
        {"crv": "Ed25519", "kty": "OKP", "x": _b64url(raw)}, separators=(",", ":"), sort_keys=True
    )
    return _b64url(hashlib.sha256(members.encode("ascii")).digest())


class CheckpointSigner(Protocol):
    """What the sealer needs from a key: its id and a signature over bytes."""

    @property
    def key_id(self) -> str:
        """The id verifiers look the public key up by (RFC 7638 thumbprint)."""
        ...

    def sign(self, message: bytes) -> bytes:
        """Sign `message`; return the raw signature."""
        ...


class Ed25519CheckpointSigner:
    """A `CheckpointSigner` over an Ed25519 private key held in memory."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self.public_key = private_key.public_key()
        self._key_id = jwk_thumbprint(self.public_key)

    @property
    def key_id(self) -> str:
        return self._key_id

    def sign(self, message: bytes) -> bytes:
        return self._private_key.sign(message)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed tree head: the first `tree_size` entries hash to `root_hash`."""

    origin: str
    tree_size: int
    root_hash: bytes
    time: str
    key_id: str
    signature: bytes = b""

    def signed_bytes(self) -> bytes:
        """The exact bytes the signature covers (see the module docstring)."""
        for name in ("origin", "time", "key_id"):
            if "\n" in getattr(self, name):
                raise ValueError(f"checkpoint {name} must not contain a newline")
        return (
            f"{CHECKPOINT_FORMAT}\norigin {self.origin}\nsize {self.tree_size}\n"
            f"root {self.root_hash.hex()}\ntime {self.time}\nkey {self.key_id}\n"
        ).encode()

    def signed_by(self, signer: CheckpointSigner) -> Checkpoint:
        """This checkpoint with `signer`'s key id and signature."""
        unsigned = Checkpoint(self.origin, self.tree_size, self.root_hash, self.time, signer.key_id)
        return Checkpoint(
            **{**unsigned.to_row(), "signature": signer.sign(unsigned.signed_bytes())}
        )

    def to_row(self) -> dict[str, Any]:
        """The ``audit_checkpoints`` row."""
        return {
            "origin": self.origin,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash,
            "time": self.time,
            "key_id": self.key_id,
            "signature": self.signature,
        }

    @classmethod
    def from_row(cls, row: Row) -> Checkpoint:
        """Read a checkpoint from an ``audit_checkpoints`` row."""
        return cls(
            origin=row["origin"],
            tree_size=row["tree_size"],
            root_hash=bytes(row["root_hash"]),
            time=row["time"],
            key_id=row["key_id"],
            signature=bytes(row["signature"]),
        )

    def to_json(self) -> dict[str, Any]:
        """JSON form: hashes in hex, the signature in base64, the signed format named."""
        return {
            "format": CHECKPOINT_FORMAT,
            "origin": self.origin,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "time": self.time,
            "key_id": self.key_id,
            "signature": base64.b64encode(self.signature).decode("ascii"),
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Checkpoint:
        """Parse `to_json`'s form. Raises `ValueError` (or `KeyError`) if malformed."""
        if document.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"not a {CHECKPOINT_FORMAT} checkpoint")
        root = bytes.fromhex(document["root_hash"])
        size = document["tree_size"]
        if len(root) != 32 or type(size) is not int or size < 1:
            raise ValueError("checkpoint root or size is malformed")
        return cls(
            origin=str(document["origin"]),
            tree_size=size,
            root_hash=root,
            time=str(document["time"]),
            key_id=str(document["key_id"]),
            signature=base64.b64decode(document["signature"], validate=True),
        )


def signature_problem(checkpoint: Checkpoint, keys: Mapping[str, Ed25519PublicKey]) -> str | None:
    """Why `checkpoint`'s signature does not verify with `keys` (by key id), or None."""
    key = keys.get(checkpoint.key_id)
    if key is None:
        return f"signed by unknown key {checkpoint.key_id!r}"
    try:
        key.verify(checkpoint.signature, checkpoint.signed_bytes())
    except (InvalidSignature, ValueError):
        return "signature does not verify"
    return None


def load_or_create_key(path: Path, passphrase: str | None) -> Ed25519PrivateKey:
    """Decrypt the Ed25519 checkpoint key at `path`, creating it if absent.

    Kept as encrypted PKCS#8 PEM under the key passphrase, like the gateway key,
    its public half beside it (`at_rest.public_pem_path`). Raises `KeyStoreError`
    if the passphrase is missing or wrong, or the file is an older install's
    unencrypted key (the message names the command that encrypts it in place).
    """
    if not path.exists():
        return at_rest.new_private_pem(path, passphrase)
    return at_rest.load_private_pem(path, passphrase)


def load_gateway_public_keys(path: Path, passphrase: str | None) -> dict[str, Ed25519PublicKey]:
    """The checkpoint key's public half by key id: from ``*.pub.pem``, else by decrypting."""
    public = at_rest.public_pem_path(path)
    if public.exists():
        return load_public_keys(public)
    key = at_rest.load_private_pem(path, passphrase).public_key()
    return {jwk_thumbprint(key): key}


def load_public_keys(path: Path) -> dict[str, Ed25519PublicKey]:
    """Trusted public keys by key id, from a JWKS file or a PEM public/private key.

    Raises `AuditFileError` if the file is unreadable or holds no Ed25519 key.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise AuditFileError(exc.strerror or str(exc), str(path)) from exc
    keys: dict[str, Ed25519PublicKey] = {}
    try:
        if raw.lstrip().startswith(b"{"):
            keys = load_public_keys_from_jwks(json.loads(raw))
        elif b"PRIVATE KEY" in raw:
            private = serialization.load_pem_private_key(raw, password=None)
            if isinstance(private, Ed25519PrivateKey):
                keys[jwk_thumbprint(private.public_key())] = private.public_key()
        else:
            public = serialization.load_pem_public_key(raw)
            if isinstance(public, Ed25519PublicKey):
                keys[jwk_thumbprint(public)] = public
    except (ValueError, KeyError, TypeError) as exc:
        raise AuditFileError(f"not a JWKS or PEM key file: {exc}", str(path)) from exc
    if not keys:
        raise AuditFileError("no Ed25519 key in the file", str(path))
    return keys


def load_public_keys_from_jwks(jwks: Mapping[str, Any]) -> dict[str, Ed25519PublicKey]:
    """The Ed25519 keys of a JWKS document, by RFC 7638 thumbprint (``kid`` is not trusted).

    Raises `ValueError`, `KeyError` or `TypeError` if the document is malformed.
    """
    keys = {}
    for jwk in jwks["keys"]:
        if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
            x = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
            key = Ed25519PublicKey.from_public_bytes(x)
            keys[jwk_thumbprint(key)] = key
    return keys
