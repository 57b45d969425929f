"""What every ``tongban`` subcommand shares: the --config option, settings, the store."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click

from gateway.config import Settings, load_settings
from gateway.errors import TongbanError
from gateway.store import Store, open_store

T = TypeVar("T")

config_option = click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML settings file (see deploy/tongban.example.toml).",
)


def settings_or_fail(config: Path | None) -> Settings:
    """The settings, or a one-line CLI error naming every bad key."""
    try:
        return load_settings(config)
    except TongbanError as exc:
        raise click.ClickException(str(exc)) from exc


def require_database(settings: Settings) -> None:
    """Refuse to create an empty database just to read from it."""
    url = settings.store_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        raise click.ClickException(f"no database at {url.removeprefix('sqlite:///')}")


def with_store(settings: Settings, work: Callable[[Store], Awaitable[T]]) -> T:
    """Open the store, run `work` on it, close it; errors become CLI errors."""

    async def run() -> T:
        store = await open_store(settings)
        try:
            return await work(store)
        finally:
            await store.aclose()

    try:
        return asyncio.run(run())
    except TongbanError as exc:
        raise click.ClickException(str(exc)) from exc
