"""A gateway key ring on disk, whatever the algorithm: rotated with a grace period.

A ring directory holds one ring file per algorithm (every key's id, public half,
creation and retirement time, and which key is active) and one private key file
per key, PKCS#8 encrypted with the configured passphrase. A key's id is its RFC
7638 JWK thumbprint, so anyone can recompute it from the published key.

Rotation makes a new key active and retires the previous one: a retired key no
longer signs but stays published (JWKS) for the grace period, so signatures made
just before the rotation still verify. After the grace period its private key
file is deleted on the next rotation.

What differs between algorithms (file names, how a key is made, serialised and
identified) is a `KeyKind`; `gateway.security.keys` (Ed25519) and
`gateway.security.sm2_keys` (SM2) each define one.

Blocking file and KDF work: call from a thread when on the event loop.
"""

from __future__ import annotations

import json
import os
import tempfile
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar

from gateway.errors import KeyStoreError

PublicT = TypeVar("PublicT")
PrivateT = TypeVar("PrivateT")

_RING_VERSION = 1


@dataclass(frozen=True)
class RingKey(ABC, Generic[PublicT]):
    """One key's public facts. `retired_at` is None while it is, or may become, active."""

    kid: str
    public_key: PublicT
    created_at: datetime
    retired_at: datetime | None = None

    def published(self, now: datetime, grace: timedelta) -> bool:
        """Whether the JWKS lists this key at `now`: not retired, or retired within `grace`."""
        return self.retired_at is None or now < self.retired_at + grace

    @abstractmethod
    def jwk(self) -> dict[str, str]:
        """The public JWK as published, with its kid."""


@dataclass(frozen=True)
class Ring(Generic[PublicT]):
    """Every key known, newest last, and the id of the one in use."""

    active_kid: str
    keys: tuple[RingKey[PublicT], ...]

    @property
    def active(self) -> RingKey[PublicT]:
        return next(key for key in self.keys if key.kid == self.active_kid)

    def get(self, kid: str) -> RingKey[PublicT] | None:
        return next((key for key in self.keys if key.kid == kid), None)

    def published(self, now: datetime, grace: timedelta) -> list[RingKey[PublicT]]:
        """Keys a verifier should trust at `now`: the active one and those in their grace."""
        return [key for key in self.keys if key.published(now, grace)]

    def jwks(self, now: datetime, grace: timedelta) -> dict[str, Any]:
        """The RFC 7517 JWK Set of the published keys."""
        return {"keys": [key.jwk() for key in self.published(now, grace)]}


class KeyKind(ABC, Generic[PublicT, PrivateT]):
    """What one algorithm's ring needs to know: file names, wording, key handling."""

    ring_file: str  # the ring's file name in the key directory
    private_suffix: str  # a private key's file is ``<kid><private_suffix>``
    public_field: str  # the ring entry member holding the public key
    algorithm: str  # as named in errors: "Ed25519", "SM2"
    ring_name: str  # as named in errors: "gateway key ring", "SM2 key ring"
    ring_exists: str  # the start of the "already exists" error
    cli_option: str  # the `tongban keys` option selecting this ring ("" for the default)
    key_type: type[RingKey[PublicT]]

    @abstractmethod
    def generate(self) -> PrivateT: ...

    @abstractmethod
    def public_of(self, private: PrivateT) -> PublicT: ...

    @abstractmethod
    def thumbprint(self, public: PublicT) -> str: ...

    @abstractmethod
    def encode_public(self, public: PublicT) -> str:
        """The public key as stored in the ring file."""

    @abstractmethod
    def decode_public(self, text: str) -> PublicT:
        """Read `encode_public`'s output; raise `ValueError` on anything else."""

    @abstractmethod
    def private_pem(self, private: PrivateT, passphrase: bytes) -> bytes:
        """The private key as encrypted PKCS#8 PEM."""

    @abstractmethod
    def load_private_pem(self, data: bytes, passphrase: bytes) -> PrivateT | None:
        """Decrypt `private_pem`'s output; None if it holds another algorithm's key.

        Raises `ValueError` for a wrong passphrase or a damaged file.
        """


