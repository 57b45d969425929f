"""``tongban backup DEST [--with-keys]``, ``tongban backup --verify DEST``, ``tongban restore SRC``.

The embedded store only: on PostgreSQL the database's own tools do it better
(``pg_dump``, or base backups with WAL archiving), and the command says so and what
else to keep, rather than doing half of it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.audit.checkpoints import load_gateway_public_keys
from gateway.audit.service import checkpoint_key_path, origin_for
from gateway.audit.verify import Report, verify_store
from gateway.backup.copy import take_backup
from gateway.backup.restore import restore_backup, verified_copy
from gateway.cli_support import config_option, settings_or_fail
from gateway.config import Settings
from gateway.errors import TongbanError
from gateway.security.at_rest import public_pem_path
from gateway.security.wiring import key_passphrase
from gateway.store import SQLiteStore

POSTGRES_ADVICE = (
    "store.url is PostgreSQL: `tongban backup` copies the embedded SQLite store only. "
    "Back the database up with PostgreSQL's tools: `pg_dump --format=custom` for a "
    "logical copy, or `pg_basebackup` with WAL archiving (archive_mode = on) for "
    "point-in-time recovery. Also keep {data_dir}/attachments (uploaded materials) and "
    "the key directory {keys_dir} (encrypted at rest; the passphrase kept apart): the "
    "database alone cannot be verified or served without them. See README, 'Running in "
    "production'."
)


def _keys_dir(settings: Settings) -> Path:
    return settings.security.keys_dir or settings.data_dir / "keys"


def _sqlite_path(settings: Settings) -> Path:
    url = settings.store_url
    if not url.startswith("sqlite:///"):
        raise click.ClickException(
            POSTGRES_ADVICE.format(data_dir=settings.data_dir, keys_dir=_keys_dir(settings))
        )
    return Path(url.removeprefix("sqlite:///"))


def _checkpoint_keys(settings: Settings, backup: Path) -> dict[str, Ed25519PublicKey]:
    """The checkpoint key's public half: the backup's own copy, else this gateway's."""
    live = checkpoint_key_path(settings)
    packed = backup / "keys" / live.name
    for path in (packed, live):
        if public_pem_path(path).exists() or path.exists():
            return load_gateway_public_keys(path, key_passphrase(settings))
    raise click.ClickException(
        f"no checkpoint key to verify with: neither {packed} nor {live} exists"
    )


async def _verify_copy(
    database: Path, keys: Mapping[str, Ed25519PublicKey], installation_id: str | None
) -> Report:
    store = await SQLiteStore.open(database)
    try:
        origin = None if installation_id is None else origin_for(installation_id)
        return await verify_store(store, keys, origin=origin, compare_states=True)
    finally:
        await store.aclose()


def _verify(settings: Settings, backup: Path, as_json: bool) -> None:
    keys = _checkpoint_keys(settings, backup)
    with verified_copy(backup) as (database, manifest):
        report = asyncio.run(
            _verify_copy(database, keys, manifest["database"].get("installation_id"))
        )
    result: dict[str, Any] = {
        "backup": str(backup),
        "created": manifest["created"],
        "checksum_ok": True,
        "applications": manifest["database"]["applications"],
        "audit": report.to_json(),
        "ok": report.ok,
    }
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(f"backup {backup} of {manifest['created']}: checksum matches its manifest")
        click.echo(
            f"audit log: {report.entries:,} entries, {report.checkpoints:,} checkpoints; "
            f"{report.applications_checked or 0:,} applications replayed"
        )
        if report.first_bad is not None:
            click.secho(f"FIRST BAD ENTRY: {report.first_bad.seq}: {report.first_bad.message}",
                        fg="red")  # fmt: skip
        for message in [p.message for p in report.checkpoint_problems] + [
            p.message for p in report.state_problems
        ]:
            click.secho(f"PROBLEM: {message}", fg="red")
        if report.ok:
            click.secho("OK: the backup opens and its audit log verifies", fg="green")
    if not report.ok:
        raise SystemExit(1)


@click.command("backup")
@config_option
@click.argument("destination", type=click.Path(path_type=Path))
@click.option(
    "--with-keys", is_flag=True,
    help="Also copy the key directory, as it is at rest (encrypted under the key "
    "passphrase; a plaintext key file is refused). Keep the passphrase elsewhere.",
)  # fmt: skip
@click.option(
    "--verify", "verify_only", is_flag=True,
    help="Do not back up: check the backup at DESTINATION (checksum, audit verify).",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def backup(
    config: Path | None, destination: Path, with_keys: bool, verify_only: bool, as_json: bool
) -> None:
    """Copy the running gateway's database (and attachments) into the new directory
    DESTINATION, consistently, without stopping it."""
    settings = settings_or_fail(config)
    try:
        if verify_only:
            _verify(settings, destination, as_json)
            return
        summary = take_backup(
            database=_sqlite_path(settings),
            attachments_dir=settings.data_dir / "attachments",
            keys_dir=_keys_dir(settings),
            destination=destination,
            with_keys=with_keys,
        )
    except TongbanError as exc:
        raise click.ClickException(str(exc)) from exc
    result = {
        "destination": str(summary.destination),
        "seconds": round(summary.seconds, 3),
        "database_bytes": summary.database_bytes,
        "applications": summary.applications,
        "audit_entries": summary.audit_entries,
        "attachments": summary.attachments,
        "key_files": summary.key_files,
    }
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    keys = f", {summary.key_files} key files (encrypted)" if with_keys else " (no keys)"
    click.echo(
        f"backed up {summary.applications:,} applications, {summary.audit_entries:,} audit "
        f"entries ({summary.database_bytes:,} bytes), {summary.attachments:,} attachments"
        f"{keys} to {summary.destination} in {summary.seconds:.2f} s"
    )


@click.command("restore")
@config_option
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a database (and keys) that already hold data.")
def restore(config: Path | None, source: Path, force: bool) -> None:
    """Put the backup SOURCE in place of this gateway's database; the gateway must be
    stopped."""
    settings = settings_or_fail(config)
    try:
        summary = restore_backup(
            source,
            database=_sqlite_path(settings),
            attachments_dir=settings.data_dir / "attachments",
            keys_dir=_keys_dir(settings),
            force=force,
        )
    except (TongbanError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"restored {summary.applications:,} applications and {summary.attachments:,} "
        f"attachments to {summary.database}"
        + (f", {summary.key_files} key files" if summary.key_files else "")
    )
    if not summary.key_files and not _keys_dir(settings).exists():
        click.echo(
            f"note: the backup carries no keys and {_keys_dir(settings)} is empty: restore "
            "the key directory before starting, or the audit checkpoints will not verify",
            err=True,
        )
