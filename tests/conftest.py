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


APPLICATIONS_CATALOGUE = REPO / "tests" / "data" / "applications_catalogue"
EXAMPLES = REPO / "contracts" / "examples"


@pytest.fixture
def applications_settings(tmp_path: Path) -> Settings:
    """Settings whose catalogue is the small composed one the application tests rely on."""
    return load_settings(
        environ={},
        overrides={
            "data_dir": str(tmp_path / "var"),
            "catalog": {"directory": str(APPLICATIONS_CATALOGUE)},
        },
    )


@pytest.fixture
async def applications_client(
    applications_settings: Settings,
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """The gateway with the test catalogue, on 127.0.0.1, with the example files uploaded."""
    app = create_app(applications_settings)
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        for path in sorted((EXAMPLES / "attachments").iterdir()):
            media_type = "application/pdf" if path.suffix == ".pdf" else "image/jpeg"
            response = await test_client.post(
                "/v1/attachments", data=path.read_bytes(), headers={"Content-Type": media_type}
            )
            assert response.status in (200, 201), await response.text()
        yield test_client
