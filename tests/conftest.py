"""Fixtures shared by every test: settings in a temporary data dir, a live app on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import structlog
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from structlog.testing import capture_logs
from structlog.typing import EventDict

from gateway.app import create_app
from gateway.config import Settings, load_settings

REPO = Path(__file__).resolve().parents[1]
CATALOGS = REPO / "catalogs"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Default settings: data dir in this test's temporary directory, the repo's catalogue."""
    return load_settings(
        environ={},
        overrides={"data_dir": str(tmp_path / "var"), "catalog": {"directory": str(CATALOGS)}},
    )


@pytest.fixture
def logs() -> Iterator[list[EventDict]]:
    """Every structlog event emitted during the test, with contextvars merged in."""
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as events:
        yield events


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """An HTTP client for the gateway app, served for real on 127.0.0.1."""
    async with TestClient(TestServer(create_app(settings), host="127.0.0.1")) as test_client:
        yield test_client
