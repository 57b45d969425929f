"""Keys at rest: the checkpoint key and the PII ring are encrypted under the key passphrase.

An older install's plaintext files are refused, never read silently, and
`tongban keys encrypt-at-rest` encrypts them in place without changing the keys.
"""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from support.at_rest import TEST_PASSPHRASE

from gateway.audit.checkpoints import jwk_thumbprint, load_gateway_public_keys, load_or_create_key
from gateway.cli import main
from gateway.errors import KeyStoreError
from gateway.security.pii import load_keys

CATALOGS = Path(__file__).resolve().parents[2] / "catalogs"
ENV = {"TONGBAN_SECURITY__KEY_PASSPHRASE": TEST_PASSPHRASE}


def test_the_checkpoint_key_is_created_encrypted_with_its_public_half_beside(
    tmp_path: Path,
) -> None:
    path = tmp_path / "keys" / "audit-checkpoint.pem"
    key = load_or_create_key(path, TEST_PASSPHRASE)
    raw = path.read_bytes()
    assert b"BEGIN ENCRYPTED PRIVATE KEY" in raw
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(TypeError):  # cryptography: "Password was not given but ..."
        serialization.load_pem_private_key(raw, password=None)
    kid = jwk_thumbprint(key.public_key())
    assert load_gateway_public_keys(path, None).keys() == {kid}  # verify needs no passphrase
    assert jwk_thumbprint(load_or_create_key(path, TEST_PASSPHRASE).public_key()) == kid


def test_the_checkpoint_key_needs_the_right_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "audit-checkpoint.pem"
    with pytest.raises(KeyStoreError, match="TONGBAN_SECURITY__KEY_PASSPHRASE"):
        load_or_create_key(path, None)
    assert not path.exists()
    load_or_create_key(path, TEST_PASSPHRASE)
    with pytest.raises(KeyStoreError, match="wrong passphrase"):
        load_or_create_key(path, "another passphrase")
    with pytest.raises(KeyStoreError, match="TONGBAN_SECURITY__KEY_PASSPHRASE"):
        load_or_create_key(path, None)


def test_the_pii_ring_is_sealed_and_holds_no_key_in_the_clear(tmp_path: Path) -> None:
    ring = load_keys({}, None, None, tmp_path, TEST_PASSPHRASE)
    raw = (tmp_path / "keys" / "pii.json").read_text(encoding="utf-8")
    for secret in (*ring.keys.values(), ring.index_key):
        assert base64.b64encode(secret).decode() not in raw
    assert json.loads(raw)["format"] == "tongban-sealed-json/v1"
    assert load_keys({}, None, None, tmp_path, TEST_PASSPHRASE) == ring
    with pytest.raises(KeyStoreError, match="wrong passphrase"):
        load_keys({}, None, None, tmp_path, "another passphrase")
    with pytest.raises(KeyStoreError, match="TONGBAN_SECURITY__KEY_PASSPHRASE"):
        load_keys({}, None, None, tmp_path / "fresh", None)


def old_install(data_dir: Path) -> tuple[Ed25519PrivateKey, dict[str, Any]]:
    """Write the plaintext key files an install before the fix left behind."""
    keys = data_dir / "keys"
    keys.mkdir(parents=True)
    checkpoint_key = Ed25519PrivateKey.generate()
    (keys / "audit-checkpoint.pem").write_bytes(
        checkpoint_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ring = {
        "keys": {"k1": base64.b64encode(bytes(range(32))).decode()},
        "active": "k1",
        "index_key": base64.b64encode(bytes(range(32, 64))).decode(),
    }
    (keys / "pii.json").write_text(json.dumps(ring), encoding="utf-8")
    return checkpoint_key, ring


def test_plaintext_files_of_an_older_install_are_refused_naming_the_command(
    tmp_path: Path,
) -> None:
    old_install(tmp_path)
    with pytest.raises(KeyStoreError, match=r"unencrypted.*tongban keys encrypt-at-rest"):
        load_or_create_key(tmp_path / "keys" / "audit-checkpoint.pem", TEST_PASSPHRASE)
    with pytest.raises(KeyStoreError, match=r"unencrypted.*tongban keys encrypt-at-rest"):
        load_keys({}, None, None, tmp_path, TEST_PASSPHRASE)


def test_encrypt_at_rest_encrypts_an_older_install_in_place_keeping_the_keys(
    tmp_path: Path,
) -> None:
    checkpoint_key, ring = old_install(tmp_path / "var")
    config = tmp_path / "tongban.toml"
    config.write_text(f'data_dir = "{tmp_path / "var"}"\n', encoding="utf-8")
    command = ["keys", "encrypt-at-rest", "--config", str(config)]

    result = CliRunner().invoke(main, command, env={"TONGBAN_SECURITY__KEY_PASSPHRASE": ""})
    assert result.exit_code == 1
    assert "TONGBAN_SECURITY__KEY_PASSPHRASE" in result.output
    assert b"BEGIN PRIVATE KEY" in (tmp_path / "var/keys/audit-checkpoint.pem").read_bytes()

    result = CliRunner().invoke(main, command, env=ENV)
    assert result.exit_code == 0, result.output
    assert result.output.count(": encrypted") == 2
    path = tmp_path / "var" / "keys" / "audit-checkpoint.pem"
    assert b"BEGIN PRIVATE KEY" not in path.read_bytes()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    reloaded = load_or_create_key(path, TEST_PASSPHRASE)
    assert reloaded.private_bytes_raw() == checkpoint_key.private_bytes_raw()
    pii = load_keys({}, None, None, tmp_path / "var", TEST_PASSPHRASE)
    assert pii.index_key == bytes(range(32, 64))
    assert pii.keys == {"k1": bytes(range(32))}
    assert ring["index_key"] not in (tmp_path / "var/keys/pii.json").read_text(encoding="utf-8")

    again = CliRunner().invoke(main, command, env=ENV)
    assert again.exit_code == 0, again.output
    assert again.output.count(": already encrypted") == 2


async def test_a_gateway_on_an_older_install_stops_at_start_up_saying_what_to_run(
    tmp_path: Path,
) -> None:
    from aiohttp import web

    from gateway.app import create_app
    from gateway.config import load_settings

    old_install(tmp_path / "var")
    settings = load_settings(
        environ=ENV,
        overrides={"data_dir": str(tmp_path / "var"), "catalog": {"directory": str(CATALOGS)}},
    )
    runner = web.AppRunner(create_app(settings))
    try:
        with pytest.raises(KeyStoreError, match="tongban keys encrypt-at-rest"):
            await runner.setup()
    finally:
        await runner.cleanup()
