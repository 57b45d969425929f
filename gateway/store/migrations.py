"""Numbered SQL migrations, applied in order at start-up.

A migration is a file ``NNNN_name.sql`` in ``migrations/<backend>/``. Each runs in
its own transaction and is recorded in ``schema_migrations`` with a SHA-256 of its
text; a recorded migration whose file has since changed, or a gap in the numbers,
stops start-up rather than leaving the schema in an unknown state.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from importlib.resources.abc import Traversable

import structlog

from gateway.errors import MigrationError
from gateway.store.base import Store

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    checksum   TEXT NOT NULL,
    applied_at TEXT NOT NULL
)
"""

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Migration:
    """One schema change: its number, name, SQL text and the text's SHA-256."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


def bundled_migrations(backend: str) -> list[Migration]:
    """The migrations shipped with the gateway for `backend`."""
    return load_migrations(resources.files("gateway.store") / "migrations" / backend)


def load_migrations(directory: Traversable) -> list[Migration]:
    """Read and order the ``NNNN_name.sql`` files in `directory`.

    Raises `MigrationError` for a misnamed file or a gap in the numbering.
    """
    found = []
    for entry in directory.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE_NAME.match(entry.name)
        if match is None:
            raise MigrationError(f"migration file {entry.name!r} is not named NNNN_name.sql")
        found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise MigrationError(
                f"migration {expected:04d} is missing (next found: {migration.version:04d})"
            )
    return found


async def migrate(store: Store, migrations: list[Migration]) -> list[Migration]:
    """Apply the migrations `store` has not seen; return those applied now.

    Safe to run from several processes at once: it holds `Store.migration_lock`,
    and each migration's transaction re-checks the ledger, so every migration is
    applied exactly once and a process that waited applies none twice.

    Raises `MigrationError` if an applied migration differs from its file or the
    database is newer than this code.
    """
    async with store.migration_lock():
        return await _migrate_locked(store, migrations)


async def _migrate_locked(store: Store, migrations: list[Migration]) -> list[Migration]:
    async with store.transaction() as conn:
        await conn.execute(_CREATE_LEDGER)
        rows = await conn.fetch_all("SELECT version, name, checksum FROM schema_migrations")
    applied = {row["version"]: row for row in rows}
    known = {m.version: m for m in migrations}
    for version, row in sorted(applied.items()):
        migration = known.get(version)
        if migration is None:
            raise MigrationError(
                f"the database has migration {version:04d}_{row['name']}, which this "
                "version of the gateway does not know: is it older than the database?"
            )
        if migration.checksum != row["checksum"]:
            raise MigrationError(
                f"migration {version:04d}_{migration.name}.sql was changed after it was "
                "applied; add a new migration instead of editing an applied one"
            )
    done = []
    for migration in migrations:
        if migration.version in applied:
            continue
        async with store.transaction() as conn:
            if await conn.fetch_one(
                "SELECT 1 AS seen FROM schema_migrations WHERE version = :version",
                {"version": migration.version},
            ):
                continue  # another process applied it since we read the ledger
            await conn.execute_script(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum, applied_at) "
                "VALUES (:version, :name, :checksum, :applied_at)",
                {
                    "version": migration.version,
                    "name": migration.name,
                    "checksum": migration.checksum,
                    "applied_at": datetime.now(UTC).isoformat(),
                },
            )
        log.info("store.migrated", version=migration.version, migration=migration.name)
        done.append(migration)
    return done
