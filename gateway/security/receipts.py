"""Signed receipts a partner can verify offline with our published JWKS.

Format: a receipt is a JSON object; the signed receipt is the same object with
one more member, ``"jws"``, a JWS in compact serialisation with a *detached*
payload (RFC 7515 Appendix F): ``<protected>..<signature>``. The protected header
is ``{"alg":"EdDSA","kid":"<gateway key id>"}`` (RFC 8037); the payload is the
RFC 8785 (JCS) canonical JSON of the receipt without its ``jws`` member.

To verify, a partner: removes ``jws``; canonicalises the rest with any RFC 8785
library; puts base64url(canonical bytes) between the two dots; and verifies the
now complete compact JWS with any JOSE library, using the key from
``GET /.well-known/tongban/keys`` whose ``kid`` is in the header. Chosen over a
bare Ed25519 signature because every JOSE library can check it unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.errors import SignatureError
from gateway.security.keys import b64url, b64url_decode, load_public_key

JWS_MEMBER = "jws"


def canonical_json(document: Mapping[str, Any]) -> bytes:
    """RFC 8785 canonical JSON of `document`. Raises `ValueError` for non-JSON values."""
    try:
        return rfc8785.dumps(dict(document))
    except rfc8785.CanonicalizationError as exc:
        raise ValueError(f"not canonicalisable JSON: {exc}") from exc


def sign_receipt(
    receipt: Mapping[str, Any], private_key: Ed25519PrivateKey, kid: str
) -> dict[str, Any]:
    """Return `receipt` with a ``jws`` member: a detached JWS over its canonical JSON."""
    if JWS_MEMBER in receipt:
        raise ValueError(f"a receipt must not already hold {JWS_MEMBER!r}")
    protected = b64url(
        json.dumps({"alg": "EdDSA", "kid": kid}, separators=(",", ":")).encode("ascii")
    )
    payload = b64url(canonical_json(receipt))
    signature = private_key.sign(f"{protected}.{payload}".encode("ascii"))
    return {**receipt, JWS_MEMBER: f"{protected}..{b64url(signature)}"}


def verify_receipt(signed: Mapping[str, Any], jwks: Mapping[str, Any]) -> dict[str, Any]:
    """Check a signed receipt against a JWK Set; return the receipt without ``jws``.

    This is what a partner does offline (see the module docstring). Raises
    `SignatureError` (``receipt_malformed``, ``key_unknown``, ``signature_invalid``).
    """
    token = signed.get(JWS_MEMBER)
    if not isinstance(token, str) or token.count(".") != 2 or token.split(".")[1]:
        raise SignatureError("receipt_malformed", "jws must be a detached compact JWS")
    protected, _, signature = token.split(".")
    try:
        header = json.loads(b64url_decode(protected))
        raw_signature = b64url_decode(signature)
    except ValueError as exc:
        raise SignatureError("receipt_malformed", "jws header or signature unreadable") from exc
    if not isinstance(header, dict) or header.get("alg") != "EdDSA":
        raise SignatureError("receipt_malformed", "jws alg must be EdDSA")
    jwk = next((key for key in jwks.get("keys", []) if key.get("kid") == header.get("kid")), None)
    if jwk is None or jwk.get("crv") != "Ed25519":
        raise SignatureError("key_unknown", "no Ed25519 key with this kid in the key set")
    receipt = {name: value for name, value in signed.items() if name != JWS_MEMBER}
    payload = b64url(canonical_json(receipt))
    try:
        load_public_key(jwk["x"]).verify(raw_signature, f"{protected}.{payload}".encode("ascii"))
    except InvalidSignature as exc:
        raise SignatureError("signature_invalid", "the receipt signature does not verify") from exc
    return receipt
