"""``tongban audit verify|export``: check the log, or hand an auditor a verifiable copy.

``verify`` exits 1 naming the first bad entry (or the bad checkpoint), 0 when
everything checks out; ``--json`` prints the report as data either way.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.audit.checkpoints import load_public_keys, public_jwk
from gateway.audit.export import verify_export, write_export
from gateway.audit.proofs import ProofService
from gateway.audit.service import checkpoint_key_path, origin_for
from gateway.audit.verify import Report, verify_store
from gateway.cli_support import config_option, require_database, settings_or_fail
from gateway.config import Settings
from gateway.errors import TongbanError
from gateway.store import Store, open_store
from gateway.wording import counted


def _gateway_keys(settings: Settings) -> dict[str, Ed25519PublicKey]:
    path = checkpoint_key_path(settings)
    if not path.exists():
        raise click.ClickException(f"no checkpoint key at {path}; pass --key with the public key")
    return load_public_keys(path)


async def _open(settings: Settings) -> tuple[Store, str | None]:
    store = await open_store(settings)
    try:
        async with store.transaction() as conn:
            row = await conn.fetch_one("SELECT value FROM meta WHERE key = 'installation_id'")
    except BaseException:
        await store.aclose()
        raise
    return store, None if row is None else str(row["value"])


async def _verify_store(settings: Settings, keys: Mapping[str, Ed25519PublicKey]) -> Report:
    store, installation_id = await _open(settings)
    try:
        origin = None if installation_id is None else origin_for(installation_id)
        return await verify_store(store, keys, origin=origin)
    finally:
        await store.aclose()


@click.group("audit")
def audit() -> None:
    """Verify the tamper-evident audit log, or export it for an auditor."""


@audit.command("verify")
@config_option
@click.option(
    "--file",
    "file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Verify this export file (offline) instead of the database.",
)
@click.option(
    "--key",
    "key",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Trusted public keys (JWKS or PEM). Default: the gateway's checkpoint key, "
    "or for --file the keys inside the file.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify(config: Path | None, file: Path | None, key: Path | None, as_json: bool) -> None:
    """Recompute every entry, root and signature; exit 1 naming the first bad entry."""
    try:
        keys = load_public_keys(key) if key is not None else None
        if file is not None:
            report, pinned = verify_export(file, keys)
        else:
            settings = settings_or_fail(config)
            require_database(settings)
            keys = keys if keys is not None else _gateway_keys(settings)
            report, pinned = asyncio.run(_verify_store(settings, keys)), True
    except TongbanError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps({**report.to_json(), "keys_pinned": pinned}, indent=2))
    else:
        _print_report(report, pinned)
    if not report.ok:
        raise SystemExit(1)


def _print_report(report: Report, pinned: bool) -> None:
    rate = f", {report.entries / report.seconds:,.0f} entries/s" if report.seconds else ""
    last = report.first_seq + report.entries - 1
    span = f" ({report.first_seq}..{last})" if report.entries else ""
    click.echo(
        f"checked {counted(report.entries, 'entry', 'entries')}{span} and "
        f"{counted(report.checkpoints, 'checkpoint')} "
        f"({counted(report.checkpoints_matched, 'root')} matched) in {report.seconds:.2f} s{rate}"
    )
    if not pinned:
        click.echo("note: keys taken from the file itself; pin them with --key", err=True)
    if report.first_bad is not None:
        bad = report.first_bad
        click.secho(f"FIRST BAD ENTRY: {bad.seq} ({bad.reason}): {bad.message}", fg="red")
    for problem in report.checkpoint_problems:
        click.secho(f"BAD CHECKPOINT: {problem.message}", fg="red")
    if report.ok:
        click.secho("OK: the audit log is intact", fg="green")


@audit.command("export")
@config_option
@click.option(
    "--from", "first", type=click.IntRange(min=0), default=0, show_default=True,
    help="First entry (sequence number).",
)  # fmt: skip
@click.option(
    "--to", "last", type=click.IntRange(min=0), default=None,
    help="Last entry, inclusive. Default: the last one covered by a checkpoint.",
)  # fmt: skip
@click.option(
    "--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True,
    help="The export file to write (JSON Lines).",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def export(config: Path | None, first: int, last: int | None, out: Path, as_json: bool) -> None:
    """Write entries, checkpoints and proofs an auditor can verify offline."""
    settings = settings_or_fail(config)
    require_database(settings)
    keys = _gateway_keys(settings)

    async def run() -> dict[str, Any]:
        store, _ = await _open(settings)
        try:
            summary = await write_export(
                store, ProofService(store), out, first=first, last=last,
                keys=[public_jwk(k) for k in keys.values()],
            )  # fmt: skip
        finally:
            await store.aclose()
        return {
            "path": str(summary.path),
            "from": summary.first,
            "to": summary.last,
            "entries": summary.entries,
            "checkpoints": summary.checkpoints,
            "tree_size": summary.tree_size,
        }

    try:
        result = asyncio.run(run())
    except TongbanError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(
            f"wrote {counted(result['entries'], 'entry', 'entries')} "
            f"({result['from']}..{result['to']}) and "
            f"{counted(result['checkpoints'], 'checkpoint')}, proven against tree size "
            f"{result['tree_size']}, to {result['path']}"
        )
