"""Restoring a backup into a stopped gateway's data, and verifying a backup in place.

Restore never lands on a database a gateway is using, and never over data without
``force``: an operator who restores by mistake loses nothing. The copy replaces the
target by rename, after its checksum matched the manifest, so a failed restore
leaves the target as it was.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.backup.copy import (
    BACKUP_FORMAT,
    DATABASE_FILE,
    MANIFEST_FILE,
    BackupError,
    copy_tree,
    file_sha256,
)

__all__ = ["RestoreSummary", "read_manifest", "restore_backup", "verified_copy"]


@dataclass(frozen=True)
class RestoreSummary:
    database: Path
    applications: int
    attachments: int
    key_files: int


def read_manifest(source: Path) -> dict[str, Any]:
    """The backup's manifest, with its database file checked against the SHA-256 in it."""
    path = source / MANIFEST_FILE
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BackupError(f"{source} is not a backup (no {MANIFEST_FILE})") from exc
    except (OSError, ValueError) as exc:
        raise BackupError(f"cannot read {path}: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != BACKUP_FORMAT:
        raise BackupError(f"{path} is not a {BACKUP_FORMAT} manifest")
    database = source / DATABASE_FILE
    if not database.is_file():
        raise BackupError(f"{source} has no {DATABASE_FILE}")
    if file_sha256(database) != manifest["database"]["sha256"]:
        raise BackupError(f"{database} does not match its manifest: damaged or altered")
    return manifest


def _holds_data(database: Path) -> bool:
    if not database.exists() or database.stat().st_size == 0:
        return False
    try:
        conn = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)
        try:
            tables = conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return True  # unreadable: still something an operator may want, so protected
    return bool(tables)


def _in_use(database: Path) -> bool:
    """True if another connection (a running gateway) has the database open.

    Leaving WAL mode needs the only connection to the file; a gateway holds one for
    as long as it runs, so the switch fails with "database is locked" while it does.
    """
    if not database.exists():
        return False
    try:
        conn = sqlite3.connect(database, timeout=0)
        try:
            mode = conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            return True
        raise BackupError(f"cannot open {database}: {exc}") from exc
    return str(mode).lower() != "delete"


def restore_backup(
    source: Path, *, database: Path, attachments_dir: Path, keys_dir: Path, force: bool
) -> RestoreSummary:
    """Put the backup at `source` in place of `database` (and its files).

    Raises `BackupError`: not a backup, damaged, the target database in use by a
    running gateway (even with `force`), or the target holding data without `force`.
    """
    manifest = read_manifest(source)
    if _in_use(database):
        raise BackupError(f"{database} is in use (is the gateway running?); stop it first")
    if _holds_data(database) and not force:
        raise BackupError(f"{database} already holds data; pass --force to replace it")
    has_keys = manifest.get("keys") is not None
    if has_keys and keys_dir.is_dir() and any(keys_dir.iterdir()) and not force:
        raise BackupError(f"{keys_dir} already holds keys; pass --force to replace them")
    database.parent.mkdir(parents=True, exist_ok=True)
    partial = database.with_name(database.name + ".restoring")
    shutil.copyfile(source / DATABASE_FILE, partial)
    for suffix in ("-wal", "-shm", "-journal"):  # the old database's, never the copy's
        database.with_name(database.name + suffix).unlink(missing_ok=True)
    partial.replace(database)
    attachments = copy_tree(source / "attachments", attachments_dir)
    key_files = copy_tree(source / "keys", keys_dir) if has_keys else 0
    return RestoreSummary(
        database=database,
        applications=int(manifest["database"]["applications"]),
        attachments=attachments,
        key_files=key_files,
    )


@contextmanager
def verified_copy(source: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """A scratch copy of the backup's database (opening it would change the original),
    checked against its manifest; removed afterwards."""
    manifest = read_manifest(source)
    with tempfile.TemporaryDirectory(prefix="tongban-verify-") as scratch:
        copy = Path(scratch) / DATABASE_FILE
        shutil.copyfile(source / DATABASE_FILE, copy)
        yield copy, manifest
