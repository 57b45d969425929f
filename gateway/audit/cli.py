"""``tongban audit verify|checkpoint|export``: check the log, keep a checkpoint, hand it over.

``verify`` exits 1 naming the first bad entry (or the bad checkpoint, or the
trusted checkpoint the log no longer reaches or matches), 0 when everything
checks out; ``--json`` prints the report as data either way. ``checkpoint
--save`` keeps the latest signed checkpoint in a file, to be stored elsewhere
and passed back as ``verify --trusted``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.applications.journal import audit_pseudonym
from gateway.audit.checkpoints import (
    Checkpoint,
    load_gateway_public_keys,
    load_public_keys,
    public_jwk,
    signature_problem,
)
from gateway.audit.export import verify_export, write_export
from gateway.audit.proofs import ProofService
from gateway.audit.replay import CaseDigest
from gateway.audit.sealer import latest_checkpoint
from gateway.audit.service import checkpoint_key_path, origin_for
from gateway.audit.trusted import TrustedCheckpoint, load_trusted, saved_document
from gateway.audit.verify import Report, verify_store
from gateway.cli_support import config_option, require_database, settings_or_fail
from gateway.config import Settings
from gateway.errors import TongbanError
from gateway.security.pii import ring_path
from gateway.security.wiring import key_passphrase, pii_cipher
from gateway.store import Store, open_store
from gateway.wording import counted


def _gateway_keys(settings: Settings) -> dict[str, Ed25519PublicKey]:
    path = checkpoint_key_path(settings)
    if not path.exists():
        raise click.ClickException(f"no checkpoint key at {path}; pass --key with the public key")
    try:
        return load_gateway_public_keys(path, key_passphrase(settings))
    except TongbanError as exc:
        raise click.ClickException(str(exc)) from exc


async def _open(settings: Settings) -> tuple[Store, str | None]:
    store = await open_store(settings)
    try:
        async with store.read() as conn:
            row = await conn.fetch_one("SELECT value FROM meta WHERE key = 'installation_id'")
    except BaseException:
        await store.aclose()
        raise
    return store, None if row is None else str(row["value"])


def _case_digest(settings: Settings) -> CaseDigest | None:
    """How the audit log digests a region case number, if the PII index key can be had."""
    pii = settings.pii
    generated = ring_path(settings.data_dir)
    if not pii.keys and (not key_passphrase(settings) or not generated.exists()):
        return None  # never create a ring just to verify
    cipher = pii_cipher(settings)
    return lambda case_no: audit_pseudonym(cipher, "region_case_no", case_no)


async def _verify_store(
    settings: Settings,
    keys: Mapping[str, Ed25519PublicKey],
    trusted: Sequence[TrustedCheckpoint],
    case_digest: CaseDigest | None,
) -> Report:
    store, installation_id = await _open(settings)
    try:
        origin = None if installation_id is None else origin_for(installation_id)
        return await verify_store(
            store, keys, origin=origin, trusted=trusted, compare_states=True,
            case_digest=case_digest,
        )  # fmt: skip
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
@click.option(
    "--trusted",
    "trusted_sources",
    multiple=True,
    metavar="FILE|URL",
    help="A checkpoint kept elsewhere (`audit checkpoint --save`): the log must still reach "
    "and match it. Checked with --key, else the keys saved in it. Repeatable.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify(
    config: Path | None,
    file: Path | None,
    key: Path | None,
    trusted_sources: tuple[str, ...],
    as_json: bool,
) -> None:
    """Recompute every entry, root and signature, and replay the audited transitions
    against every stored application; exit 1 naming the first bad entry or application."""
    if file is not None and trusted_sources:
        raise click.UsageError("--trusted checks the database, not an export (--file)")
    try:
        keys = load_public_keys(key) if key is not None else None
        if file is not None:
            report, pinned = verify_export(file, keys)
        else:
            trusted = [load_trusted(source, keys) for source in trusted_sources]
            settings = settings_or_fail(config)
            require_database(settings)
            keys = keys if keys is not None else _gateway_keys(settings)
            case_digest = _case_digest(settings)
            report = asyncio.run(_verify_store(settings, keys, trusted, case_digest))
            pinned = True
            if case_digest is None and not as_json:
                click.echo(
                    "note: region case numbers not compared: they are audited as keyed "
                    "digests; set TONGBAN_SECURITY__KEY_PASSPHRASE to compare them",
                    err=True,
                )
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
    if report.trusted:
        click.echo(f"trusted checkpoints: {report.trusted_matched} of {report.trusted} matched")
    for problem in report.trusted_problems:
        click.secho(f"TRUSTED CHECKPOINT FAILS ({problem.reason}): {problem.message}", fg="red")
    if report.applications_checked is not None:
        click.echo(
            f"replayed the audited transitions of {report.applications_checked:,} applications: "
            f"{len(report.state_problems)} disagree with their stored state"
        )
    for disagreement in report.state_problems:
        click.secho(f"STORED STATE DISAGREES: {disagreement.message}", fg="red")
    if report.ok:
        click.secho("OK: the audit log is intact", fg="green")


@audit.command("checkpoint")
@config_option
@click.option(
    "--save",
    "save",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write it to this new file (with the public key it verifies with); keep the file "
    "off this machine and pass it later to `audit verify --trusted`.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the checkpoint as JSON.")
def checkpoint(config: Path | None, save: Path | None, as_json: bool) -> None:
    """Show the latest signed checkpoint, checked against the log; --save keeps a copy."""
    settings = settings_or_fail(config)
    require_database(settings)
    keys = _gateway_keys(settings)
    if save is not None and save.exists():
        raise click.ClickException(f"{save} exists; save each checkpoint to a new file")

    async def latest() -> tuple[Checkpoint | None, bytes | None]:
        store, _ = await _open(settings)
        try:
            async with store.read() as conn:
                found = await latest_checkpoint(conn)
            root = None if found is None else await ProofService(store).root(found.tree_size)
        finally:
            await store.aclose()
        return found, root

    try:
        found, root = asyncio.run(latest())
    except TongbanError as exc:
        raise click.ClickException(str(exc)) from exc
    if found is None:
        raise click.ClickException("the audit log has no signed checkpoint yet")
    problem = signature_problem(found, keys)
    if problem is None and root != found.root_hash:
        problem = "the log no longer hashes to its root (run `tongban audit verify`)"
    if problem is not None:
        raise click.ClickException(f"refusing the latest checkpoint {found.tree_size}: {problem}")
    document = saved_document(found, keys)
    if save is not None:
        try:
            with save.open("x", encoding="utf-8") as out:  # "x": never over another copy
                out.write(json.dumps(document, indent=2) + "\n")
        except OSError as exc:
            raise click.ClickException(f"cannot write {save}: {exc.strerror}") from exc
    if as_json:
        click.echo(json.dumps(document, indent=2))
        return
    click.echo(
        f"checkpoint of {found.tree_size:,} entries, root {found.root_hash.hex()}, signed "
        f"{found.time} by key {found.key_id}"
    )
    if save is not None:
        click.echo(f"saved to {save}: keep it off this machine (audit verify --trusted {save})")


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
