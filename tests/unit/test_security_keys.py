"""Gateway keys: thumbprint ids, the encrypted key ring, rotation with grace, signed receipts."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.errors import KeyStoreError, SignatureError
from gateway.security import KeyStore, sign_receipt, thumbprint, verify_receipt
from gateway.security.keys import b64url, load_public_key
from gateway.security.receipts import canonical_json

NOW = datetime(2026, 3, 1, tzinfo=UTC)
GRACE = timedelta(days=30)


def test_thumbprint_matches_rfc8037_example() -> None:
    """RFC 8037 Appendix A.3: the Ed25519 JWK thumbprint (RFC 7638)."""
    key = load_public_key("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
    assert thumbprint(key) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_public_keys_load_from_pem_or_jwk_x() -> None:
    key = Ed25519PrivateKey.generate().public_key()
    from cryptography.hazmat.primitives import serialization

    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    assert thumbprint(load_public_key(pem)) == thumbprint(key)
    with pytest.raises(ValueError, match="32 bytes"):
        load_public_key(b64url(b"short"))


def test_generate_writes_an_encrypted_private_key_readable_by_owner_only(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys", "correct horse")
    ring = store.generate(NOW)
    pem = tmp_path / "keys" / f"{ring.active_kid}.pem"
    assert b"ENCRYPTED PRIVATE KEY" in pem.read_bytes()
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    assert thumbprint(store.load_private(ring.active_kid).public_key()) == ring.active_kid
    assert store.load_ring() == ring


def test_a_wrong_passphrase_is_refused_without_detail(tmp_path: Path) -> None:
    ring = KeyStore(tmp_path, "right").generate(NOW)
    with pytest.raises(KeyStoreError, match="wrong passphrase"):
        KeyStore(tmp_path, "wrong").load_private(ring.active_kid)


def test_generate_twice_is_refused(tmp_path: Path) -> None:
    KeyStore(tmp_path, "p").generate(NOW)
    with pytest.raises(KeyStoreError, match="rotate"):
        KeyStore(tmp_path, "p").generate(NOW)


def test_rotation_keeps_the_old_key_published_for_the_grace_period(tmp_path: Path) -> None:
    store = KeyStore(tmp_path, "p")
    old = store.generate(NOW).active_kid
    ring = store.rotate(GRACE, now=NOW + timedelta(days=1))
    assert ring.active_kid != old
    published = {key["kid"] for key in ring.jwks(NOW + timedelta(days=30), GRACE)["keys"]}
    assert published == {old, ring.active_kid}
    later = {key["kid"] for key in ring.jwks(NOW + timedelta(days=31), GRACE)["keys"]}
    assert later == {ring.active_kid}


def test_a_rotation_after_the_grace_forgets_the_old_private_key(tmp_path: Path) -> None:
    store = KeyStore(tmp_path, "p")
    first = store.generate(NOW).active_kid
    second = store.rotate(GRACE, now=NOW).active_kid
    third = store.rotate(GRACE, now=NOW + timedelta(days=40)).active_kid
    ring = store.load_ring()
    assert [key.kid for key in ring.keys] == [second, third]
    assert not (tmp_path / f"{first}.pem").exists()


def test_jwks_members(tmp_path: Path) -> None:
    ring = KeyStore(tmp_path, "p").generate(NOW)
    (jwk,) = ring.jwks(NOW, GRACE)["keys"]
    assert set(jwk) == {"kty", "crv", "x", "kid", "use", "alg"}
    assert (jwk["kty"], jwk["crv"], jwk["use"], jwk["alg"]) == ("OKP", "Ed25519", "sig", "EdDSA")
    assert jwk["kid"] == thumbprint(load_public_key(jwk["x"]))


RECEIPT = {"application_id": "app-1", "received_at": "2026-03-01T08:00:00+08:00", "n": 3}


def signed_receipt(tmp_path: Path) -> tuple[dict[str, object], dict[str, object]]:
    store = KeyStore(tmp_path, "p")
    ring = store.generate(NOW)
    signed = sign_receipt(RECEIPT, store.load_private(ring.active_kid), ring.active_kid)
    return signed, ring.jwks(NOW, GRACE)


def test_receipt_verifies_offline_with_an_independent_jose_library(tmp_path: Path) -> None:
    """What a partner does: re-attach the canonical payload, verify with PyJWT and our JWKS."""
    signed, jwks = signed_receipt(tmp_path)
    token = str(signed["jws"])
    protected, _, signature = token.split(".")
    receipt = {name: value for name, value in signed.items() if name != "jws"}
    payload = b64url(canonical_json(receipt))
    header = jwt.get_unverified_header(token.replace("..", f".{payload}."))
    (jwk,) = [key for key in jwks["keys"] if key["kid"] == header["kid"]]  # type: ignore[attr-defined]
    decoded = jwt.api_jws.decode(
        f"{protected}.{payload}.{signature}",
        key=jwt.PyJWK(jwk).key,
        algorithms=["EdDSA"],
    )
    assert json.loads(decoded) == RECEIPT


def test_receipt_verifies_with_our_checker_and_fails_when_changed(tmp_path: Path) -> None:
    signed, jwks = signed_receipt(tmp_path)
    assert verify_receipt(signed, jwks) == RECEIPT
    with pytest.raises(SignatureError) as caught:
        verify_receipt({**signed, "n": 4}, jwks)
    assert caught.value.check == "signature_invalid"
    with pytest.raises(SignatureError) as unknown:
        verify_receipt(signed, {"keys": []})
    assert unknown.value.check == "key_unknown"


def test_canonical_json_sorts_keys_and_has_no_whitespace() -> None:
    assert canonical_json({"b": [1, "é"], "a": 1.0}) == '{"a":1,"b":[1,"é"]}'.encode()
