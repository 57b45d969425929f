"""Key rings written by earlier releases still load: the on-disk format is a contract.

``tests/data/key_ring_v1`` was written by the gateway before the Ed25519 and SM2
rings shared one implementation (a key generated 2026-01-01, rotated 2026-02-01,
passphrase below). Both rings must read, decrypt and rotate as they did.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.security.keys import KeyStore, thumbprint
from gateway.security.sm2_keys import SM2KeyStore

RING_DIR = Path(__file__).parent.parent / "data" / "key_ring_v1"
PASSPHRASE = "fixture passphrase"  # noqa: S105 - a published test fixture
GENERATED = datetime(2026, 1, 1, tzinfo=UTC)
ROTATED = datetime(2026, 2, 1, tzinfo=UTC)
GRACE = timedelta(days=30)
ED25519 = (
    "gvOWlOQa5_VMUt2vAd9VGVI_RJnzc_5ii955gAAkU4I",
    "BBbc-dz__8EcsSJ0-jaw-ld8-I_rm2WgchK7awIlhaU",
)
SM2 = ("KwUB-KnPWEDVU6XSTguczuiDL0naUFDvZup-mSUceP4", "MUZlVWyNtBTDFxQ4Eih0qJTYdAmN-cat2h2_g3hvc4o")


@pytest.fixture
def ring_dir(tmp_path: Path) -> Path:
    copy = tmp_path / "keys"
    shutil.copytree(RING_DIR, copy)
    return copy


def test_the_ed25519_ring_loads_and_decrypts() -> None:
    store = KeyStore(RING_DIR, PASSPHRASE)
    ring = store.load_ring()
    assert [key.kid for key in ring.keys] == list(ED25519)
    assert ring.active_kid == ED25519[1]
    assert [(key.created_at, key.retired_at) for key in ring.keys] == [
        (GENERATED, ROTATED),
        (ROTATED, None),
    ]
    for key in ring.keys:
        private = store.load_private(key.kid)
        assert thumbprint(private.public_key()) == key.kid
    jwks = ring.jwks(ROTATED + GRACE - timedelta(seconds=1), GRACE)
    assert [jwk["kid"] for jwk in jwks["keys"]] == list(ED25519)
    assert {jwk["alg"] for jwk in jwks["keys"]} == {"EdDSA"}
    assert [jwk["kid"] for jwk in ring.jwks(ROTATED + GRACE, GRACE)["keys"]] == [ED25519[1]]


def test_the_sm2_ring_loads_and_decrypts() -> None:
    store = SM2KeyStore(RING_DIR, PASSPHRASE)
    ring = store.load_ring()
    assert [key.kid for key in ring.keys] == list(SM2)
    assert ring.active_kid == SM2[1]
    assert [(key.created_at, key.retired_at) for key in ring.keys] == [
        (GENERATED, ROTATED),
        (ROTATED, None),
    ]
    for key in ring.keys:
        assert store.load_private(key.kid).public_key() == key.public_key
        assert key.jwk() == {**key.public_key.jwk(), "kid": key.kid}


def test_rotating_an_old_ring_keeps_its_file_format(ring_dir: Path) -> None:
    before = {
        name: json.loads((ring_dir / name).read_text()) for name in ("ring.json", "sm2-ring.json")
    }
    later = ROTATED + timedelta(days=10)
    KeyStore(ring_dir, PASSPHRASE).rotate(GRACE, later)
    SM2KeyStore(ring_dir, PASSPHRASE).rotate(GRACE, later)
    for name, public_field in (("ring.json", "x"), ("sm2-ring.json", "point")):
        after = json.loads((ring_dir / name).read_text())
        assert list(after) == ["version", "active", "keys"]
        assert after["version"] == 1
        assert len(after["keys"]) == 3
        for entry in after["keys"]:
            assert list(entry) == ["kid", public_field, "created_at", "retired_at"]
        assert after["keys"][:1] == before[name]["keys"][:1]
        assert after["keys"][1] == {**before[name]["keys"][1], "retired_at": later.isoformat()}
        assert after["active"] == after["keys"][2]["kid"]
    names = sorted(path.name for path in ring_dir.iterdir())
    assert sum(name.endswith(".sm2.pem") for name in names) == 3
    assert sum(name.endswith(".pem") and not name.endswith(".sm2.pem") for name in names) == 3


def test_keys_past_their_grace_lose_their_private_file(ring_dir: Path) -> None:
    much_later = ROTATED + GRACE + timedelta(days=1)
    KeyStore(ring_dir, PASSPHRASE).rotate(GRACE, much_later)
    SM2KeyStore(ring_dir, PASSPHRASE).rotate(GRACE, much_later)
    assert not (ring_dir / f"{ED25519[0]}.pem").exists()
    assert not (ring_dir / f"{SM2[0]}.sm2.pem").exists()
    assert (ring_dir / f"{ED25519[1]}.pem").exists()
    assert (ring_dir / f"{SM2[1]}.sm2.pem").exists()
