"""The gateway's own Ed25519 signing keys: a key ring on disk, rotated with a grace period.

A key ring directory holds ``ring.json`` (every key's id, public half, creation and
retirement time, and which key is active) and one ``<kid>.pem`` per private key,
PKCS#8 encrypted with the configured passphrase. A key's id is its RFC 7638 JWK
thumbprint, so anyone can recompute it from the published key.

Rotation makes a new key active and retires the previous one: a retired key no
longer signs but stays published (JWKS) for the grace period, so signatures and
receipts made just before the rotation still verify. After the grace period its
private key file is deleted on the next rotation.

The functions here do blocking file and KDF work; call them from a thread when on
the event loop (`asyncio.to_thread`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gateway.errors import KeyStoreError

RING_FILE = "ring.json"
_RING_VERSION = 1


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding; raise `ValueError` on junk."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def raw_public(key: Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of an Ed25519 public key."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    """The key's required JWK members (RFC 8037): kty, crv, x."""
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw_public(key))}


def thumbprint(key: Ed25519PublicKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url): the key's id."""
    members = public_jwk(key)
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":")).encode("ascii")
    return b64url(hashlib.sha256(canonical).digest())


def load_public_key(text: str) -> Ed25519PublicKey:
    """Read an Ed25519 public key given as PEM or as the JWK ``x`` value (base64url).

    Raises `ValueError` for anything else, including another key type.
    """
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text.encode("ascii"))
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise ValueError(f"not a PEM public key: {exc}") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("the PEM key is not an Ed25519 key")
        return key
    try:
        raw = b64url_decode(text)
    except ValueError as exc:
        raise ValueError("neither PEM nor base64url") from exc
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


@dataclass(frozen=True)
class GatewayKey:
    """One gateway key's public facts. `retired_at` is None while it is, or may become, active."""

    kid: str
    public_key: Ed25519PublicKey
    created_at: datetime
    retired_at: datetime | None = None

    def published(self, now: datetime, grace: timedelta) -> bool:
        """Whether the JWKS lists this key at `now`: not retired, or retired within `grace`."""
        return self.retired_at is None or now < self.retired_at + grace

    def jwk(self) -> dict[str, str]:
        """The public JWK as published: required members plus kid, use and alg."""
        return {**public_jwk(self.public_key), "kid": self.kid, "use": "sig", "alg": "EdDSA"}


@dataclass(frozen=True)
class KeyRing:
    """Every gateway key known, newest last, and the id of the one that signs."""

    active_kid: str
    keys: tuple[GatewayKey, ...]

    @property
    def active(self) -> GatewayKey:
        return next(key for key in self.keys if key.kid == self.active_kid)

    def get(self, kid: str) -> GatewayKey | None:
        return next((key for key in self.keys if key.kid == kid), None)

    def published(self, now: datetime, grace: timedelta) -> list[GatewayKey]:
        """Keys a verifier should trust at `now`: the active one and those in their grace."""
        return [key for key in self.keys if key.published(now, grace)]

    def jwks(self, now: datetime, grace: timedelta) -> dict[str, Any]:
        """The RFC 7517 JWK Set published at ``/.well-known/tongban/keys``."""
        return {"keys": [key.jwk() for key in self.published(now, grace)]}


