"""``tongban trace ID [--verbose|--json]``: the timeline of one request, application or case."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from gateway.cli_support import config_option, require_database, settings_or_fail, with_store
from gateway.store import Store
from gateway.trace.render import render_trace
from gateway.trace.timeline import find_trace


@click.command("trace")
@config_option
@click.argument("identifier", metavar="ID")
@click.option(
    "--verbose", "-v", is_flag=True, help="Also show ids, per-hop times and audit digests."
)
@click.option("--json", "as_json", is_flag=True, help="Print the trace as JSON.")
def trace_command(config: Path | None, identifier: str, verbose: bool, as_json: bool) -> None:
    """Show what happened to ID: a request id, application id, region case number or
    trace id. Exit 1 if nothing matches."""
    settings = settings_or_fail(config)
    require_database(settings)
    due_soon = settings.applications.due_soon_working_days

    async def work(store: Store) -> dict[str, Any]:
        return await find_trace(store, identifier, due_soon_days=due_soon)

    result = with_store(settings, work)
    if not result["applications"]:
        click.echo(
            f"not found: no application, request, trace or region case has the id {identifier!r}",
            err=True,
        )
        raise SystemExit(1)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    render_trace(result, Console(file=sys.stdout, soft_wrap=False), verbose=verbose)
