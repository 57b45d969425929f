"""The gateway's SM2 key: `tongban keys ... --alg sm2`, and published in the live JWKS."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner

from gateway.app import create_app
from gateway.app_keys import GATEWAY_KEYS
from gateway.cli import main
from gateway.config import load_settings
from gateway.security import KeyStore
from gateway.security.sm2 import SM2PublicKey
from gateway.security.sm2_keys import SM2KeyStore

PASSPHRASE = "test passphrase"  # noqa: S105 - a throwaway key ring in tmp_path


def test_keys_generate_show_rotate_with_alg_sm2(tmp_path: Path) -> None:
    env = {"TONGBAN_DATA_DIR": str(tmp_path), "TONGBAN_SECURITY__KEY_PASSPHRASE": PASSPHRASE}
    runner = CliRunner(env=env)
    generated = runner.invoke(main, ["keys", "generate", "--alg", "sm2", "--json"])
    assert generated.exit_code == 0, generated.output
    document = json.loads(generated.output)
    (jwk,) = document["jwks"]["keys"]
    assert (jwk["kty"], jwk["crv"], jwk["kid"]) == ("EC", "SM2", document["active"])
    assert runner.invoke(main, ["keys", "generate", "--alg", "sm2"]).exit_code == 1
    # The Ed25519 ring is separate: it can still be created.
    assert runner.invoke(main, ["keys", "generate"]).exit_code == 0

    shown = runner.invoke(main, ["keys", "show", "--alg", "sm2", "--pem"])
    assert shown.exit_code == 0, shown.output
    assert SM2PublicKey.from_pem(shown.output) == SM2PublicKey.from_jwk(jwk)
    if shutil.which("openssl"):
        text = subprocess.run(
            ["openssl", "pkey", "-pubin", "-noout", "-text"],
            input=shown.output.encode(),
            capture_output=True,
            check=True,
        ).stdout
        assert b"SM2" in text

    rotated = json.loads(runner.invoke(main, ["keys", "rotate", "--alg", "sm2", "--json"]).output)
    assert rotated["active"] != document["active"]
    assert len(rotated["jwks"]["keys"]) == 2
    refused = runner.invoke(main, ["keys", "show", "--pem"])
    assert refused.exit_code == 2
    assert "--alg sm2" in refused.output


async def test_the_jwks_publishes_the_sm2_key_beside_the_ed25519_one(tmp_path: Path) -> None:
    settings = load_settings(
        environ={},
        overrides={"data_dir": str(tmp_path), "security": {"key_passphrase": PASSPHRASE}},
    )
    ed = KeyStore(tmp_path / "keys", PASSPHRASE).generate()
    sm2 = SM2KeyStore(tmp_path / "keys", PASSPHRASE).generate()
    async with TestClient(TestServer(create_app(settings), host="127.0.0.1")) as client:
        keys = (await (await client.get("/.well-known/tongban/keys")).json())["keys"]
        assert {key["kid"]: key.get("crv") for key in keys} == {
            ed.active_kid: "Ed25519",
            sm2.active_kid: "SM2",
        }
        unlocked = client.app[GATEWAY_KEYS].sm2_private_key
        assert unlocked is not None
        assert unlocked.public_key() == sm2.active.public_key
