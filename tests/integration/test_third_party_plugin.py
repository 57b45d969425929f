"""A third-party region plugin built from the adapter contract alone works.

The plugin below is a separate distribution (a module plus its dist-info, found by
`importlib.metadata` on ``sys.path``), imports only `adapters.base`, `gateway.envelope`
and `gateway.errors`, brings its own settings model, and speaks a tiny JSON protocol
to a region server on loopback. The registry discovers it, hands it its
``[adapters.guangzhou]`` table from a TOML file, and the adapter delivers and polls
over real HTTP.
"""

from __future__ import annotations

import ast
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from support.plugins import install_distribution
from support.region_helpers import envelope

from adapters.base import PollAdapter
from adapters.http import AiohttpClient
from gateway.adapters_registry import discover, open_adapters
from gateway.config import load_settings
from gateway.envelope import Status
from gateway.errors import ConfigError, RegionRejected

CONTRACT = {"adapters.base", "gateway.envelope", "gateway.errors"}

PLUGIN = '''\
"""Guangzhou (440100): a third-party plugin using the adapter contract only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import SecretStr

from adapters.base import (
    AdapterBase,
    AdapterConfig,
    AdapterSettings,
    HttpClient,
    envelope_headers,
    json_bytes,
    json_object,
)
from gateway.envelope import Envelope, RegionAck, Status, StatusEvent
from gateway.errors import RegionRejected, RegionUnavailable


class GuangzhouSettings(AdapterSettings):
    url: str = "http://127.0.0.1:8199"
    api_key: SecretStr


class GuangzhouAdapter(AdapterBase):
    def __init__(self, config: AdapterConfig, http: HttpClient) -> None:
        settings = config.settings_as(GuangzhouSettings)
        super().__init__(config, http, settings)
        self._key = settings.api_key.get_secret_value()

    async def _post(self, path: str, payload: Any, headers: dict[str, str]) -> dict[str, Any]:
        response = await self._http.request(
            "POST",
            self._url(path),
            region=self.region,
            content=json_bytes(payload),
            headers={"Content-Type": "application/json", "X-Api-Key": self._key, **headers},
        )
        if response.status >= 500:
            raise RegionUnavailable(self.region, f"HTTP {response.status}")
        answer = json_object(self.region, response.body)
        if response.status >= 400:
            raise RegionRejected(self.region, str(answer["code"]), str(answer["message"]))
        return answer

    async def submit(self, envelope: Envelope) -> RegionAck:
        payload = {"ref": envelope.idempotency_key, "item": envelope.item_code}
        answer = await self._post("/cases", payload, envelope_headers(envelope))
        return RegionAck(region_case_no=answer["case"], duplicate=answer["duplicate"])

    async def _unsupported(self, envelope: Envelope) -> RegionAck:
        raise RegionRejected(self.region, "unsupported", envelope.kind)

    send_supplement = withdraw = send_rating = _unsupported

    async def poll(self, cases: Sequence[str]) -> list[StatusEvent]:
        answer = await self._post("/status", {"cases": list(cases)}, {})
        return [
            StatusEvent(
                event_id=event["id"],
                region=self.region,
                region_case_no=event["case"],
                status=Status(event["status"]),
                occurred_at=datetime.fromisoformat(event["at"]),
            )
            for event in answer["events"]
        ]

    async def health(self) -> dict[str, Any]:
        return {"url": self.base_url}


def create(config: AdapterConfig, http: HttpClient) -> GuangzhouAdapter:
    return GuangzhouAdapter(config, http)
'''


