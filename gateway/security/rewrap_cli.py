"""``tongban keys rewrap``: the CLI over `gateway.security.rewrap`."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click

from gateway.cli_support import config_option, require_database, settings_or_fail, with_store
from gateway.security.rewrap import remaining, rewrap
from gateway.security.wiring import pii_cipher
from gateway.store import Store


@click.command("rewrap")
@config_option
@click.option("--batch", type=click.IntRange(1, 10_000), default=200, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
def rewrap_command(config: Path | None, batch: int, as_json: bool) -> None:
    """Re-seal personal data under the active PII key, in batches, beside the running
    gateway; safe to stop and run again (it resumes)."""
    settings = settings_or_fail(config)
    require_database(settings)

    async def run(store: Store) -> tuple[dict[str, int], dict[str, int]]:
        cipher = await asyncio.to_thread(pii_cipher, settings)
        before = await remaining(store, cipher)
        total = sum(before.values())
        click.echo(f"{total:,} values to re-seal under key {cipher.active_key_id}", err=True)

        def progress(column: str, count: int) -> None:
            click.echo(f"  {column}: {count:,} of {before[column]:,}", err=True)

        return before, await rewrap(store, cipher, batch=batch, progress=progress)

    before, done = with_store(settings, run)
    if as_json:
        click.echo(json.dumps({"found": before, "rewrapped": done}, indent=2))
    else:
        click.echo(f"re-sealed {sum(done.values()):,} values")
