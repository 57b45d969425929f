"""Personal data at rest: AES-GCM encryption with key ids, and a keyed blind index.

A ciphertext is the text ``v1.<key id>.<base64url(nonce || ciphertext+tag)>``; the
key id travels with it, so keys can be rotated: new data is sealed with the active
key and old data still opens with the retired keys kept in the ring. The record's
own id is bound in as associated data, so a ciphertext copied onto another row
does not open.

The blind index is HMAC-SHA256 under a separate key over a normalised identifier
(``resident_id:440301...``): equal numbers give equal index values, so a lookup by
ID number needs no decryption, and the index reveals nothing without the key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.errors import ConfigError, PiiError

_VERSION = "v1"
_NONCE_BYTES = 12


@dataclass(frozen=True)
class PiiKeys:
    """The key ring: data keys by id, the one to seal with, and the blind-index key."""

    keys: Mapping[str, bytes]
    active: str
    index_key: bytes


class PiiCipher:
    """Seals and opens personal data; computes blind indexes. Thread-safe, stateless."""

    def __init__(self, ring: PiiKeys) -> None:
        if ring.active not in ring.keys:
            raise ConfigError("pii", [("pii.active_key", f"no key with id {ring.active!r}")])
        for key_id, key in ring.keys.items():
            if len(key) != 32 or "." in key_id:
                raise ConfigError(
                    "pii", [(f"pii.keys.{key_id}", "must be 32 bytes, base64; id without '.'")]
                )
        self._aead = {key_id: AESGCM(key) for key_id, key in ring.keys.items()}
        self._active = ring.active
        self._index_key = ring.index_key

    @property
    def active_key_id(self) -> str:
        return self._active

    def seal(self, value: Mapping[str, Any], *, bound_to: str) -> str:
        """Encrypt the JSON of `value` with the active key, bound to the record id."""
        nonce = os.urandom(_NONCE_BYTES)
        plain = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        sealed = self._aead[self._active].encrypt(nonce, plain, bound_to.encode())
        token = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{_VERSION}.{self._active}.{token}"

    def open(self, ciphertext: str, *, bound_to: str) -> dict[str, Any]:
        """Decrypt what `seal` produced for the same record id; raise `PiiError` otherwise."""
        try:
            version, key_id, token = ciphertext.split(".", 2)
        except ValueError:
            raise PiiError("malformed ciphertext") from None
        aead = self._aead.get(key_id)
        if version != _VERSION or aead is None:
            raise PiiError(f"cannot open ciphertext: unknown version or key id {key_id!r}")
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        try:
            plain = aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], bound_to.encode())
        except InvalidTag:
            raise PiiError("tampered, or bound to another record") from None
        opened: dict[str, Any] = json.loads(plain)
        return opened

    def blind_index(self, kind: str, value: str) -> str:
        """HMAC-SHA256 of ``kind:value`` under the index key, hex."""
        message = f"{kind}:{value.strip().upper()}".encode()
        return hmac.new(self._index_key, message, hashlib.sha256).hexdigest()


def load_keys(
    keys: Mapping[str, str], active: str | None, index_key: str | None, data_dir: Path
) -> PiiKeys:
    """The key ring from settings, or, when none is configured, from the data dir.

    With no keys configured (the demo), a ring is generated once into
    ``<data_dir>/keys/pii.json`` (mode 0600) and reused on every later start.
    Blocking file I/O: call it from a thread at start-up.
    """
    if keys:
        if index_key is None:
            raise ConfigError("pii", [("pii.index_key", "required when pii.keys is set")])
        return PiiKeys(
            keys={kid: _b64(f"pii.keys.{kid}", key) for kid, key in keys.items()},
            active=active or sorted(keys)[-1],
            index_key=_b64("pii.index_key", index_key),
        )
    path = data_dir / "keys" / "pii.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        generated = {
            "keys": {"k1": base64.b64encode(secrets.token_bytes(32)).decode()},
            "active": "k1",
            "index_key": base64.b64encode(secrets.token_bytes(32)).decode(),
        }
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump(generated, file)
    stored = json.loads(path.read_text(encoding="utf-8"))
    return load_keys(stored["keys"], stored["active"], stored["index_key"], data_dir)


def _b64(name: str, value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise ConfigError("pii", [(name, "is not valid base64")]) from None
