"""Keys at rest: the audit checkpoint key and the PII key ring, encrypted under the key passphrase.

The gateway key ring (`keys.KeyStore`) was always encrypted; these two files lay
beside the database in the clear. Now both are encrypted under the same passphrase
(``TONGBAN_SECURITY__KEY_PASSPHRASE``):

- the checkpoint key as PKCS#8 PEM with the same encryption as the gateway key
  (``BEGIN ENCRYPTED PRIVATE KEY``); its public half is written beside it
  (``*.pub.pem``) so `tongban audit verify` needs no passphrase;
- the PII key ring as a sealed JSON document: AES-256-GCM under a key derived
  from the passphrase with scrypt (parameters and salt kept in the file).

A plaintext file left by an older install is never read silently: loading it
raises `KeyStoreError` naming `ENCRYPT_COMMAND`, which encrypts it in place
(`encrypt_in_place`). Blocking file and KDF work: call from a thread on the loop.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from gateway.errors import KeyStoreError
from gateway.security.keys import write_private_file

__all__ = [
    "ENCRYPT_COMMAND",
    "PASSPHRASE_ENV",
    "SEALED_FORMAT",
    "encrypt_in_place",
    "is_sealed_json",
    "load_private_pem",
    "new_private_pem",
    "open_json",
    "public_pem_path",
    "seal_json",
]

PASSPHRASE_ENV = "TONGBAN_SECURITY__KEY_PASSPHRASE"  # noqa: S105 - a variable name
ENCRYPT_COMMAND = "tongban keys encrypt-at-rest"
SEALED_FORMAT = "tongban-sealed-json/v1"

# scrypt cost: 2^14 x 8 x 128 B = 16 MiB and ~0.1 s, paid once per start (and per guess:
# far more than the PBKDF2 of PKCS#8 keys; the passphrase itself must be long and random).
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
_MAX_SCRYPT_N = 2**20  # refuse a file asking for more (a memory bomb)


def _need(passphrase: str | None, path: Path) -> bytes:
    if not passphrase:
        raise KeyStoreError(
            f"{path} is kept encrypted under the key passphrase: set {PASSPHRASE_ENV}"
        )
    return passphrase.encode("utf-8")


def _plaintext_refused(path: Path) -> KeyStoreError:
    return KeyStoreError(
        f"{path} is stored unencrypted (written by an older install); refusing to use it. "
        f"Encrypt it in place with `{ENCRYPT_COMMAND}` ({PASSPHRASE_ENV} set), then start again"
    )


def public_pem_path(private_path: Path) -> Path:
    """Where the public half of the private key at `private_path` is kept: ``*.pub.pem``."""
    return private_path.with_name(f"{private_path.stem}.pub.pem")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


# --- an Ed25519 private key as encrypted PKCS#8 PEM ---------------------------------


def _public_pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _write_private_pem(path: Path, key: Ed25519PrivateKey, passphrase: bytes) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )
    write_private_file(public_pem_path(path), _public_pem(key))
    write_private_file(path, pem)


def new_private_pem(path: Path, passphrase: str | None) -> Ed25519PrivateKey:
    """Create an Ed25519 key at `path`, encrypted, its public half beside it.

    Created whole or not at all: if another process created `path` first, its key
    is loaded and returned instead, so every process signs with the same key.
    """
    secret = _need(passphrase, path)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(secret),
    )
    temp = path.with_name(f".{path.name}.new.{os.getpid()}")
    write_private_file(temp, pem)
    try:
        os.link(temp, path)  # fails if the name exists: an exclusive create of a whole file
    except FileExistsError:
        return load_private_pem(path, passphrase)
    finally:
        temp.unlink(missing_ok=True)
    write_private_file(public_pem_path(path), _public_pem(key))
    return key


def load_private_pem(path: Path, passphrase: str | None) -> Ed25519PrivateKey:
    """Decrypt the Ed25519 key at `path`.

    Raises `KeyStoreError` if it is unencrypted (naming `ENCRYPT_COMMAND`), the
    passphrase is missing or wrong, or it is not an Ed25519 key.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise KeyStoreError(f"cannot read {path}: {exc.strerror}") from exc
    if b"-----BEGIN PRIVATE KEY-----" in raw:
        raise _plaintext_refused(path)
    secret = _need(passphrase, path)
    try:
        key = serialization.load_pem_private_key(raw, password=secret)
    except (ValueError, TypeError) as exc:
        raise KeyStoreError(f"cannot decrypt {path}: wrong passphrase or damaged file") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyStoreError(f"{path} does not hold an Ed25519 key")
    return key


# --- a JSON document sealed with AES-256-GCM under a scrypt-derived key -------------


def _derive(passphrase: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase)


