"""The gateway's own Ed25519 signing keys: a key ring on disk, rotated with a grace period.

A key ring directory holds ``ring.json`` (every key's id, public half, creation and
retirement time, and which key is active) and one ``<kid>.pem`` per private key,
PKCS#8 encrypted with the configured passphrase. A key's id is its RFC 7638 JWK
thumbprint, so anyone can recompute it from the published key.

Rotation makes a new key active and retires the previous one: a retired key no
longer signs but stays published (JWKS) for the grace period, so signatures and
receipts made just before the rotation still verify. After the grace period its
private key file is deleted on the next rotation. The ring logic is shared with the
SM2 ring (`gateway.security.key_ring`); this module says what is Ed25519's own.

The functions here do blocking file and KDF work; call them from a thread when on
the event loop (`asyncio.to_thread`).
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gateway.security.key_ring import KeyKind, Ring, RingKey, RingStore
from gateway.security.key_ring import write_private_file as write_private_file

RING_FILE = "ring.json"


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


class GatewayKey(RingKey[Ed25519PublicKey]):
    """One gateway Ed25519 key's public facts. `retired_at` is None until it is retired."""

    def jwk(self) -> dict[str, str]:
        """The public JWK as published: required members plus kid, use and alg."""
        return {**public_jwk(self.public_key), "kid": self.kid, "use": "sig", "alg": "EdDSA"}


KeyRing = Ring[Ed25519PublicKey]
"""Every gateway Ed25519 key known, newest last, and the id of the one that signs."""


class Ed25519Kind(KeyKind[Ed25519PublicKey, Ed25519PrivateKey]):
    """The Ed25519 ring's files: ``ring.json`` with base64url ``x``, ``<kid>.pem``."""

    ring_file = RING_FILE
    private_suffix = ".pem"
    public_field = "x"
    algorithm = "Ed25519"
    ring_name = "gateway key ring"
    ring_exists = "a key ring"
    cli_option = ""
    key_type = GatewayKey

    def generate(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.generate()

    def public_of(self, private: Ed25519PrivateKey) -> Ed25519PublicKey:
        return private.public_key()

    def thumbprint(self, public: Ed25519PublicKey) -> str:
        return thumbprint(public)

    def encode_public(self, public: Ed25519PublicKey) -> str:
        return b64url(raw_public(public))

    def decode_public(self, text: str) -> Ed25519PublicKey:
        return load_public_key(text)

    def private_pem(self, private: Ed25519PrivateKey, passphrase: bytes) -> bytes:
        return private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase),
        )

    def load_private_pem(self, data: bytes, passphrase: bytes) -> Ed25519PrivateKey | None:
        key = serialization.load_pem_private_key(data, password=passphrase)
        return key if isinstance(key, Ed25519PrivateKey) else None


ED25519 = Ed25519Kind()


class KeyStore(RingStore[Ed25519PublicKey, Ed25519PrivateKey]):
    """The Ed25519 key ring directory: create, read and rotate keys.

    `passphrase` encrypts new private keys and decrypts them for signing; reading
    the public ring needs none.
    """

    def __init__(self, directory: Path, passphrase: str | None) -> None:
        super().__init__(ED25519, directory, passphrase)
