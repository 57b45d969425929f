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

from gateway.errors import ConfigError, KeyStoreError, PiiError
from gateway.jsonio import dumps_bytes
from gateway.security import at_rest
from gateway.security.keys import write_private_file

_VERSION = "v1"
_NONCE_BYTES = 12
RING_PURPOSE = "pii-keys"


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

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(sorted(self._aead))

    def adopt(self, ring: PiiKeys) -> None:
        """Seal with `ring`'s active key from now on, and open with any of its keys.

        The blind-index key may not change (every stored index would stop matching),
        nor may a key id still in use disappear: raises `ConfigError`, nothing changed.
        """
        fresh = PiiCipher(ring)
        if not hmac.compare_digest(ring.index_key, self._index_key):
            raise ConfigError("pii", [("pii.index_key", "cannot change while running")])
        dropped = set(self._aead) - set(fresh._aead)
        if dropped:
            raise ConfigError(
                "pii", [("pii.keys", f"keys {sorted(dropped)} are gone; rewrap before removing")]
            )
        self._aead, self._active = fresh._aead, fresh._active

    def seal(self, value: Mapping[str, Any], *, bound_to: str) -> str:
        """Encrypt the JSON of `value` with the active key, bound to the record id."""
        nonce = os.urandom(_NONCE_BYTES)
        plain = dumps_bytes(value)  # compact UTF-8 JSON, as json.dumps gave, via orjson
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
    keys: Mapping[str, str],
    active: str | None,
    index_key: str | None,
    data_dir: Path,
    passphrase: str | None = None,
) -> PiiKeys:
    """The key ring from settings, or, when none is configured, from the data dir.

    With no keys configured, a ring is generated once into ``<data_dir>/keys/pii.json``,
    sealed under `passphrase` (`at_rest.seal_json`, mode 0600), and reused on every
    later start. Raises `KeyStoreError` without a passphrase, with a wrong one, or
    for an older install's unencrypted ring (naming the command that encrypts it).
    Blocking file and KDF work: call it from a thread at start-up.
    """
    if keys:
        if index_key is None:
            raise ConfigError("pii", [("pii.index_key", "required when pii.keys is set")])
        return PiiKeys(
            keys={kid: _b64(f"pii.keys.{kid}", key) for kid, key in keys.items()},
            active=active or sorted(keys)[-1],
            index_key=_b64("pii.index_key", index_key),
        )
    path = ring_path(data_dir)
    if not path.exists():
        if not passphrase:
            raise KeyStoreError(
                f"the PII key ring {path} is kept encrypted: set {at_rest.PASSPHRASE_ENV} "
                "(or configure pii.keys and pii.index_key from the environment)"
            )
        generated = {
            "keys": {"k1": base64.b64encode(secrets.token_bytes(32)).decode()},
            "active": "k1",
            "index_key": base64.b64encode(secrets.token_bytes(32)).decode(),
        }
        sealed = at_rest.seal_json(generated, passphrase.encode("utf-8"), RING_PURPOSE)
        temp = path.with_name(f".{path.name}.new.{os.getpid()}")
        write_private_file(temp, sealed)
        try:
            os.link(temp, path)  # whole or not at all; a concurrent start's ring wins
        except FileExistsError:
            pass
        finally:
            temp.unlink(missing_ok=True)
    stored = at_rest.open_json(path, passphrase, RING_PURPOSE)
    try:
        return load_keys(stored["keys"], stored["active"], stored["index_key"], data_dir)
    except (KeyError, TypeError) as exc:
        raise KeyStoreError(f"{path} is damaged: no {exc}") from exc


def ring_path(data_dir: Path) -> Path:
    """Where the generated PII key ring is kept."""
    return data_dir / "keys" / "pii.json"


def _b64(name: str, value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise ConfigError("pii", [(name, "is not valid base64")]) from None
