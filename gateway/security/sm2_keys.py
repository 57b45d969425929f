"""The gateway's SM2 keys: a key ring beside the Ed25519 one, rotated the same way.

Where a region requires 国密 (Zhangjiagang), the gateway signs with SM2 and opens
SM2 envelopes addressed to it. The ring lives in the same directory as the Ed25519
ring (`gateway.security.keys`) with its own files, so neither format changes:
``sm2-ring.json`` (ids, public points, creation and retirement times, the active
key) and one ``<kid>.sm2.pem`` per private key, PKCS#8 encrypted with the same
passphrase as the Ed25519 keys. A key's id is the RFC 7638 thumbprint of its JWK
(``kty`` EC, ``crv`` SM2). The ring logic itself is `gateway.security.key_ring`.

Published in the JWK Set beside the Ed25519 keys (``/.well-known/tongban/keys``)
without ``use``: the key both signs and opens envelopes. ``tongban keys show --alg
sm2 --pem`` prints the SubjectPublicKeyInfo PEM that a region registers out of band.

Blocking file and KDF work: call from a thread when on the event loop.
"""

from __future__ import annotations

from pathlib import Path

from gateway.security.key_ring import KeyKind, Ring, RingKey, RingStore
from gateway.security.sm2 import SM2PrivateKey, SM2PublicKey

SM2_RING_FILE = "sm2-ring.json"


class SM2GatewayKey(RingKey[SM2PublicKey]):
    """One gateway SM2 key's public facts. `retired_at` is None while it is active."""

    def jwk(self) -> dict[str, str]:
        """The public JWK as published: ``kty`` EC, ``crv`` SM2, x, y, kid."""
        return {**self.public_key.jwk(), "kid": self.kid}


SM2KeyRing = Ring[SM2PublicKey]
"""Every SM2 key known, newest last, and the id of the one in use."""


class SM2Kind(KeyKind[SM2PublicKey, SM2PrivateKey]):
    """The SM2 ring's files: ``sm2-ring.json`` with the hex ``point``, ``<kid>.sm2.pem``."""

    ring_file = SM2_RING_FILE
    private_suffix = ".sm2.pem"
    public_field = "point"
    algorithm = "SM2"
    ring_name = "SM2 key ring"
    ring_exists = "an SM2 key ring"
    cli_option = " --alg sm2"
    key_type = SM2GatewayKey

    def generate(self) -> SM2PrivateKey:
        return SM2PrivateKey.generate()

    def public_of(self, private: SM2PrivateKey) -> SM2PublicKey:
        return private.public_key()

    def thumbprint(self, public: SM2PublicKey) -> str:
        return public.thumbprint()

    def encode_public(self, public: SM2PublicKey) -> str:
        return public.point.hex()

    def decode_public(self, text: str) -> SM2PublicKey:
        return SM2PublicKey.from_point(bytes.fromhex(text))

    def private_pem(self, private: SM2PrivateKey, passphrase: bytes) -> bytes:
        return private.to_pem(passphrase)

    def load_private_pem(self, data: bytes, passphrase: bytes) -> SM2PrivateKey:
        # InvalidKey (a ValueError) for a wrong passphrase, a damaged file or another key type.
        return SM2PrivateKey.from_pem(data, passphrase)


SM2 = SM2Kind()


class SM2KeyStore(RingStore[SM2PublicKey, SM2PrivateKey]):
    """The SM2 ring in the gateway key directory: create, read and rotate."""

    def __init__(self, directory: Path, passphrase: str | None) -> None:
        super().__init__(SM2, directory, passphrase)
