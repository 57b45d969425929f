"""``tongban deliveries list|replay``: the outbox and its dead letters, for ops."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

import click

from gateway.applications.journal import Journal
from gateway.applications.notices import PartnerNotices
from gateway.applications.relay_outcomes import ApplicationOutcomes
from gateway.audit import AuditLog
from gateway.cli_support import config_option, require_database, settings_or_fail, with_store
from gateway.config import Settings
from gateway.relay import deliveries
from gateway.relay.replay import replay_all_failed, replay_delivery
from gateway.relay.seam import DeliveryListener
from gateway.security.wiring import pii_cipher
from gateway.store import Store


@click.group("deliveries")
def deliveries_group() -> None:
    """Deliveries to regions: the queue and its dead letters."""


@deliveries_group.command("list")
@config_option
@click.option("--state", type=click.Choice(deliveries.STATES), help="Only this state.")
@click.option("--region", help="Only this destination (a region, or partner:<id>).")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def list_command(
    config: Path | None, state: str | None, region: str | None, limit: int, as_json: bool
) -> None:
    """List deliveries, newest first (dead letters: --state failed)."""
    settings = settings_or_fail(config)
    require_database(settings)

    async def work(store: Store) -> list[dict[str, Any]]:
        async with store.read() as conn:
            return await deliveries.list_deliveries(
                conn, state=state, destination=region, limit=limit
            )

    rows = with_store(settings, work)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("没有符合条件的转发记录 (no deliveries)")
        return
    for row in rows:
        reason = f"  {row['dead_reason_zh']}" if row["dead_reason_zh"] else ""
        click.echo(
            f"{row['id']}  {row['region']:<13} {row['kind']:<11} {row['state']:<10}"
            f" attempts={row['attempts']:<3} case={row['region_case_no'] or '-'}{reason}"
        )


@deliveries_group.command("replay")
@config_option
@click.argument("delivery_id", required=False)
@click.option("--all-failed", is_flag=True, help="Replay every dead letter.")
@click.option("--region", help="With --all-failed: only this region's.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def replay_command(
    config: Path | None,
    delivery_id: str | None,
    all_failed: bool,
    region: str | None,
    as_json: bool,
) -> None:
    """Send a dead letter again under its idempotency key (audited)."""
    if bool(delivery_id) == all_failed:
        raise click.UsageError("give a DELIVERY_ID or --all-failed (one of them)")
    settings = settings_or_fail(config)
    require_database(settings)
    actor = f"ops:{getpass.getuser()}"

    async def work(store: Store) -> list[dict[str, object]]:
        listener = _listener(settings, store)
        if delivery_id:
            result = await replay_delivery(store, delivery_id, actor=actor, listener=listener)
            return [result.as_dict()]
        results = await replay_all_failed(store, actor=actor, listener=listener, destination=region)
        return [result.as_dict() for result in results]

    results = with_store(settings, work)
    if as_json:
        click.echo(json.dumps(results, ensure_ascii=False, indent=2))
    else:
        for result in results:
            outcome = "replayed" if result["replayed"] else f"not replayed: {result['reason']}"
            click.echo(f"{result['delivery_id']}  {outcome}")
    if any(not result["replayed"] for result in results) and delivery_id:
        raise SystemExit(1)


def _listener(settings: Settings, store: Store) -> DeliveryListener:
    """The applications' listener, as `gateway.app` builds it (this command is a
    composition root of its own, like the app factory).

    The running gateway's sealer checkpoints the audit entries on its next round.
    """
    cipher = pii_cipher(settings)
    notices = PartnerNotices.from_settings(settings.security, cipher)
    return ApplicationOutcomes(Journal(AuditLog(store.backend), cipher, notices))