def install_plugin(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The plugin as an installed distribution: its module and dist-info on sys.path."""
    install_distribution(
        root,
        monkeypatch,
        module="tongban_guangzhou",
        source=PLUGIN,
        distribution="tongban-guangzhou",
        version="0.1.0",
        entry_points={"guangzhou": "tongban_guangzhou:create"},
    )


class Region:
    """Guangzhou's system: cases by reference, behind an API key."""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.cases: dict[str, str] = {}
        self.headers: list[dict[str, str]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/cases", self.submit)
        app.router.add_post("/status", self.status)
        return app

    def _allowed(self, request: web.Request) -> bool:
        self.headers.append(dict(request.headers))
        return request.headers.get("X-Api-Key") == self.api_key

    async def submit(self, request: web.Request) -> web.Response:
        if not self._allowed(request):
            return web.json_response({"code": "401", "message": "bad key"}, status=401)
        body = await request.json()
        duplicate = body["ref"] in self.cases
        case = self.cases.setdefault(body["ref"], f"GZ-{len(self.cases) + 1}")
        return web.json_response({"case": case, "duplicate": duplicate})

    async def status(self, request: web.Request) -> web.Response:
        if not self._allowed(request):
            return web.json_response({"code": "401", "message": "bad key"}, status=401)
        cases = (await request.json())["cases"]
        events = [
            {
                "id": f"{case}-1",
                "case": case,
                "status": "accepted",
                "at": "2026-12-03T09:00:00+08:00",
            }
            for case in cases
        ]
        return web.json_response({"events": events})


@pytest.fixture
async def region() -> AsyncIterator[tuple[Region, str]]:
    region = Region("gz-key")
    server = TestServer(region.app(), host="127.0.0.1")
    await server.start_server()
    yield region, str(server.make_url("")).rstrip("/")
    await server.close()


@pytest.fixture
async def http() -> AsyncIterator[AiohttpClient]:
    client = AiohttpClient(timeout=5.0, connect_timeout=2.0, pool_size=4)
    yield client
    await client.aclose()


def write_settings(path: Path, table: str) -> Path:
    path.write_text(
        f'[adapters]\nregions = ["guangzhou"]\n\n[adapters.guangzhou]\n{table}', encoding="utf-8"
    )
    return path


def test_the_plugin_imports_only_the_contract() -> None:
    modules = {
        node.module
        for node in ast.walk(ast.parse(PLUGIN))
        if isinstance(node, ast.ImportFrom) and node.module
    }
    ours = {m for m in modules if m.split(".")[0] in {"adapters", "gateway"}}
    assert ours == CONTRACT


async def test_a_contract_only_plugin_is_discovered_configured_and_relays(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    region: tuple[Region, str],
    http: AiohttpClient,
) -> None:
    system, url = region
    install_plugin(tmp_path, monkeypatch)
    assert discover()["guangzhou"].distribution == "tongban-guangzhou 0.1.0"
    config = write_settings(tmp_path / "tongban.toml", f'url = "{url}"\napi_key = "gz-key"\n')
    registry = open_adapters(load_settings(config, environ={}), http)
    adapter = registry["guangzhou"]
    assert isinstance(adapter, PollAdapter)

    sent = envelope(competent_region="guangzhou")
    first = await adapter.submit(sent)
    again = await adapter.submit(sent)  # a retry: same idempotency key, same case
    assert (first.region_case_no, first.duplicate) == ("GZ-1", False)
    assert (again.region_case_no, again.duplicate) == ("GZ-1", True)
    assert system.headers[0]["X-Request-ID"] == sent.request_id
    [event] = await adapter.poll(["GZ-1"])
    assert (event.region, event.region_case_no, event.status) == (
        "guangzhou",
        "GZ-1",
        Status.ACCEPTED,
    )
    assert await adapter.health() == {"url": url}
    await registry.aclose()


async def test_a_wrong_key_from_the_environment_is_the_regions_refusal(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    region: tuple[Region, str],
    http: AiohttpClient,
) -> None:
    """The variable ``TONGBAN_ADAPTERS__GUANGZHOU__API_KEY`` reaches the plugin's table."""
    _, url = region
    install_plugin(tmp_path, monkeypatch)
    config = write_settings(tmp_path / "tongban.toml", f'url = "{url}"\napi_key = "gz-key"\n')
    environ = {"TONGBAN_ADAPTERS__GUANGZHOU__API_KEY": "stale"}
    registry = open_adapters(load_settings(config, environ=environ), http)
    with pytest.raises(RegionRejected, match="bad key"):
        await registry["guangzhou"].submit(envelope(competent_region="guangzhou"))


def test_the_plugins_own_model_fails_boot_naming_the_key_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_plugin(tmp_path, monkeypatch)
    config = write_settings(tmp_path / "tongban.toml", 'url = "http://127.0.0.1:9"\nkey = "x"\n')
    http: Any = None  # never reached: validation fails first
    with pytest.raises(ConfigError) as caught:
        open_adapters(load_settings(config, environ={}), http)
    problems = dict(caught.value.problems)
    assert problems["adapters.guangzhou.api_key"].startswith("Field required")
    assert problems["adapters.guangzhou.key"] == (
        f"Extra inputs are not permitted (in {config}, line 6)"
    )
