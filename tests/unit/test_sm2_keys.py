"""The gateway's SM2 key ring: encrypted at rest, thumbprint ids, rotation with grace."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.errors import KeyStoreError
from gateway.security.keys import KeyStore
from gateway.security.sm2 import SM2PrivateKey, SM2PublicKey
from gateway.security.sm2_keys import SM2_RING_FILE, SM2KeyStore

NOW = datetime(2026, 3, 1, tzinfo=UTC)
GRACE = timedelta(days=30)
PASSPHRASE = "correct horse"  # noqa: S105 - a throwaway ring in tmp_path


def test_generate_writes_an_encrypted_key_and_a_public_ring(tmp_path: Path) -> None:
    store = SM2KeyStore(tmp_path, PASSPHRASE)
    ring = store.generate(NOW)
    pem = (tmp_path / f"{ring.active_kid}.sm2.pem").read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert (tmp_path / f"{ring.active_kid}.sm2.pem").stat().st_mode & 0o077 == 0
    with pytest.raises(Exception, match="SM2 private key"):
        SM2PrivateKey.from_pem(pem, None)
    private = store.load_private(ring.active_kid)
    assert private.public_key() == ring.active.public_key
    assert ring.active.public_key.thumbprint() == ring.active_kid
    reread = SM2KeyStore(tmp_path, None).load_ring()
    assert reread == ring


def test_the_jwk_is_ec_sm2_and_loads_back(tmp_path: Path) -> None:
    ring = SM2KeyStore(tmp_path, PASSPHRASE).generate(NOW)
    jwk = ring.active.jwk()
    assert (jwk["kty"], jwk["crv"], jwk["kid"]) == ("EC", "SM2", ring.active_kid)
    assert "use" not in jwk  # it both signs and opens envelopes
    assert SM2PublicKey.from_jwk(jwk) == ring.active.public_key


def test_it_sits_beside_the_ed25519_ring_without_touching_it(tmp_path: Path) -> None:
    ed = KeyStore(tmp_path, PASSPHRASE).generate(NOW)
    sm2 = SM2KeyStore(tmp_path, PASSPHRASE).generate(NOW)
    assert KeyStore(tmp_path, None).load_ring() == ed
    assert SM2KeyStore(tmp_path, None).load_ring() == sm2


def test_generate_twice_is_refused(tmp_path: Path) -> None:
    store = SM2KeyStore(tmp_path, PASSPHRASE)
    store.generate(NOW)
    with pytest.raises(KeyStoreError, match="rotate --alg sm2"):
        store.generate(NOW)


def test_wrong_or_missing_passphrase(tmp_path: Path) -> None:
    ring = SM2KeyStore(tmp_path, PASSPHRASE).generate(NOW)
    with pytest.raises(KeyStoreError, match="wrong passphrase"):
        SM2KeyStore(tmp_path, "wrong").load_private(ring.active_kid)
    with pytest.raises(KeyStoreError, match="passphrase"):
        SM2KeyStore(tmp_path, None).load_private(ring.active_kid)
    with pytest.raises(KeyStoreError, match="passphrase"):
        SM2KeyStore(tmp_path / "other", None).generate(NOW)


def test_rotation_keeps_the_old_key_published_for_the_grace(tmp_path: Path) -> None:
    store = SM2KeyStore(tmp_path, PASSPHRASE)
    first = store.generate(NOW).active_kid
    second = store.rotate(GRACE, NOW + timedelta(days=1)).active_kid
    ring = store.load_ring()
    assert {k.kid for k in ring.published(NOW + timedelta(days=30), GRACE)} == {first, second}
    assert {k.kid for k in ring.published(NOW + timedelta(days=32), GRACE)} == {second}
    third = store.rotate(GRACE, NOW + timedelta(days=40)).active_kid
    assert [k.kid for k in store.load_ring().keys] == [second, third]
    assert not (tmp_path / f"{first}.sm2.pem").exists()


def test_a_ring_whose_kid_does_not_match_its_key_is_refused(tmp_path: Path) -> None:
    SM2KeyStore(tmp_path, PASSPHRASE).generate(NOW)
    path = tmp_path / SM2_RING_FILE
    document = json.loads(path.read_text())
    document["keys"][0]["point"] = SM2PrivateKey.generate().public_key().point.hex()
    path.write_text(json.dumps(document))
    with pytest.raises(KeyStoreError, match="thumbprint"):
        SM2KeyStore(tmp_path, None).load_ring()
    document["keys"][0]["point"] = "04" + "00" * 64
    path.write_text(json.dumps(document))
    with pytest.raises(KeyStoreError, match="unreadable"):
        SM2KeyStore(tmp_path, None).load_ring()
