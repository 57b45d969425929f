"""What an attacker with file access to the data directory does to the audit log.

Shared by the trusted-checkpoint and stored-state tests: each works through the
store as any SQL client would, on SQLite or PostgreSQL, after switching off the
append-only triggers (which file access allows).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from gateway.audit.canonical import entry_bytes
from gateway.audit.checkpoints import Checkpoint, Ed25519CheckpointSigner, load_or_create_key
from gateway.audit.merkle import leaf_hash
from gateway.audit.proofs import ProofService
from gateway.cli import main
from gateway.config import Settings, load_settings
from gateway.store import Connection, Store, open_store
from support.at_rest import TEST_PASSPHRASE

ENV = {"TONGBAN_SECURITY__KEY_PASSPHRASE": TEST_PASSPHRASE}
COLUMNS = (
    "seq, time, kind, application_id, request_id, trace_id, actor, region, data, "
    "prev_hash, leaf_hash"
)
_TRIGGERS_OFF = {
    "sqlite": [
        f"DROP TRIGGER IF EXISTS audit_{table}_no_{action}"
        for table in ("entries", "checkpoints")
        for action in ("update", "delete")
    ],
    "postgres": [
        "ALTER TABLE audit_entries DISABLE TRIGGER USER",
        "ALTER TABLE audit_checkpoints DISABLE TRIGGER USER",
    ],
}


def write_config(tmp_path: Path, store_url: str) -> Path:
    """A settings file for the CLI: the data dir and the store under `tmp_path`."""
    path = tmp_path / "tongban.toml"
    path.write_text(
        f'data_dir = "{tmp_path / "var"}"\n[store]\nurl = "{store_url}"\n', encoding="utf-8"
    )
    return path


def settings_of(config: Path) -> Settings:
    return load_settings(config, environ=ENV)


def tongban(*args: str, env: dict[str, str] | None = None) -> Result:
    """Run the CLI (call it in a thread from async tests: it runs its own event loop)."""
    return CliRunner().invoke(main, list(args), env=ENV if env is None else env)


async def opened(settings: Settings) -> Store:
    store = await open_store(settings)
    async with store.transaction() as conn:
        for statement in _TRIGGERS_OFF[store.backend]:
            await conn.execute(statement)
    return store


async def entries(conn: Connection) -> list[dict[str, Any]]:
    sql = f"SELECT {COLUMNS} FROM audit_entries ORDER BY seq"  # noqa: S608 - constant columns
    return [dict(row) for row in await conn.fetch_all(sql)]


async def truncate(settings: Settings, keep: int) -> None:
    """Delete every entry from `keep` on, and every checkpoint covering one of them."""
    store = await opened(settings)
    try:
        async with store.transaction() as conn:
            await conn.execute("DELETE FROM audit_entries WHERE seq >= :keep", {"keep": keep})
            await conn.execute(
                "DELETE FROM audit_checkpoints WHERE tree_size > :keep", {"keep": keep}
            )
    finally:
        await store.aclose()


async def rewrite_and_resign(
    settings: Settings, seq: int, data: str, signer: Ed25519CheckpointSigner | None = None
) -> None:
    """Give entry `seq` new `data` (canonical JSON), rehash and rechain every entry after
    it, and replace every checkpoint by one signed with `signer` (default: the key on
    disk) over the rewritten log."""
    if signer is None:
        key_file = settings.data_dir / "keys" / "audit-checkpoint.pem"
        signer = Ed25519CheckpointSigner(load_or_create_key(key_file, TEST_PASSPHRASE))
    store = await opened(settings)
    try:
        async with store.transaction() as conn:
            rows = await entries(conn)
            old = [Checkpoint.from_row(r) for r in await conn.fetch_all(
                "SELECT * FROM audit_checkpoints ORDER BY tree_size")]  # fmt: skip
            await conn.execute("DELETE FROM audit_entries WHERE seq >= :seq", {"seq": seq})
            await conn.execute("DELETE FROM audit_checkpoints")
            prev = rows[seq - 1]["leaf_hash"]
            placeholders = ", ".join(":" + name for name in COLUMNS.split(", "))
            for row in rows[seq:]:
                forged = {**row, "prev_hash": prev}
                if row["seq"] == seq:
                    forged["data"] = data
                forged["leaf_hash"] = prev = leaf_hash(entry_bytes(forged))
                await conn.execute(
                    f"INSERT INTO audit_entries ({COLUMNS}) VALUES ({placeholders})",  # noqa: S608
                    forged,
                )
        proofs = ProofService(store)
        for checkpoint in old:
            root = await proofs.root(checkpoint.tree_size)
            forged_checkpoint = Checkpoint(
                checkpoint.origin, checkpoint.tree_size, root, checkpoint.time, signer.key_id
            ).signed_by(signer)
            async with store.transaction() as conn:
                await conn.execute(
                    "INSERT INTO audit_checkpoints (tree_size, root_hash, time, origin, key_id, "
                    "signature) VALUES (:tree_size, :root_hash, :time, :origin, :key_id, "
                    ":signature)",
                    forged_checkpoint.to_row(),
                )
    finally:
        await store.aclose()