def seal_json(document: Mapping[str, Any], passphrase: bytes, purpose: str) -> bytes:
    """`document` encrypted under `passphrase`, as the bytes of a sealed JSON file.

    `purpose` (e.g. ``pii-keys``) is bound in as associated data, so a sealed file
    cannot be passed off as another kind.
    """
    salt, nonce = os.urandom(16), os.urandom(12)
    key = _derive(passphrase, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    plain = json.dumps(document, separators=(",", ":")).encode("utf-8")
    sealed = AESGCM(key).encrypt(nonce, plain, f"{SEALED_FORMAT}:{purpose}".encode())
    wrapper = {
        "format": SEALED_FORMAT,
        "purpose": purpose,
        "kdf": {"name": "scrypt", "n": _SCRYPT_N, "r": _SCRYPT_R, "p": _SCRYPT_P,
                "salt": _b64(salt)},
        "cipher": "A256GCM",
        "nonce": _b64(nonce),
        "ciphertext": _b64(sealed),
    }  # fmt: skip
    return (json.dumps(wrapper, indent=2) + "\n").encode("utf-8")


def is_sealed_json(document: Mapping[str, Any]) -> bool:
    return document.get("format") == SEALED_FORMAT


def open_json(path: Path, passphrase: str | None, purpose: str) -> dict[str, Any]:
    """Read and decrypt the sealed JSON file at `path`.

    Raises `KeyStoreError` if it is plaintext (naming `ENCRYPT_COMMAND`), sealed
    for another purpose, damaged, or the passphrase is missing or wrong.
    """
    try:
        wrapper = json.loads(path.read_bytes())
    except OSError as exc:
        raise KeyStoreError(f"cannot read {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise KeyStoreError(f"{path} is not JSON: {exc}") from exc
    if not isinstance(wrapper, dict) or not is_sealed_json(wrapper):
        raise _plaintext_refused(path)
    secret = _need(passphrase, path)
    try:
        kdf = wrapper["kdf"]
        n, r, p = int(kdf["n"]), int(kdf["r"]), int(kdf["p"])
        if kdf["name"] != "scrypt" or not 2 <= n <= _MAX_SCRYPT_N or not 0 < r * p <= 64:
            raise ValueError("unsupported key derivation")
        if wrapper["purpose"] != purpose or wrapper["cipher"] != "A256GCM":
            raise ValueError(f"sealed for {wrapper['purpose']!r}, not {purpose!r}")
        key = _derive(secret, _unb64(kdf["salt"]), n, r, p)
        aad = f"{SEALED_FORMAT}:{purpose}".encode()
        plain = AESGCM(key).decrypt(_unb64(wrapper["nonce"]), _unb64(wrapper["ciphertext"]), aad)
        opened = json.loads(plain)
    except InvalidTag as exc:
        raise KeyStoreError(f"cannot decrypt {path}: wrong passphrase or damaged file") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise KeyStoreError(f"{path} is damaged: {exc}") from exc
    if not isinstance(opened, dict):
        raise KeyStoreError(f"{path} is damaged: not a JSON object")
    return opened


# --- migrating an older install ------------------------------------------------------


def encrypt_in_place(path: Path, passphrase: str | None, *, purpose: str | None = None) -> bool:
    """Encrypt the plaintext key file at `path` in place; False if it already was.

    A PEM private key is re-written as encrypted PKCS#8 (its public half beside
    it); a JSON document is sealed for `purpose`. The encrypted copy is read back
    and compared before it replaces the original (atomic rename, mode 0600), so a
    failure leaves the plaintext file as it was. Raises `KeyStoreError`.
    """
    secret = _need(passphrase, path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise KeyStoreError(f"cannot read {path}: {exc.strerror}") from exc
    if b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in raw:
        return False
    if b"-----BEGIN PRIVATE KEY-----" in raw:
        try:
            key = serialization.load_pem_private_key(raw, password=None)
        except ValueError as exc:
            raise KeyStoreError(f"{path} is damaged: {exc}") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyStoreError(f"{path} does not hold an Ed25519 key")
        _write_private_pem(path, key, secret)
        again = load_private_pem(path, passphrase)
        if again.private_bytes_raw() != key.private_bytes_raw():  # pragma: no cover - paranoia
            raise KeyStoreError(f"{path}: the encrypted copy does not read back")
        return True
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise KeyStoreError(f"{path} is neither a PEM key nor JSON") from exc
    if not isinstance(document, dict):
        raise KeyStoreError(f"{path} is not a JSON object")
    if is_sealed_json(document):
        return False
    if purpose is None:
        raise KeyStoreError(f"{path}: say what the JSON document is for")
    sealed = seal_json(document, secret, purpose)
    temp = path.with_name(f".{path.name}.sealed")
    write_private_file(temp, sealed)
    try:
        if open_json(temp, passphrase, purpose) != document:  # pragma: no cover - paranoia
            raise KeyStoreError(f"{path}: the encrypted copy does not read back")
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return True
