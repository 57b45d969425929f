"""``tongban adapters`` (what is installed) and ``tongban sandbox REGION`` (run one)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from urllib.parse import urlsplit

import click

from gateway.adapters_registry import SANDBOX_GROUP, discover
from gateway.config import load_settings
from gateway.errors import TongbanError
from gateway.wording import counted


@click.command("adapters")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def adapters_command(as_json: bool) -> None:
    """List installed region adapters, their regions and sandboxes."""
    try:
        adapters = discover()
        sandboxes = discover(SANDBOX_GROUP)
    except TongbanError as exc:
        raise click.ClickException(str(exc)) from exc
    rows = [
        {
            "region": name,
            "adapter": plugin.value,
            "distribution": plugin.distribution,
            "sandbox": sandboxes[name].value if name in sandboxes else None,
        }
        for name, plugin in sorted(adapters.items())
    ]
    if as_json:
        click.echo(json.dumps({"adapters": rows}, ensure_ascii=False, indent=2))
        return
    for row in rows:
        sandbox = "sandbox" if row["sandbox"] else "no sandbox"
        click.echo(f"{row['region']:<14} {row['adapter']:<32} {row['distribution']}  ({sandbox})")
    click.echo(f"{counted(len(rows), 'adapter')} installed")


@click.command("sandbox")
@click.argument("region")
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path), help="TOML settings.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--port", type=click.IntRange(0, 65535), help="Default: the port of adapters.REGION.url."
)
@click.option("--latency-ms", type=click.FloatRange(0), default=0.0, show_default=True)
@click.option(
    "--fault-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of requests answered with the region's transient error.",
)
@click.option(
    "--drop-response-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of requests processed but whose response is lost.",
)
@click.option("--seed", type=int, help="Seed for the fault dice, for repeatable runs.")
@click.option(
    "--review-delay",
    type=click.FloatRange(0),
    default=3.0,
    show_default=True,
    help="Seconds per simulated review step.",
)
@click.option("--callback-url", help="Where to push results (push regions).")
def sandbox_command(
    region: str,
    config: Path | None,
    host: str,
    port: int | None,
    latency_ms: float,
    fault_rate: float,
    drop_response_rate: float,
    seed: int | None,
    review_delay: float,
    callback_url: str | None,
) -> None:
    """Run REGION's sandbox: a stand-in for its system, speaking its native protocol."""
    from adapters.sandbox import SETTINGS as SANDBOX_SETTINGS
    from adapters.sandbox import SandboxOptions
    from gateway.observability import configure_logging
    from gateway.server import serve

    try:
        settings = load_settings(config)
        plugins = discover(SANDBOX_GROUP)
    except TongbanError as exc:
        raise click.ClickException(str(exc)) from exc
    if region not in plugins:
        raise click.BadParameter(f"no sandbox for {region!r}; have: {', '.join(sorted(plugins))}")
    callback = callback_url or (
        f"{settings.adapters.callback_base_url.rstrip('/')}/v1/regions/{region}/callbacks"
    )
    options = SandboxOptions(
        latency_ms=latency_ms,
        fault_rate=fault_rate,
        drop_response_rate=drop_response_rate,
        seed=seed,
        review_delay=review_delay,
        callback_url=callback,
        origin_of=settings.origin_of,
    )
    configure_logging("console", settings.log.level)
    try:  # the sandbox validates the region's table as the adapter does
        app = plugins[region].factory(options, settings.adapters.region_table(region))
    except TongbanError as exc:
        raise click.ClickException(str(exc)) from exc
    if port is None:
        port = urlsplit(app[SANDBOX_SETTINGS].url).port or 0

    def announce(urls: list[str]) -> None:
        click.echo(f"{region} sandbox on {urls[0]} (cases: {urls[0]}/_sandbox/cases)", err=True)

    try:
        asyncio.run(serve(app, host=host, port=port, shutdown_timeout=2, on_listening=announce))
    except OSError as exc:
        raise click.ClickException(f"cannot listen: {exc.strerror or exc}") from exc
