"""The gateway's SM2 keys: a key ring beside the Ed25519 one, rotated the same way.

Where a region requires 国密 (Zhangjiagang), the gateway signs with SM2 and opens
SM2 envelopes addressed to it. The ring lives in the same directory as the Ed25519
ring (`gateway.security.keys`) with its own files, so neither format changes:
``sm2-ring.json`` (ids, public points, creation and retirement times, the active
key) and one ``<kid>.sm2.pem`` per private key, PKCS#8 encrypted with the same
passphrase as the Ed25519 keys. A key's id is the RFC 7638 thumbprint of its JWK
(``kty`` EC, ``crv`` SM2).

Published in the JWK Set beside the Ed25519 keys (``/.well-known/tongban/keys``)
without ``use``: the key both signs and opens envelopes. ``tongban keys show --alg
sm2 --pem`` prints the SubjectPublicKeyInfo PEM that a region registers out of band.

Blocking file and KDF work: call from a thread when on the event loop.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gateway.errors import InvalidKey, KeyStoreError
from gateway.security.keys import write_private_file
from gateway.security.sm2 import SM2PrivateKey, SM2PublicKey

SM2_RING_FILE = "sm2-ring.json"
_RING_VERSION = 1


@dataclass(frozen=True)
class SM2GatewayKey:
    """One gateway SM2 key's public facts. `retired_at` is None while it is active."""

    kid: str
    public_key: SM2PublicKey
    created_at: datetime
    retired_at: datetime | None = None

    def published(self, now: datetime, grace: timedelta) -> bool:
        return self.retired_at is None or now < self.retired_at + grace

    def jwk(self) -> dict[str, str]:
        """The public JWK as published: ``kty`` EC, ``crv`` SM2, x, y, kid."""
        return {**self.public_key.jwk(), "kid": self.kid}


@dataclass(frozen=True)
class SM2KeyRing:
    """Every SM2 key known, newest last, and the id of the one in use."""

    active_kid: str
    keys: tuple[SM2GatewayKey, ...]

    @property
    def active(self) -> SM2GatewayKey:
        return next(key for key in self.keys if key.kid == self.active_kid)

    def get(self, kid: str) -> SM2GatewayKey | None:
        return next((key for key in self.keys if key.kid == kid), None)

    def published(self, now: datetime, grace: timedelta) -> list[SM2GatewayKey]:
        return [key for key in self.keys if key.published(now, grace)]


class SM2KeyStore:
    """The SM2 ring in the gateway key directory: create, read and rotate."""

    def __init__(self, directory: Path, passphrase: str | None) -> None:
        self.directory = directory
        self._passphrase = passphrase.encode("utf-8") if passphrase else None

    def exists(self) -> bool:
        return (self.directory / SM2_RING_FILE).is_file()

    def load_ring(self) -> SM2KeyRing:
        """Read ``sm2-ring.json``. Raises `KeyStoreError` if missing or malformed."""
        path = self.directory / SM2_RING_FILE
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            keys = tuple(
                SM2GatewayKey(
                    kid=entry["kid"],
                    public_key=SM2PublicKey.from_point(bytes.fromhex(entry["point"])),
                    created_at=datetime.fromisoformat(entry["created_at"]),
                    retired_at=(
                        datetime.fromisoformat(entry["retired_at"]) if entry["retired_at"] else None
                    ),
                )
                for entry in document["keys"]
            )
            ring = SM2KeyRing(active_kid=document["active"], keys=keys)
            ring.active  # noqa: B018 - checks the active key is in the ring
        except FileNotFoundError as exc:
            raise KeyStoreError(
                f"no SM2 key ring at {path}; create one with `tongban keys generate --alg sm2`"
            ) from exc
        except (OSError, ValueError, KeyError, TypeError, StopIteration) as exc:
            raise KeyStoreError(f"unreadable SM2 key ring {path}: {exc!r}") from exc
        for key in keys:
            if key.public_key.thumbprint() != key.kid:
                raise KeyStoreError(f"key ring {path}: kid {key.kid} is not its key's thumbprint")
        return ring

    def generate(self, now: datetime | None = None) -> SM2KeyRing:
        """Create the first SM2 key. Raises `KeyStoreError` if an SM2 ring exists."""
        if self.exists():
            raise KeyStoreError(
                f"an SM2 key ring already exists in {self.directory}; "
                "use `tongban keys rotate --alg sm2`"
            )
        key = self._new_key(now or datetime.now(UTC))
        ring = SM2KeyRing(active_kid=key.kid, keys=(key,))
        self._write_ring(ring)
        return ring

    def rotate(self, grace: timedelta, now: datetime | None = None) -> SM2KeyRing:
        """A new active key; the old one stays published for `grace`, then is deleted."""
        now = now or datetime.now(UTC)
        ring = self.load_ring()
        kept = []
        for key in ring.keys:
            if key.kid == ring.active_kid:
                key = replace(key, retired_at=now)
            if key.published(now, grace):
                kept.append(key)
            else:
                (self.directory / f"{key.kid}.sm2.pem").unlink(missing_ok=True)
        new = self._new_key(now)
        rotated = SM2KeyRing(active_kid=new.kid, keys=(*kept, new))
        self._write_ring(rotated)
        return rotated

    def load_private(self, kid: str) -> SM2PrivateKey:
        """Decrypt the private key `kid`. Raises `KeyStoreError` (missing, wrong passphrase)."""
        if self._passphrase is None:
            raise KeyStoreError("no key passphrase configured (TONGBAN_SECURITY__KEY_PASSPHRASE)")
        path = self.directory / f"{kid}.sm2.pem"
        try:
            key = SM2PrivateKey.from_pem(path.read_bytes(), self._passphrase)
        except OSError as exc:
            raise KeyStoreError(f"cannot read private key {path}: {exc.strerror}") from exc
        except InvalidKey as exc:
            raise KeyStoreError(f"cannot decrypt {path}: wrong passphrase or damaged file") from exc
        if key.public_key().thumbprint() != kid:
            raise KeyStoreError(f"{path} does not hold the SM2 key {kid}")
        return key

    def _new_key(self, now: datetime) -> SM2GatewayKey:
        if self._passphrase is None:
            raise KeyStoreError(
                "set a key passphrase (TONGBAN_SECURITY__KEY_PASSPHRASE) before creating keys"
            )
        private = SM2PrivateKey.generate()
        public = private.public_key()
        write_private_file(
            self.directory / f"{public.thumbprint()}.sm2.pem", private.to_pem(self._passphrase)
        )
        return SM2GatewayKey(kid=public.thumbprint(), public_key=public, created_at=now)

    def _write_ring(self, ring: SM2KeyRing) -> None:
        document: dict[str, Any] = {
            "version": _RING_VERSION,
            "active": ring.active_kid,
            "keys": [
                {
                    "kid": key.kid,
                    "point": key.public_key.point.hex(),
                    "created_at": key.created_at.isoformat(),
                    "retired_at": key.retired_at.isoformat() if key.retired_at else None,
                }
                for key in ring.keys
            ],
        }
        write_private_file(
            self.directory / SM2_RING_FILE, (json.dumps(document, indent=2) + "\n").encode("utf-8")
        )
