"""SM2 (GM/T 0003) for the gateway: signatures with SM3 and Z_A, digital envelopes, keys.

The one interface the gateway uses for SM2. The arithmetic is the system OpenSSL 3's
(`gateway.security.sm2_openssl`, chosen in issue 17); formats are ours
(`gateway.security.sm2_formats`). When ``cryptography`` gains SM2, only the backend
changes.

Errors are the gateway's own: `InvalidSignature` for any signature that is malformed
or does not verify, `DecryptionError` for any ciphertext that is malformed or
tampered with, `InvalidKey` for unusable key material, `CryptoUnavailable` when
libcrypto.so.3 is missing. Calls block for well under a millisecond and release the
GIL; batch work belongs in a thread (`asyncio.to_thread`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Literal, TypeVar

from gateway.errors import CryptoUnavailable, DecryptionError, InvalidKey, InvalidSignature
from gateway.security import sm2_formats as formats
from gateway.security import sm2_openssl as backend
from gateway.security.keys import b64url, b64url_decode

_T = TypeVar("_T")

DEFAULT_ID = b"1234567812345678"
"""The ID GM/T 0009 §10 prescribes when the parties agree on none. Note: the
``openssl`` CLI uses an *empty* ID unless given ``-pkeyopt distid:1234567812345678``."""

SignatureEncoding = Literal["der", "raw"]
"""``der``: ``SEQUENCE {r, s}`` (GM/T 0009); ``raw``: 64 bytes ``r || s``."""

CiphertextEncoding = Literal["der", "c1c3c2"]
"""``der``: ``SEQUENCE {x, y, C3, C2}`` (GM/T 0009); ``c1c3c2``: ``04||x||y || C3 || C2``."""


def library_version() -> str:
    """The backend's version text; raises `CryptoUnavailable`."""
    try:
        return backend.version()
    except backend.OpenSSLUnavailable as exc:
        raise CryptoUnavailable(str(exc)) from exc


def _key_call(what: str, call: Callable[[], _T]) -> _T:
    try:
        return call()
    except backend.OpenSSLUnavailable as exc:
        raise CryptoUnavailable(str(exc)) from exc
    except (backend.OpenSSLFailure, ValueError) as exc:
        raise InvalidKey(f"{what}: {exc}") from exc


def _check_id(distid: bytes) -> bytes:
    if len(distid) > backend.MAX_ID:
        raise ValueError(f"an SM2 ID is bytes, at most {backend.MAX_ID} long")
    return distid


