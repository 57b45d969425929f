"""Fixtures shared by every test: settings in a temporary data dir, a live app on loopback.

Store fixtures (`store_url`, `store_factory`, `store`) are parametrized over both
backends. Each PostgreSQL test gets a fresh database of its own, created through
the maintenance DSN (env ``TONGBAN_TEST_POSTGRES_DSN``, default
`DEFAULT_POSTGRES_DSN`) and dropped after, since other test runs share the server.
An unreachable server skips the postgres cases, or fails them when ``CI`` is set.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import structlog
from aiohttp import web
from aiohttp.test_utils import TestClient
from structlog.testing import capture_logs
from structlog.typing import EventDict
from support.at_rest import TEST_PASSPHRASE
from support.examples import APPLICATIONS_CATALOGUE, upload_examples
from support.fixture_types import CatalogueSettings, StoreFactory
from support.gateway_server import GatewayTestServer
from support.partner_signing import (
    NARROW_PARTNER,
    OTHER_PARTNER,
    PARTNER,
    SignedClient,
    partners_setting,
)

from gateway.app import create_app
from gateway.applications import deadlines
from gateway.config import Settings, load_settings
from gateway.store import SQLiteStore, Store
from gateway.store.postgres import PostgresStore

DEFAULT_POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/test"
BACKENDS = [pytest.param("sqlite"), pytest.param("postgres", marks=pytest.mark.postgres)]

REPO = Path(__file__).resolve().parents[1]
CATALOGS = REPO / "catalogs"
CALENDAR = CATALOGS / "calendar"


@pytest.fixture(autouse=True)
def _restore_calendar() -> Iterator[None]:
    """Deadlines count on one calendar per process: a test that installs another loses it."""
    active = list(deadlines._active)
    yield
    deadlines._active[:] = active


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Default settings: data dir in this test's temporary directory, the repo's catalogue."""
    return load_settings(
        environ={},
        overrides={
            "data_dir": str(tmp_path / "var"),
            "catalog": {"directory": str(CATALOGS)},
            "calendar": {"directory": str(CALENDAR)},
            "security": {"key_passphrase": TEST_PASSPHRASE},
        },
    )


@pytest.fixture
def logs() -> Iterator[list[EventDict]]:
    """Every structlog event emitted during the test, with contextvars merged in."""
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as events:
        yield events


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """An HTTP client for the gateway app, served for real on 127.0.0.1 (`GatewayRunner`)."""
    async with TestClient(GatewayTestServer(create_app(settings), host="127.0.0.1")) as test_client:
        yield test_client


def _postgres_unreachable(reason: str) -> NoReturn:
    message = f"PostgreSQL test server unreachable ({reason}); set TONGBAN_TEST_POSTGRES_DSN"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


_unreachable: list[str] = []  # the first failure, so later tests do not wait again


@pytest.fixture(params=BACKENDS)
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A store URL naming an empty database: an SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    maintenance_dsn = os.environ.get("TONGBAN_TEST_POSTGRES_DSN", DEFAULT_POSTGRES_DSN)
    if _unreachable:
        _postgres_unreachable(_unreachable[0])
    try:
        admin = await asyncpg.connect(maintenance_dsn, timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        _unreachable.append(f"{maintenance_dsn}: {exc}")
        _postgres_unreachable(_unreachable[0])
    name = f"tb_{uuid.uuid4().hex[:8]}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield urlunsplit(urlsplit(maintenance_dsn)._replace(path=f"/{name}"))
    finally:
        # FORCE: a test that failed half-way may leave a connection behind.
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def store_factory(store_url: str) -> AsyncIterator[StoreFactory]:
    """Opens (unmigrated) stores on this test's database; closes them all after.

    Keyword arguments go to `SQLiteStore.open` or `PostgresStore.open`.
    """
    opened: list[Store] = []

    async def open_store(**options: Any) -> Store:
        store: Store
        if store_url.startswith("sqlite:///"):
            store = await SQLiteStore.open(Path(store_url.removeprefix("sqlite:///")), **options)
        else:
            store = await PostgresStore.open(store_url, **options)
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        await store.aclose()


@pytest.fixture
async def store(store_factory: StoreFactory) -> Store:
    """An open, unmigrated store on an empty database, on each backend."""
    return await store_factory()


@pytest.fixture
def backend_settings(tmp_path: Path, store_url: str) -> Settings:
    """Default settings pointing the store at this test's database, on each backend."""
    return load_settings(
        environ={},
        overrides={
            "data_dir": str(tmp_path / "var"),
            "store": {"url": store_url},
            "catalog": {"directory": str(CATALOGS)},
            "security": {"key_passphrase": TEST_PASSPHRASE},
        },
    )


@pytest.fixture
def catalogue_settings(tmp_path: Path) -> CatalogueSettings:
    """Builds settings on the small composed catalogue the application tests rely on, with
    the test partners registered; keyword sections are merged over it, per section."""

    def build(**sections: dict[str, Any]) -> Settings:
        overrides: dict[str, Any] = {
            "data_dir": str(tmp_path / "var"),
            "catalog": {"directory": str(APPLICATIONS_CATALOGUE)},
            "calendar": {"directory": str(CALENDAR)},
            "security": {
                "partners": partners_setting(PARTNER, OTHER_PARTNER, NARROW_PARTNER),
                "key_passphrase": TEST_PASSPHRASE,
            },
        }
        for name, values in sections.items():
            overrides[name] = {**overrides.get(name, {}), **values}
        return load_settings(environ={}, overrides=overrides)

    return build


@pytest.fixture
def applications_settings(catalogue_settings: CatalogueSettings) -> Settings:
    """Settings on the test catalogue with the test partners registered."""
    return catalogue_settings()


@pytest.fixture
async def applications_client(applications_settings: Settings) -> AsyncIterator[SignedClient]:
    """The gateway with the test catalogue, on 127.0.0.1, every request signed as
    `PARTNER`, with the example files uploaded."""
    app = create_app(applications_settings)
    async with TestClient(GatewayTestServer(app, host="127.0.0.1")) as test_client:
        client = SignedClient(test_client, PARTNER)
        await upload_examples(client)
        yield client
