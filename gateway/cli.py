"""The ``tongban`` command line.

click rather than typer: click is explicit (decorators name every option), has no
runtime type introspection, and typer would only add a layer over it.
Errors are one red line and exit status 2 (usage) or 1 (failure), never a traceback.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import click
import structlog

from gateway import __version__
from gateway.adapters_cli import adapters_command, sandbox_command
from gateway.audit import cli as audit_cli
from gateway.backup import cli as backup_cli
from gateway.bench.cli import bench_command
from gateway.catalog.cli import catalog
from gateway.cli_support import config_option
from gateway.config import Settings, load_settings
from gateway.demo import start_demo_sandboxes
from gateway.errors import TongbanError
from gateway.federation.demo import receiving_overrides, start_competent_gateway
from gateway.holidays.cli import calendar_group
from gateway.relay.cli import deliveries_group
from gateway.retention.cli import purge as purge_command
from gateway.security import cli as security_cli
from gateway.security.at_rest import PASSPHRASE_ENV
from gateway.security.demo import (
    DEMO_PARTNER,
    prepare_demo_security,
    running_program,
    submit_command,
)
from gateway.security.rewrap_cli import rewrap_command
from gateway.staff.cli import users
from gateway.staff.demo import describe as describe_demo_accounts
from gateway.staff.demo import seed_demo_accounts
from gateway.trace.cli import trace_command


def _load(config: Path | None, overrides: Mapping[str, Any] | None = None) -> Settings:
    try:
        return load_settings(config, overrides=overrides)
    except TongbanError as exc:
        raise click.ClickException(str(exc)) from exc


def _run_server(
    settings: Settings,
    banner: str | None,
    last_words: str = "",
    reread: Callable[[], Settings] | None = None,
    sockets: list[socket.socket] | None = None,
    parent_fd: int | None = None,
) -> None:
    """Serve until stopped. Once listening, the demo prints its `banner` and then
    `last_words`, after every start-up log line, so they do not scroll away.
    On SIGHUP the keys and partners are re-read (`reread`: the settings afresh).
    A worker of `serve --workers` serves its parent's `sockets` and reports to it
    on `parent_fd` (`gateway.workers`)."""
    from gateway.app import create_app
    from gateway.app_keys import RELOAD_SETTINGS
    from gateway.observability import configure_logging
    from gateway.security.reload import on_hangup
    from gateway.server import event_loop_factory, serve

    _require_passphrase(settings)
    configure_logging(settings.log.format, settings.log.level)
    # First thing said: where this gateway keeps its data and which catalogue it serves,
    # both resolved, since the defaults depend on the working directory and the install.
    structlog.get_logger("gateway.cli").info(
        "gateway.starting",
        version=__version__,
        data_dir=str(settings.data_dir.resolve()),
        catalog=str(settings.catalog.location),
        catalog_source="packaged" if settings.catalog.directory is None else "catalog.directory",
    )

    async def announce(urls: list[str]) -> None:
        if parent_fd is not None:
            from gateway.workers import announce_ready

            await announce_ready(parent_fd)
        if banner is not None:
            base = urls[0]
            click.echo(
                f"\nTongban Gateway {__version__} demo is running.\n"
                f"  gateway    {base}\n"
                f"  readiness  {base}/readyz\n"
                f"  data       {settings.data_dir.resolve()}\n"
                f"{banner}Press Ctrl+C to stop.\n{last_words}",
                err=True,
            )

    app = create_app(settings)
    if reread is not None:
        app[RELOAD_SETTINGS] = reread
    try:
        with asyncio.Runner(loop_factory=event_loop_factory(settings.server.event_loop)) as runner:
            runner.run(
                serve(
                    app,
                    host=settings.server.host,
                    port=settings.server.port,
                    shutdown_timeout=settings.server.shutdown_timeout,
                    on_listening=announce,
                    settings=settings.server,
                    on_hangup=lambda: on_hangup(app),
                    sockets=sockets,
                )
            )
    except TongbanError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:  # e.g. the port is taken
        where = f"{settings.server.host}:{settings.server.port}"
        raise click.ClickException(f"cannot listen on {where}: {exc.strerror or exc}") from exc


def _require_passphrase(settings: Settings) -> None:
    if settings.security.key_passphrase is None:
        # Refused before anything is created: every key at rest is encrypted under it.
        raise click.ClickException(
            "security.key_passphrase is not set: the gateway keeps its keys encrypted under "
            f"it. Set {PASSPHRASE_ENV} (a long random secret; keep it outside {settings.data_dir}"
            "), then start again."
        )


def _run_workers(config: Path | None, settings: Settings, workers: int) -> None:
    """`serve --workers N`: a parent supervising N worker processes on one port."""
    from gateway.observability import configure_logging
    from gateway.workers import refuse_embedded_store, supervise

    refusal = refuse_embedded_store(settings, workers)
    if refusal is not None:
        raise click.UsageError(refusal)
    _require_passphrase(settings)
    configure_logging(settings.log.format, settings.log.level)

    def worker_command(fds: Sequence[int], parent_fd: int) -> list[str]:
        where = ["--config", str(config)] if config is not None else []
        listen = [f"--listen-fd={fd}" for fd in fds]
        return [sys.executable, "-m", "gateway.cli", "serve", *where, *listen,
                f"--parent-fd={parent_fd}"]  # fmt: skip

    try:
        status = supervise(settings, workers, worker_command)
    except TongbanError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:  # e.g. the port is taken
        where = f"{settings.server.host}:{settings.server.port}"
        raise click.ClickException(f"cannot listen on {where}: {exc.strerror or exc}") from exc
    if status != 0:
        raise click.ClickException("a worker could not start; its log lines say why")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tongban")
def main() -> None:
    """Tongban Gateway (通办网关): relay applications between regions."""


@main.command()
@config_option
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Gateway processes sharing the port, under one supervising parent (PostgreSQL only "
    "when more than 1).",
)
@click.option("--listen-fd", "listen_fds", type=int, multiple=True, hidden=True)
@click.option("--parent-fd", type=int, hidden=True)
def serve(
    config: Path | None, workers: int, listen_fds: tuple[int, ...], parent_fd: int | None
) -> None:
    """Run the gateway, for production."""
    settings = _load(config)
    if workers > 1:
        _run_workers(config, settings, workers)
        return
    # A worker of `serve --workers` (gateway.workers) serves the sockets it inherited.
    sockets = [socket.socket(fileno=fd) for fd in listen_fds] or None
    _run_server(
        settings, banner=None, reread=lambda: _load(config), sockets=sockets, parent_fd=parent_fd
    )


@main.command()
@config_option
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var"),
    show_default=True,
    help="Where the embedded SQLite database and demo keys live.",
)
@click.option(
    "--federation",
    is_flag=True,
    help="Two gateways as peers: this one as Dongguan's, and Shenzhen's beside it "
    "(port + 1, data in DATA_DIR/shenzhen-gateway); Shenzhen's items go to the peer.",
)
def demo(config: Path | None, port: int, data_dir: Path, federation: bool) -> None:
    """Run the gateway on 127.0.0.1 with embedded SQLite, for a demo."""
    overrides: dict[str, Any] = {
        "data_dir": str(data_dir),
        "server": {"host": "127.0.0.1", "port": port},
        "store": {"url": None},  # the demo always runs on embedded SQLite
        "log": {"format": "console"},
        # Checkpoints soon after a submission, so its receipt can be proven at once.
        "audit": {"checkpoint_interval_seconds": 5.0},
    }
    overrides["security"] = prepare_demo_security(data_dir, port)
    peer = None
    if federation:
        peer_port = port + 1
        overrides.update(receiving_overrides(f"http://127.0.0.1:{peer_port}"))
        peer = start_competent_gateway(
            data_dir / "shenzhen-gateway", peer_port, f"http://127.0.0.1:{port}"
        )
    # Sandboxes for every region, on free ports; the adapters are pointed at them.
    base = _load(config, overrides)
    sandboxes = start_demo_sandboxes(base.adapters, f"http://127.0.0.1:{port}")
    overrides["adapters"] = {
        **overrides.get("adapters", {}),
        **sandboxes.settings_overrides(),
        "callback_base_url": f"http://127.0.0.1:{port}",
    }
    banner = "".join(f"  sandbox    {r:<13} {url}\n" for r, url in sandboxes.urls.items())
    if peer is not None:
        banner += (
            f"  peer       shenzhen gateway {peer.url} (log {peer.log_path})\n"
            f"  sandbox    shenzhen      {peer.sandboxes.urls.get('shenzhen')} (Shenzhen's)\n"
        )
    seeded = seed_demo_accounts(_load(config, overrides))
    command = submit_command(data_dir, port, running_program())
    # Printed last, after start-up logging, so neither scrolls away.
    last_words = (
        "\n"
        + describe_demo_accounts(f"http://127.0.0.1:{port}/console/", seeded)
        + f"\n\nSubmit the example application as the demo partner {DEMO_PARTNER!r}:\n"
        f"  {command}\n"
    )
    if peer is not None:
        last_words += (
            "It is for a Shenzhen item: Dongguan's gateway relays it to Shenzhen's gateway,\n"
            "whose status notices (受理, 办理中, 准予) come back to the application here.\n"
        )
    try:
        _run_server(_load(config, overrides), banner=banner, last_words=last_words)
    finally:
        sandboxes.stop()
        if peer is not None:
            peer.stop()


@main.command()
@config_option
def migrate(config: Path | None) -> None:
    """Bring the database schema up to date, then exit (a release step or an init
    container; `serve` does the same at start). Safe with several processes at once."""
    from gateway.cli_support import with_store
    from gateway.store import shown_url

    settings = _load(config)

    async def nothing(_store: object) -> None:
        return None

    with_store(settings, nothing)
    click.echo(f"schema up to date: {shown_url(settings.store_url)}")


main.add_command(adapters_command)
main.add_command(sandbox_command)

main.add_command(security_cli.keys)
main.add_command(security_cli.partner)
main.add_command(catalog)
main.add_command(calendar_group)
main.add_command(deliveries_group)


main.add_command(audit_cli.audit)
main.add_command(trace_command)
main.add_command(users)

# Operations (issue 18): backups.
main.add_command(backup_cli.backup)
main.add_command(backup_cli.restore)
main.add_command(purge_command)
# Keys without downtime: `tongban keys rewrap` (the reload itself is SIGHUP to `serve`).
security_cli.keys.add_command(rewrap_command)
# Issue 15: speed against baselines (gateway/bench/).
main.add_command(bench_command)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