class SM2PublicKey:
    """An SM2 public key: verifies signatures, seals envelopes."""

    __slots__ = ("_handle", "_point")

    def __init__(self, handle: backend.PKey) -> None:
        self._handle = handle
        self._point = backend.public_point(handle)

    @classmethod
    def from_pem(cls, pem: bytes | str) -> SM2PublicKey:
        """A ``PUBLIC KEY`` PEM (SubjectPublicKeyInfo). Raises `InvalidKey`."""
        data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
        return cls(_key_call("SM2 public key", lambda: backend.load_public_pem(data)))

    @classmethod
    def from_der(cls, der: bytes) -> SM2PublicKey:
        """A DER SubjectPublicKeyInfo. Raises `InvalidKey`."""
        return cls(_key_call("SM2 public key", lambda: backend.load_public_der(der)))

    @classmethod
    def from_point(cls, point: bytes) -> SM2PublicKey:
        """The uncompressed point ``04 || x || y`` (65 bytes). Raises `InvalidKey`."""
        if len(point) != formats.POINT_SIZE or point[:1] != b"\x04":
            raise InvalidKey("an SM2 public key is an uncompressed point: 04 || x || y")
        return cls(_key_call("SM2 public key", lambda: backend.from_raw(point)))

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, object]) -> SM2PublicKey:
        """A JWK ``{"kty": "EC", "crv": "SM2", "x": ..., "y": ...}``. Raises `InvalidKey`."""
        if jwk.get("kty") != "EC" or jwk.get("crv") != "SM2":
            raise InvalidKey('an SM2 JWK has "kty": "EC" and "crv": "SM2"')
        x, y = jwk.get("x"), jwk.get("y")
        if not isinstance(x, str) or not isinstance(y, str):
            raise InvalidKey('an SM2 JWK has base64url "x" and "y"')
        try:
            coordinates = b64url_decode(x), b64url_decode(y)
        except ValueError as exc:
            raise InvalidKey("an SM2 JWK's x and y are base64url") from exc
        if any(len(c) != 32 for c in coordinates):
            raise InvalidKey("an SM2 JWK's x and y are 32 bytes each")
        return cls.from_point(b"\x04" + coordinates[0] + coordinates[1])

    @classmethod
    def load(cls, text: str) -> SM2PublicKey:
        """PEM, or the point in hex (as GM/T tools print it). Raises `InvalidKey`."""
        text = text.strip()
        if text.startswith("-----BEGIN"):
            return cls.from_pem(text)
        try:
            point = bytes.fromhex(text)
        except ValueError as exc:
            raise InvalidKey("an SM2 public key is PEM or a hex point 04||x||y") from exc
        return cls.from_point(point)

    @property
    def point(self) -> bytes:
        """``04 || x || y``."""
        return self._point

    def to_pem(self) -> bytes:
        return _key_call("SM2 public key", lambda: backend.public_pem(self._handle))

    def to_der(self) -> bytes:
        return _key_call("SM2 public key", lambda: backend.public_der(self._handle))

    def jwk(self) -> dict[str, str]:
        """The required JWK members: ``kty`` EC, ``crv`` SM2, ``x``, ``y`` (base64url)."""
        return {
            "kty": "EC",
            "crv": "SM2",
            "x": b64url(self._point[1:33]),
            "y": b64url(self._point[33:]),
        }

    def thumbprint(self) -> str:
        """RFC 7638 JWK thumbprint (SHA-256, base64url) of `jwk`."""
        canonical = json.dumps(self.jwk(), sort_keys=True, separators=(",", ":")).encode("ascii")
        return b64url(hashlib.sha256(canonical).digest())

    def za(self, distid: bytes = DEFAULT_ID) -> bytes:
        """Z_A for `distid` and this key (GM/T 0003.2 §5.5): what a signature binds."""
        return formats.za(self._point, _check_id(distid))

    def verify(
        self,
        signature: bytes,
        message: bytes,
        *,
        distid: bytes = DEFAULT_ID,
        encoding: SignatureEncoding = "der",
    ) -> None:
        """Check `signature` over `message` signed with `distid`; raise `InvalidSignature`."""
        try:
            der = formats.signature_from_raw(signature) if encoding == "raw" else signature
            valid = backend.verify(self._handle, der, message, _check_id(distid))
        except backend.OpenSSLUnavailable as exc:
            raise CryptoUnavailable(str(exc)) from exc
        except (backend.OpenSSLFailure, ValueError, TypeError) as exc:
            raise InvalidSignature(f"SM2 signature refused: {exc}") from exc
        if not valid:
            raise InvalidSignature("the SM2 signature does not verify")

    def verify_digest(self, signature: bytes, digest: bytes) -> None:
        """Check a DER signature over a given e = SM3(Z_A || M). For published test vectors."""
        try:
            valid = backend.verify_digest(self._handle, signature, digest)
        except backend.OpenSSLFailure as exc:
            raise InvalidSignature(f"SM2 signature refused: {exc}") from exc
        if not valid:
            raise InvalidSignature("the SM2 signature does not verify")

    def encrypt(self, plaintext: bytes, *, encoding: CiphertextEncoding = "der") -> bytes:
        """Seal `plaintext` (1 byte to 1 MiB) for the holder of the private key."""
        try:
            der = backend.encrypt(self._handle, plaintext)
            return formats.ciphertext_from_der(der) if encoding == "c1c3c2" else der
        except backend.OpenSSLUnavailable as exc:
            raise CryptoUnavailable(str(exc)) from exc
        except (backend.OpenSSLFailure, ValueError) as exc:
            raise InvalidKey(f"SM2 encryption failed: {exc}") from exc

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SM2PublicKey) and other._point == self._point

    def __hash__(self) -> int:
        return hash(self._point)

    def __repr__(self) -> str:
        return f"SM2PublicKey({self.thumbprint()})"


