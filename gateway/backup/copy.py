"""Backing up the embedded store: a consistent copy taken while the gateway runs.

A backup is a new directory:

- ``tongban.db``: the SQLite database, copied with SQLite's online backup API in
  one step, so the copy is one snapshot (a WAL reader: the running gateway keeps
  writing meanwhile and nothing it acknowledged after the snapshot is in it);
- ``attachments/``: the uploaded files, copied after the snapshot (they are written
  before the rows naming them, so every file the copy refers to is there);
- ``keys/`` only with ``with_keys``: the key directory as it is at rest — gateway
  keys and the checkpoint key as encrypted PKCS#8, the PII ring sealed under the
  key passphrase, public halves. A file that is not encrypted or public is
  refused, so no private key leaves in the clear;
- ``manifest.json``: what the copy holds (schema version, counts, SHA-256 of the
  database file), written last: a directory without one is not a backup.

Blocking file and SQLite work: call from a thread, never on the event loop.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway import __version__
from gateway.errors import TongbanError
from gateway.security.at_rest import ENCRYPT_COMMAND, is_sealed_json
from gateway.security.keys import RING_FILE

__all__ = [
    "BACKUP_FORMAT",
    "DATABASE_FILE",
    "MANIFEST_FILE",
    "BackupError",
    "BackupSummary",
    "copy_tree",
    "file_sha256",
    "take_backup",
]

BACKUP_FORMAT = "tongban-backup/v1"
DATABASE_FILE = "tongban.db"
MANIFEST_FILE = "manifest.json"


class BackupError(TongbanError):
    """A backup could not be taken, restored or verified; the message says why."""


@dataclass(frozen=True)
class BackupSummary:
    """What one backup run wrote."""

    destination: Path
    seconds: float
    database_bytes: int
    applications: int
    audit_entries: int
    attachments: int
    key_files: int


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _prepare(destination: Path) -> None:
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise BackupError(
            f"{destination} exists and is not an empty directory; back up to a new one"
        )
    try:
        destination.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"cannot create {destination}: {exc.strerror}") from exc


def _copy_database(source: Path, target: Path) -> None:
    """One-step online backup: a read snapshot of `source`, the writers keep going."""
    if not source.exists():
        raise BackupError(f"no database at {source}")
    partial = target.with_name(target.name + ".partial")
    try:
        # mode=ro: the backup never writes to the live database.
        src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            dst = sqlite3.connect(partial)
            try:
                src.backup(dst)  # pages=-1: every page under one read transaction
                # A single self-contained file: no -wal beside the copy.
                dst.execute("PRAGMA journal_mode=DELETE")
                problem = dst.execute("PRAGMA quick_check").fetchone()[0]
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"cannot copy {source}: {exc}") from exc
    if problem != "ok":
        partial.unlink(missing_ok=True)
        raise BackupError(f"the copy of {source} fails its integrity check: {problem}")
    _fsync(partial)
    partial.replace(target)


def _count(database: Path) -> dict[str, Any]:
    conn = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)
    try:

        def scalar(sql: str) -> Any:
            return conn.execute(sql).fetchone()[0]

        return {
            "applications": scalar("SELECT COUNT(*) FROM applications"),
            "audit_entries": scalar("SELECT COUNT(*) FROM audit_entries"),
            "schema_version": scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"),
            "installation_id": scalar("SELECT value FROM meta WHERE key = 'installation_id'"),
        }
    finally:
        conn.close()


def copy_tree(source: Path, target: Path) -> int:
    """Copy every file under `source` to the same place under `target` (over what is
    there, metadata kept); the number copied, 0 when `source` is no directory."""
    copied = 0
    if not source.is_dir():
        return 0
    for path in sorted(source.rglob("*")):
        if path.is_file():
            out = target / path.relative_to(source)
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, out)
            copied += 1
    return copied


def key_file_problem(path: Path) -> str | None:
    """Why `path` may not leave in a backup (plaintext secret, unknown file), or None."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return f"cannot read it: {exc.strerror}"
    if raw.lstrip().startswith(b"-----BEGIN"):
        private = b"PRIVATE KEY-----" in raw
        if private and b"-----BEGIN ENCRYPTED PRIVATE KEY-----" not in raw:
            return f"a private key in the clear (run `{ENCRYPT_COMMAND}` first)"
        return None  # encrypted PKCS#8, or a public key
    try:
        document = json.loads(raw)
    except ValueError:
        return "neither a PEM key nor JSON"
    if isinstance(document, dict) and is_sealed_json(document):
        return None
    if path.name == RING_FILE and b'"d"' not in raw:
        return None  # the ring's index: key ids and public halves only
    return f"a JSON document in the clear (run `{ENCRYPT_COMMAND}` first)"


def _copy_keys(keys_dir: Path, target: Path) -> int:
    if not keys_dir.is_dir():
        raise BackupError(f"--with-keys: no key directory at {keys_dir}")
    files = sorted(p for p in keys_dir.rglob("*") if p.is_file())
    refused = [(p, key_file_problem(p)) for p in files]
    problems = [f"{p}: {why}" for p, why in refused if why is not None]
    if problems:
        raise BackupError("refusing to back up keys: " + "; ".join(problems))
    return copy_tree(keys_dir, target)


def take_backup(
    *,
    database: Path,
    attachments_dir: Path,
    keys_dir: Path,
    destination: Path,
    with_keys: bool,
) -> BackupSummary:
    """Copy the live store at `database` (and its files) into the new `destination`.

    Raises `BackupError` (destination not new, no database, a plaintext key file);
    a failed run leaves no ``manifest.json``, so it is never taken for a backup.
    """
    started = time.monotonic()
    _prepare(destination)
    if with_keys:  # refused up front, before anything is copied
        for path in sorted(p for p in keys_dir.rglob("*") if p.is_file()):
            if (why := key_file_problem(path)) is not None:
                raise BackupError(f"refusing to back up keys: {path}: {why}")
    copy = destination / DATABASE_FILE
    _copy_database(database, copy)
    counts = _count(copy)
    attachments = copy_tree(attachments_dir, destination / "attachments")
    key_files = _copy_keys(keys_dir, destination / "keys") if with_keys else 0
    manifest = {
        "format": BACKUP_FORMAT,
        "gateway_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": {"file": DATABASE_FILE, "sha256": file_sha256(copy), **counts},
        "attachments": attachments,
        "keys": key_files if with_keys else None,
    }
    partial = destination / (MANIFEST_FILE + ".partial")
    partial.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    _fsync(partial)
    partial.replace(destination / MANIFEST_FILE)
    return BackupSummary(
        destination=destination,
        seconds=time.monotonic() - started,
        database_bytes=copy.stat().st_size,
        applications=int(counts["applications"]),
        audit_entries=int(counts["audit_entries"]),
        attachments=attachments,
        key_files=key_files,
    )