class KeyStore:
    """The key ring directory: create, read and rotate keys.

    `passphrase` encrypts new private keys and decrypts them for signing; reading
    the public ring needs none.
    """

    def __init__(self, directory: Path, passphrase: str | None) -> None:
        self.directory = directory
        self._passphrase = passphrase.encode("utf-8") if passphrase else None

    def exists(self) -> bool:
        return (self.directory / RING_FILE).is_file()

    def load_ring(self) -> KeyRing:
        """Read ``ring.json``. Raises `KeyStoreError` if missing or malformed."""
        path = self.directory / RING_FILE
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            keys = tuple(
                GatewayKey(
                    kid=entry["kid"],
                    public_key=load_public_key(entry["x"]),
                    created_at=datetime.fromisoformat(entry["created_at"]),
                    retired_at=(
                        datetime.fromisoformat(entry["retired_at"]) if entry["retired_at"] else None
                    ),
                )
                for entry in document["keys"]
            )
            ring = KeyRing(active_kid=document["active"], keys=keys)
            ring.active  # noqa: B018 - checks the active key is in the ring
        except FileNotFoundError as exc:
            raise KeyStoreError(
                f"no gateway key ring at {path}; create one with `tongban keys generate`"
            ) from exc
        except (OSError, ValueError, KeyError, TypeError, StopIteration) as exc:
            raise KeyStoreError(f"unreadable gateway key ring {path}: {exc!r}") from exc
        for key in keys:
            if thumbprint(key.public_key) != key.kid:
                raise KeyStoreError(f"key ring {path}: kid {key.kid} is not its key's thumbprint")
        return ring

    def generate(self, now: datetime | None = None) -> KeyRing:
        """Create the first key. Raises `KeyStoreError` if a ring exists (use `rotate`)."""
        if self.exists():
            raise KeyStoreError(
                f"a key ring already exists in {self.directory}; use `tongban keys rotate`"
            )
        key = self._new_key(now or datetime.now(UTC))
        ring = KeyRing(active_kid=key.kid, keys=(key,))
        self._write_ring(ring)
        return ring

    def rotate(self, grace: timedelta, now: datetime | None = None) -> KeyRing:
        """Make a new key active; retire the old one; forget keys whose grace is over.

        The private key of a key past its grace period is deleted: it can no longer
        be needed to sign, and a key that does not exist cannot leak.
        """
        now = now or datetime.now(UTC)
        ring = self.load_ring()
        kept = []
        for key in ring.keys:
            if key.kid == ring.active_kid:
                key = replace(key, retired_at=now)
            if key.published(now, grace):
                kept.append(key)
            else:
                (self.directory / f"{key.kid}.pem").unlink(missing_ok=True)
        new = self._new_key(now)
        rotated = KeyRing(active_kid=new.kid, keys=(*kept, new))
        self._write_ring(rotated)
        return rotated

    def load_private(self, kid: str) -> Ed25519PrivateKey:
        """Decrypt the private key `kid`. Raises `KeyStoreError` (missing, wrong passphrase)."""
        if self._passphrase is None:
            raise KeyStoreError("no key passphrase configured (TONGBAN_SECURITY__KEY_PASSPHRASE)")
        path = self.directory / f"{kid}.pem"
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=self._passphrase)
        except OSError as exc:
            raise KeyStoreError(f"cannot read private key {path}: {exc.strerror}") from exc
        except (ValueError, TypeError) as exc:
            # cryptography says ValueError for a wrong passphrase; do not echo any of it.
            raise KeyStoreError(f"cannot decrypt {path}: wrong passphrase or damaged file") from exc
        if not isinstance(key, Ed25519PrivateKey) or thumbprint(key.public_key()) != kid:
            raise KeyStoreError(f"{path} does not hold the Ed25519 key {kid}")
        return key

    def _new_key(self, now: datetime) -> GatewayKey:
        if self._passphrase is None:
            raise KeyStoreError(
                "set a key passphrase (TONGBAN_SECURITY__KEY_PASSPHRASE) before creating keys"
            )
        private = Ed25519PrivateKey.generate()
        kid = thumbprint(private.public_key())
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(self._passphrase),
        )
        write_private_file(self.directory / f"{kid}.pem", pem)
        return GatewayKey(kid=kid, public_key=private.public_key(), created_at=now)

    def _write_ring(self, ring: KeyRing) -> None:
        document = {
            "version": _RING_VERSION,
            "active": ring.active_kid,
            "keys": [
                {
                    "kid": key.kid,
                    "x": b64url(raw_public(key.public_key)),
                    "created_at": key.created_at.isoformat(),
                    "retired_at": key.retired_at.isoformat() if key.retired_at else None,
                }
                for key in ring.keys
            ],
        }
        write_private_file(
            self.directory / RING_FILE, (json.dumps(document, indent=2) + "\n").encode("utf-8")
        )


def write_private_file(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically (temp file + rename), readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(handle, 0o600)
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
