"""`tongban backup --with-keys` takes key files only as they are at rest: encrypted or public."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.backup.copy import BackupError, key_file_problem, take_backup
from gateway.security.at_rest import new_private_pem, seal_json


def _plain_pem(path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def test_encrypted_and_public_files_pass(tmp_path: Path) -> None:
    new_private_pem(tmp_path / "audit-checkpoint.pem", "passphrase")
    (tmp_path / "pii.json").write_bytes(seal_json({"keys": {}}, b"passphrase", "pii-keys"))
    (tmp_path / "ring.json").write_text(json.dumps({"keys": [{"kid": "a", "x": "..."}]}))
    for path in tmp_path.iterdir():
        assert key_file_problem(path) is None, path


@pytest.mark.parametrize(
    ("name", "write"),
    [
        ("plain.pem", _plain_pem),
        ("pii.json", lambda p: p.write_text('{"keys": {"k1": "c2VjcmV0"}}')),
        ("ring.json", lambda p: p.write_text('{"keys": [{"d": "private"}]}')),
        ("notes.txt", lambda p: p.write_text("passphrase is hunter2")),
    ],
)
def test_a_plaintext_secret_is_refused_and_nothing_is_copied(
    tmp_path: Path, name: str, write: object
) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    assert callable(write)
    write(keys / name)
    assert key_file_problem(keys / name) is not None
    database = tmp_path / "tongban.db"
    database.write_bytes(b"")
    with pytest.raises(BackupError, match="refusing to back up keys"):
        take_backup(
            database=database, attachments_dir=tmp_path / "attachments", keys_dir=keys,
            destination=tmp_path / "backup", with_keys=True,
        )  # fmt: skip
    assert not (tmp_path / "backup" / "keys").exists()
    assert not (tmp_path / "backup" / "tongban.db").exists()


def test_backup_on_postgresql_says_what_to_use_instead(tmp_path: Path) -> None:
    """No half measure: on PostgreSQL the command names pg_dump / base backups and exits 1."""
    from click.testing import CliRunner

    from gateway.cli import main

    config = tmp_path / "tongban.toml"
    config.write_text('[store]\nurl = "postgresql://postgres@127.0.0.1:5432/test"\n')
    result = CliRunner().invoke(main, ["backup", str(tmp_path / "b"), "--config", str(config)])
    assert result.exit_code == 1
    assert "pg_dump" in result.output
    assert "pg_basebackup" in result.output
    assert not (tmp_path / "b").exists()