class RingStore(Generic[PublicT, PrivateT]):
    """One algorithm's ring in the key directory: create, read and rotate keys.

    `passphrase` encrypts new private keys and decrypts them for signing; reading
    the public ring needs none.
    """

    def __init__(
        self, kind: KeyKind[PublicT, PrivateT], directory: Path, passphrase: str | None
    ) -> None:
        self.kind = kind
        self.directory = directory
        self._passphrase = passphrase.encode("utf-8") if passphrase else None

    def exists(self) -> bool:
        return (self.directory / self.kind.ring_file).is_file()

    def load_ring(self) -> Ring[PublicT]:
        """Read the ring file. Raises `KeyStoreError` if missing or malformed."""
        kind = self.kind
        path = self.directory / kind.ring_file
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            keys = tuple(
                kind.key_type(
                    kid=entry["kid"],
                    public_key=kind.decode_public(entry[kind.public_field]),
                    created_at=datetime.fromisoformat(entry["created_at"]),
                    retired_at=(
                        datetime.fromisoformat(entry["retired_at"]) if entry["retired_at"] else None
                    ),
                )
                for entry in document["keys"]
            )
            ring = Ring(active_kid=document["active"], keys=keys)
            ring.active  # noqa: B018 - checks the active key is in the ring
        except FileNotFoundError as exc:
            raise KeyStoreError(
                f"no {kind.ring_name} at {path}; "
                f"create one with `tongban keys generate{kind.cli_option}`"
            ) from exc
        except (OSError, ValueError, KeyError, TypeError, StopIteration) as exc:
            raise KeyStoreError(f"unreadable {kind.ring_name} {path}: {exc!r}") from exc
        for key in keys:
            if kind.thumbprint(key.public_key) != key.kid:
                raise KeyStoreError(f"key ring {path}: kid {key.kid} is not its key's thumbprint")
        return ring

    def generate(self, now: datetime | None = None) -> Ring[PublicT]:
        """Create the first key. Raises `KeyStoreError` if a ring exists (use `rotate`)."""
        if self.exists():
            raise KeyStoreError(
                f"{self.kind.ring_exists} already exists in {self.directory}; "
                f"use `tongban keys rotate{self.kind.cli_option}`"
            )
        key = self._new_key(now or datetime.now(UTC))
        ring = Ring(active_kid=key.kid, keys=(key,))
        self._write_ring(ring)
        return ring

    def rotate(self, grace: timedelta, now: datetime | None = None) -> Ring[PublicT]:
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
                self._private_path(key.kid).unlink(missing_ok=True)
        new = self._new_key(now)
        rotated = Ring(active_kid=new.kid, keys=(*kept, new))
        self._write_ring(rotated)
        return rotated

    def load_private(self, kid: str) -> PrivateT:
        """Decrypt the private key `kid`. Raises `KeyStoreError` (missing, wrong passphrase)."""
        if self._passphrase is None:
            raise KeyStoreError("no key passphrase configured (TONGBAN_SECURITY__KEY_PASSPHRASE)")
        path = self._private_path(kid)
        try:
            key = self.kind.load_private_pem(path.read_bytes(), self._passphrase)
        except OSError as exc:
            raise KeyStoreError(f"cannot read private key {path}: {exc.strerror}") from exc
        except (ValueError, TypeError) as exc:
            # A wrong passphrase is a ValueError; do not echo any of it.
            raise KeyStoreError(f"cannot decrypt {path}: wrong passphrase or damaged file") from exc
        if key is None or self.kind.thumbprint(self.kind.public_of(key)) != kid:
            raise KeyStoreError(f"{path} does not hold the {self.kind.algorithm} key {kid}")
        return key

    def _private_path(self, kid: str) -> Path:
        return self.directory / f"{kid}{self.kind.private_suffix}"

    def _new_key(self, now: datetime) -> RingKey[PublicT]:
        if self._passphrase is None:
            raise KeyStoreError(
                "set a key passphrase (TONGBAN_SECURITY__KEY_PASSPHRASE) before creating keys"
            )
        private = self.kind.generate()
        public = self.kind.public_of(private)
        kid = self.kind.thumbprint(public)
        write_private_file(
            self._private_path(kid), self.kind.private_pem(private, self._passphrase)
        )
        return self.kind.key_type(kid=kid, public_key=public, created_at=now)

    def _write_ring(self, ring: Ring[PublicT]) -> None:
        document = {
            "version": _RING_VERSION,
            "active": ring.active_kid,
            "keys": [
                {
                    "kid": key.kid,
                    self.kind.public_field: self.kind.encode_public(key.public_key),
                    "created_at": key.created_at.isoformat(),
                    "retired_at": key.retired_at.isoformat() if key.retired_at else None,
                }
                for key in ring.keys
            ],
        }
        write_private_file(
            self.directory / self.kind.ring_file,
            (json.dumps(document, indent=2) + "\n").encode("utf-8"),
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
