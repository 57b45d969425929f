"""``tongban purge --dry-run|--apply``: the retention purge, run once by an operator.

Safe beside a running gateway (each case is purged in a write transaction and
skipped if another process got there first); the gateway also runs it on a
schedule (``[retention]``).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click

from gateway.audit.service import build_audit
from gateway.cli_support import config_option, require_database, settings_or_fail, with_store
from gateway.config import Settings
from gateway.errors import TongbanError
from gateway.observability import configure_logging
from gateway.retention.job import run_purge
from gateway.retention.purge import PurgeReport
from gateway.security.wiring import pii_cipher
from gateway.store import Store


async def _purge(settings: Settings, store: Store, dry_run: bool) -> PurgeReport:
    async with store.transaction() as conn:
        row = await conn.fetch_one("SELECT value FROM meta WHERE key = 'installation_id'")
    if row is None:
        raise click.ClickException("the database has no installation id: start the gateway once")
    audit = await build_audit(store, settings, str(row["value"]))
    cipher = await asyncio.to_thread(pii_cipher, settings)
    report = await run_purge(store, audit.log, cipher, settings, dry_run=dry_run)
    if report.cases and not dry_run:
        await audit.sealer.seal()  # the purge entries get their checkpoint now
    return report


@click.command("purge")
@config_option
@click.option("--dry-run", "mode", flag_value="dry", help="List the cases due, change nothing.")
@click.option("--apply", "mode", flag_value="apply", help="Purge them.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def purge(config: Path | None, mode: str | None, as_json: bool) -> None:
    """Purge the personal data of cases closed longer than retention.personal_data_days
    ago; the case record and its audit trail stay."""
    if mode is None:
        raise click.UsageError("say --dry-run (list) or --apply (purge)")
    settings = settings_or_fail(config)
    require_database(settings)
    # Log lines to stderr, so --json output on stdout stays one document.
    configure_logging(settings.log.format, settings.log.level)
    try:
        report = with_store(settings, lambda store: _purge(settings, store, mode == "dry"))
    except TongbanError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
        return
    days = settings.retention.personal_data_days
    verb = "would purge" if report.dry_run else "purged"
    click.echo(
        f"{verb} the personal data of {len(report.cases):,} cases closed before "
        f"{report.cutoff} ({days:g} days)"
        + ("" if report.dry_run else f"; {len(report.attachments):,} attachment files deleted")
    )
    for app_id in report.cases[:20] if report.dry_run else []:
        click.echo(f"  {app_id}")
