"""Personal data at rest: AES-GCM sealing with key ids, rotation, binding, blind index."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from support.at_rest import TEST_PASSPHRASE

from gateway.errors import ConfigError, PiiError
from gateway.security.pii import PiiCipher, PiiKeys, load_keys


def key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_sealed_value_opens_and_hides_the_plain_text() -> None:
    cipher = PiiCipher(load_keys({"k1": key()}, None, key(), Path(".")))
    sealed = cipher.seal({"name": "张三"}, bound_to="app-1")
    assert sealed.startswith("v1.k1.")
    assert "张三" not in sealed
    assert cipher.open(sealed, bound_to="app-1") == {"name": "张三"}


def test_ciphertext_moved_to_another_record_does_not_open() -> None:
    cipher = PiiCipher(load_keys({"k1": key()}, None, key(), Path(".")))
    sealed = cipher.seal({"name": "张三"}, bound_to="app-1")
    with pytest.raises(PiiError):
        cipher.open(sealed, bound_to="app-2")


def test_rotation_keeps_old_data_readable() -> None:
    old, new, index = key(), key(), key()
    before = PiiCipher(load_keys({"k1": old}, "k1", index, Path(".")))
    sealed = before.seal({"id": "1"}, bound_to="a")
    after = PiiCipher(load_keys({"k1": old, "k2": new}, "k2", index, Path(".")))
    assert after.open(sealed, bound_to="a") == {"id": "1"}
    assert after.seal({"id": "1"}, bound_to="a").startswith("v1.k2.")
    assert after.blind_index("resident_id", "x") == before.blind_index("resident_id", "X")
    retired = PiiCipher(load_keys({"k2": new}, "k2", index, Path(".")))
    with pytest.raises(PiiError, match="unknown version or key id"):
        retired.open(sealed, bound_to="a")


def test_blind_index_depends_on_the_key() -> None:
    one = PiiCipher(load_keys({"k1": key()}, None, key(), Path(".")))
    two = PiiCipher(load_keys({"k1": key()}, None, key(), Path(".")))
    assert one.blind_index("resident_id", "1") != two.blind_index("resident_id", "1")
    assert one.blind_index("resident_id", "1") != one.blind_index("passport", "1")


def test_demo_ring_is_generated_once_privately(tmp_path: Path) -> None:
    first = load_keys({}, None, None, tmp_path, TEST_PASSPHRASE)
    second = load_keys({}, None, None, tmp_path, TEST_PASSPHRASE)
    assert first == second
    mode = (tmp_path / "keys" / "pii.json").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_bad_keys_are_configuration_errors() -> None:
    with pytest.raises(ConfigError):
        PiiCipher(PiiKeys({"k1": b"short"}, "k1", b"i"))
    with pytest.raises(ConfigError):
        load_keys({"k1": key()}, None, None, Path("."))
    with pytest.raises(ConfigError):
        load_keys({"k1": "not base64!"}, None, key(), Path("."))