class SM2PrivateKey:
    """An SM2 private key: signs, opens envelopes. Never printed, never logged."""

    __slots__ = ("_handle", "_public")

    def __init__(self, handle: backend.PKey) -> None:
        self._handle = handle
        self._public = SM2PublicKey(handle)

    @classmethod
    def generate(cls) -> SM2PrivateKey:
        """A new key from OpenSSL's CSPRNG."""
        return cls(_key_call("SM2 key generation", backend.generate))

    @classmethod
    def from_pem(cls, pem: bytes, passphrase: bytes | None = None) -> SM2PrivateKey:
        """PKCS#8 PEM, encrypted or not (or SEC1 ``EC PRIVATE KEY``). Raises `InvalidKey`."""
        return cls(_key_call("SM2 private key", lambda: backend.load_private_pem(pem, passphrase)))

    @classmethod
    def from_raw(cls, scalar: bytes, point: bytes) -> SM2PrivateKey:
        """The 32-byte scalar d with its public point; checked to be a pair."""
        if len(scalar) != 32 or not 0 < int.from_bytes(scalar, "big") < formats.N - 1:
            raise InvalidKey("an SM2 private key is 32 bytes, in [1, n-2]")
        if len(point) != formats.POINT_SIZE or point[:1] != b"\x04":
            raise InvalidKey("an SM2 public key is an uncompressed point: 04 || x || y")
        return cls(_key_call("SM2 private key", lambda: backend.from_raw(point, scalar)))

    def public_key(self) -> SM2PublicKey:
        return self._public

    def to_pem(self, passphrase: bytes | None) -> bytes:
        """PKCS#8 PEM, encrypted (PBES2/AES-256-CBC) unless `passphrase` is None."""
        return _key_call("SM2 private key", lambda: backend.private_pem(self._handle, passphrase))

    def sign(
        self, message: bytes, *, distid: bytes = DEFAULT_ID, encoding: SignatureEncoding = "der"
    ) -> bytes:
        """Sign SM3(Z_A || message) with a fresh random k (OpenSSL's CSPRNG)."""
        try:
            der = backend.sign(self._handle, message, _check_id(distid))
        except backend.OpenSSLUnavailable as exc:
            raise CryptoUnavailable(str(exc)) from exc
        except backend.OpenSSLFailure as exc:
            raise InvalidKey(f"SM2 signing failed: {exc}") from exc
        return formats.signature_to_raw(der) if encoding == "raw" else der

    def decrypt(self, ciphertext: bytes, *, encoding: CiphertextEncoding = "der") -> bytes:
        """Open an envelope; raise `DecryptionError` for anything malformed or tampered."""
        try:
            if encoding == "c1c3c2":
                der = formats.ciphertext_to_der(ciphertext)
            else:
                der = formats.canonical_ciphertext(ciphertext)
            return backend.decrypt(self._handle, der)
        except backend.OpenSSLUnavailable as exc:
            raise CryptoUnavailable(str(exc)) from exc
        except (backend.OpenSSLFailure, ValueError, TypeError) as exc:
            raise DecryptionError("the SM2 ciphertext cannot be decrypted with this key") from exc

    def __repr__(self) -> str:
        return f"SM2PrivateKey(public={self._public.thumbprint()})"
