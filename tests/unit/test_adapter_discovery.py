"""Adapter discovery: entry points are loaded, validated, and a third-party plugin is seen."""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path
from typing import Any

import pytest
from structlog.typing import EventDict

from adapters.base import AdapterBase, AdapterConfig, HttpClient, HttpResponse
from adapters.testing import MockHttpClient
from gateway.adapters_registry import discover, open_adapters
from gateway.config import AdaptersSettings
from gateway.envelope import Envelope, RegionAck
from gateway.errors import PluginError

GROUP = "tongban.adapters"


class FakeAdapter(AdapterBase):
    async def submit(self, envelope: Envelope) -> RegionAck:
        return RegionAck(region_case_no="X-1")

    send_supplement = withdraw = send_rating = submit

    async def health(self) -> dict[str, Any]:
        return {}


def make_fake(config: AdapterConfig, http: HttpClient) -> FakeAdapter:
    return FakeAdapter(config, http)


def wrong_region(config: AdapterConfig, http: HttpClient) -> FakeAdapter:
    return FakeAdapter(AdapterConfig(region="elsewhere", base_url=config.base_url), http)


NOT_CALLABLE = 42


def fake_entry_points(monkeypatch: pytest.MonkeyPatch, *points: tuple[str, str]) -> None:
    eps = [importlib.metadata.EntryPoint(name, value, GROUP) for name, value in points]

    def entry_points(*, group: str) -> list[importlib.metadata.EntryPoint]:
        return [ep for ep in eps if ep.group == group]

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)


@pytest.fixture
def http() -> HttpClient:
    """Never used for I/O here: the factories only keep a reference."""
    return MockHttpClient(lambda request: HttpResponse(500, {}, b""))


def test_installed_distribution_registers_the_four_regions() -> None:
    plugins = discover()
    assert {"shenzhen", "dongguan", "zhangjiagang", "peer"} <= set(plugins)
    assert plugins["shenzhen"].distribution.startswith("tongban-gateway")


def test_fake_plugin_is_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_entry_points(monkeypatch, ("guangzhou", f"{__name__}:make_fake"))
    assert discover()["guangzhou"].factory is make_fake


def test_two_plugins_for_one_region_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_entry_points(
        monkeypatch, ("shenzhen", f"{__name__}:make_fake"), ("shenzhen", f"{__name__}:wrong_region")
    )
    with pytest.raises(PluginError, match=r"two tongban\.adapters plugins claim 'shenzhen'"):
        discover()


def test_unimportable_plugin_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_entry_points(monkeypatch, ("guangzhou", "no_such_module_xyz:create"))
    with pytest.raises(PluginError, match=r"'guangzhou'.*cannot be loaded.*ModuleNotFoundError"):
        discover()


def test_non_callable_plugin_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_entry_points(monkeypatch, ("guangzhou", f"{__name__}:NOT_CALLABLE"))
    with pytest.raises(PluginError, match="is not callable"):
        discover()


def test_required_region_without_adapter_fails_start_up(
    monkeypatch: pytest.MonkeyPatch, http: HttpClient
) -> None:
    fake_entry_points(monkeypatch, ("shenzhen", f"{__name__}:make_fake"))
    settings = AdaptersSettings(regions=("shenzhen", "dongguan"))
    with pytest.raises(PluginError, match=r"no adapter installed for region\(s\) dongguan"):
        open_adapters(settings, http)


def test_factory_returning_another_region_is_refused(
    monkeypatch: pytest.MonkeyPatch, http: HttpClient
) -> None:
    fake_entry_points(monkeypatch, ("shenzhen", f"{__name__}:wrong_region"))
    with pytest.raises(PluginError, match="not an Adapter for that region"):
        open_adapters(AdaptersSettings(regions=("shenzhen",)), http)


def test_open_adapters_logs_how_many_loaded(
    monkeypatch: pytest.MonkeyPatch, http: HttpClient, logs: list[EventDict]
) -> None:
    fake_entry_points(
        monkeypatch, ("guangzhou", f"{__name__}:make_fake"), ("foshan", f"{__name__}:make_fake")
    )
    settings = AdaptersSettings(
        regions=("guangzhou",), plugins={"guangzhou": {"base_url": "http://gz", "key": "k"}}
    )
    registry = open_adapters(settings, http)
    assert registry["guangzhou"].region == "guangzhou"
    [event] = [e for e in logs if e["event"] == "adapters.loaded"]
    assert (event["count"], event["unused"]) == (1, ["foshan"])


def test_third_party_distribution_on_sys_path_is_discovered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, http: HttpClient
) -> None:
    """A real installed-layout distribution (dist-info + module), found by importlib.metadata."""
    (tmp_path / "tongban_guangzhou.py").write_text(
        "from adapters.base import AdapterBase\n"
        "class Guangzhou(AdapterBase):\n"
        "    async def submit(self, envelope): ...\n"
        "    send_supplement = withdraw = send_rating = submit\n"
        "    async def health(self): return {}\n"
        "def create(config, http): return Guangzhou(config, http)\n",
        encoding="utf-8",
    )
    info = tmp_path / "tongban_guangzhou-1.2.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: tongban-guangzhou\nVersion: 1.2.0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "[tongban.adapters]\nguangzhou = tongban_guangzhou:create\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "tongban_guangzhou", raising=False)
    plugins = discover()
    assert plugins["guangzhou"].distribution == "tongban-guangzhou 1.2.0"
    settings = AdaptersSettings(
        regions=("shenzhen", "guangzhou"), plugins={"guangzhou": {"base_url": "http://gz"}}
    )
    registry = open_adapters(settings, http)
    assert set(registry) == {"shenzhen", "guangzhou"}
    assert type(registry["guangzhou"]).__name__ == "Guangzhou"
