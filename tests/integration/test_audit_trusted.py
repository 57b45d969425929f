"""``audit checkpoint --save`` and ``audit verify --trusted``: checkpoints kept elsewhere.

An attacker with file access who deletes the newest entries and their checkpoints,
or rewrites an entry and re-signs every checkpoint (with the key on disk, or a key
of their own), leaves a log that agrees with itself: plain ``audit verify`` says OK.
A checkpoint saved earlier still proves the old log: ``--trusted`` names the
truncation or the rewrite and exits 1. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from support.audit_attacks import (
    rewrite_and_resign,
    settings_of,
    tongban,
    truncate,
    write_config,
)

from gateway.app import STORE, create_app
from gateway.app_keys import AUDIT
from gateway.audit.checkpoints import Ed25519CheckpointSigner


@pytest.fixture
async def config(tmp_path: Path, store_url: str) -> Path:
    """30 entries written by the app, checkpoints at 20 and 30, each saved to a file
    (``saved-20.json``, ``saved-30.json`` beside the config) as ops would."""
    path = write_config(tmp_path, store_url)
    app = create_app(settings_of(path))
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        for count in (20, 10):
            for i in range(count):
                async with app[STORE].transaction() as conn:
                    await app[AUDIT].log.append(
                        conn, kind="test.appended", actor="system", data={"i": i}
                    )
            await app[AUDIT].sealer.seal()
            saved = tmp_path / f"saved-{30 if count == 10 else 20}.json"
            result = await asyncio.to_thread(
                tongban, "audit", "checkpoint", "--config", str(path), "--save", str(saved)
            )
            assert result.exit_code == 0, result.output
    finally:
        await runner.cleanup()
    return path


def saved_files(config: Path) -> list[Path]:
    return [config.parent / "saved-20.json", config.parent / "saved-30.json"]


async def verify(config: Path, *trusted: Path | str) -> tuple[int, str]:
    args = ["audit", "verify", "--config", str(config)]
    for source in trusted:
        args += ["--trusted", str(source)]
    result = await asyncio.to_thread(tongban, *args)
    return result.exit_code, result.output


async def test_saved_checkpoints_match_an_untouched_log(config: Path) -> None:
    saved = json.loads((config.parent / "saved-20.json").read_text(encoding="utf-8"))
    assert (saved["format"], saved["tree_size"]) == ("tongban-audit-checkpoint/v1", 20)
    assert saved["keys"][0]["kid"] == saved["key_id"]
    code, output = await verify(
        config, config.parent / "saved-20.json", config.parent / "saved-30.json"
    )
    assert code == 0, output
    assert "trusted checkpoints: 2 of 2 matched" in output


async def test_truncation_after_a_trusted_checkpoint_is_named(config: Path) -> None:
    await truncate(settings_of(config), keep=25)
    code, output = await verify(config)
    assert code == 0, output  # the log and its own checkpoints agree: the attack worked so far
    code, output = await verify(
        config, config.parent / "saved-20.json", config.parent / "saved-30.json"
    )
    assert code == 1, output
    assert "TRUSTED CHECKPOINT FAILS (truncated)" in output
    assert "entries 25..29 were deleted" in output
    assert "rewritten" not in output
    assert "trusted checkpoints: 1 of 2 matched" in output


async def test_a_rewrite_re_signed_with_the_key_on_disk_is_named(config: Path) -> None:
    await rewrite_and_resign(settings_of(config), seq=5, data='{"i":999}')
    code, output = await verify(config)
    assert code == 0, output  # every hash and signature agrees with the rewritten log
    code, output = await verify(config, config.parent / "saved-20.json")
    assert code == 1, output
    assert "TRUSTED CHECKPOINT FAILS (rewritten)" in output
    assert "entries before 20 were changed" in output
    assert "truncated" not in output
    result = await asyncio.to_thread(
        tongban, "audit", "verify", "--config", str(config), "--trusted",
        str(config.parent / "saved-30.json"), "--json",
    )  # fmt: skip
    report = json.loads(result.output)
    assert result.exit_code == 1
    assert [(p["reason"], p["tree_size"]) for p in report["trusted_problems"]] == [
        ("rewritten", 30)
    ]


async def test_a_rewrite_signed_with_a_new_key_is_named_not_excused(config: Path) -> None:
    """The attacker replaces the key on disk too: the saved file's key still decides."""
    settings = settings_of(config)
    forger = Ed25519CheckpointSigner(Ed25519PrivateKey.generate())
    await rewrite_and_resign(settings, seq=3, data='{"i":-1}', signer=forger)
    public = forger.public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    (settings.data_dir / "keys" / "audit-checkpoint.pub.pem").write_bytes(public)
    code, output = await verify(config)
    assert code == 0, output  # the log agrees with the key now on disk
    code, output = await verify(config, config.parent / "saved-20.json")
    assert code == 1, output
    assert "TRUSTED CHECKPOINT FAILS (rewritten)" in output
    assert "unknown key" not in output.split("TRUSTED")[1]


async def test_a_trusted_file_that_was_altered_is_refused(config: Path, tmp_path: Path) -> None:
    saved = json.loads((config.parent / "saved-20.json").read_text(encoding="utf-8"))
    saved["root_hash"] = "00" * 32
    altered = tmp_path / "altered.json"
    altered.write_text(json.dumps(saved), encoding="utf-8")
    code, output = await verify(config, altered)
    assert code == 1, output
    assert "TRUSTED CHECKPOINT FAILS (signature)" in output


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output clean."""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """The directory holding the saved checkpoints, served over HTTP on loopback."""
    handler = partial(QuietHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def test_a_trusted_checkpoint_can_be_fetched_by_url(config: Path, served: str) -> None:
    code, output = await verify(config, f"{served}/saved-30.json")
    assert code == 0, output
    await truncate(settings_of(config), keep=12)
    code, output = await verify(config, f"{served}/saved-30.json")
    assert code == 1, output
    assert "(truncated)" in output
    code, output = await verify(config, f"{served}/no-such-file.json")
    assert code == 1
    assert "cannot fetch the trusted checkpoint" in output


async def test_save_never_overwrites_a_kept_copy(config: Path) -> None:
    kept = config.parent / "saved-20.json"
    before = kept.read_bytes()
    result = await asyncio.to_thread(
        tongban, "audit", "checkpoint", "--config", str(config), "--save", str(kept)
    )
    assert result.exit_code == 1
    assert "exists" in result.output
    assert kept.read_bytes() == before
