"""Adapter discovery: entry points are loaded, validated, and a third-party plugin is seen."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

import pytest
from structlog.typing import EventDict
from support.plugins import install_distribution

from adapters.base import AdapterBase, AdapterConfig, AdapterSettings, HttpClient, HttpResponse
from adapters.testing import MockHttpClient
from gateway.adapters_registry import discover, open_adapters
from gateway.config import Settings, load_settings
from gateway.envelope import Envelope, RegionAck
from gateway.errors import ConfigError, PluginError

GROUP = "tongban.adapters"


class FakeAdapter(AdapterBase):
    async def submit(self, envelope: Envelope) -> RegionAck:
        return RegionAck(region_case_no="X-1")

    send_supplement = withdraw = send_rating = submit

    async def health(self) -> dict[str, Any]:
        return {}


class FakeSettings(AdapterSettings):
    url: str = "http://fake.invalid"
    key: str = "k"


def make_fake(config: AdapterConfig, http: HttpClient) -> FakeAdapter:
    return FakeAdapter(config, http, config.settings_as(FakeSettings))


def wrong_region(config: AdapterConfig, http: HttpClient) -> FakeAdapter:
    return FakeAdapter(AdapterConfig(region="elsewhere"), http, FakeSettings())


def adapters_settings(**adapters: Any) -> Settings:
    return load_settings(environ={}, overrides={"adapters": adapters})


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
    settings = adapters_settings(regions=("shenzhen", "dongguan"))
    with pytest.raises(PluginError, match=r"no adapter installed for region\(s\) dongguan"):
        open_adapters(settings, http)


def test_factory_returning_another_region_is_refused(
    monkeypatch: pytest.MonkeyPatch, http: HttpClient
) -> None:
    fake_entry_points(monkeypatch, ("shenzhen", f"{__name__}:wrong_region"))
    with pytest.raises(PluginError, match="not an Adapter for that region"):
        open_adapters(adapters_settings(regions=("shenzhen",)), http)


def test_open_adapters_logs_how_many_loaded(
    monkeypatch: pytest.MonkeyPatch, http: HttpClient, logs: list[EventDict]
) -> None:
    fake_entry_points(
        monkeypatch, ("guangzhou", f"{__name__}:make_fake"), ("foshan", f"{__name__}:make_fake")
    )
    settings = adapters_settings(regions=("guangzhou",), guangzhou={"url": "http://gz"})
    registry = open_adapters(settings, http)
    assert registry["guangzhou"].region == "guangzhou"
    [event] = [e for e in logs if e["event"] == "adapters.loaded"]
    assert (event["count"], event["unused"]) == (1, ["foshan"])


def test_third_party_distribution_on_sys_path_is_discovered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, http: HttpClient
) -> None:
    """A real installed-layout distribution (dist-info + module), found by importlib.metadata."""
    install_distribution(
        tmp_path,
        monkeypatch,
        module="tongban_guangzhou",
        source=(
            "from adapters.base import AdapterBase, AdapterSettings\n"
            "class Guangzhou(AdapterBase):\n"
            "    async def submit(self, envelope): ...\n"
            "    send_supplement = withdraw = send_rating = submit\n"
            "    async def health(self): return {}\n"
            "class Settings(AdapterSettings):\n"
            "    url: str = 'http://gz.invalid'\n"
            "def create(config, http):\n"
            "    return Guangzhou(config, http, config.settings_as(Settings))\n"
        ),
        distribution="tongban-guangzhou",
        version="1.2.0",
        entry_points={"guangzhou": "tongban_guangzhou:create"},
    )
    plugins = discover()
    assert plugins["guangzhou"].distribution == "tongban-guangzhou 1.2.0"
    settings = adapters_settings(regions=("shenzhen", "guangzhou"))
    registry = open_adapters(settings, http)
    assert set(registry) == {"shenzhen", "guangzhou"}
    assert type(registry["guangzhou"]).__name__ == "Guangzhou"


def test_unset_regions_open_every_installed_adapter(
    monkeypatch: pytest.MonkeyPatch, http: HttpClient
) -> None:
    fake_entry_points(
        monkeypatch, ("guangzhou", f"{__name__}:make_fake"), ("foshan", f"{__name__}:make_fake")
    )
    assert set(open_adapters(adapters_settings(), http)) == {"guangzhou", "foshan"}


def test_a_table_for_a_region_without_an_adapter_fails_start_up(
    monkeypatch: pytest.MonkeyPatch, http: HttpClient
) -> None:
    """A misspelt ``[adapters.guangzou]`` is refused, not silently ignored."""
    fake_entry_points(monkeypatch, ("guangzhou", f"{__name__}:make_fake"))
    settings = adapters_settings(guangzou={"url": "http://gz"})
    with pytest.raises(PluginError, match=r"settings for region\(s\) guangzou"):
        open_adapters(settings, http)


def test_a_bad_region_setting_fails_start_up_naming_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, http: HttpClient
) -> None:
    """The plugin's own model refuses the table; the error names the key and its line."""
    fake_entry_points(monkeypatch, ("guangzhou", f"{__name__}:make_fake"))
    path = tmp_path / "tongban.toml"
    path.write_text(
        '[adapters]\ntimeout = 5\n\n[adapters.guangzhou]\nurl = "ftp://gz"\nsecret = "x"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        open_adapters(load_settings(path, environ={}), http)
    problems = dict(caught.value.problems)
    assert "adapters.guangzhou.url" in problems
    assert f"in {path}, line 5" in problems["adapters.guangzhou.url"]
    assert "Extra inputs are not permitted" in problems["adapters.guangzhou.secret"]


def test_a_region_setting_from_the_environment_is_named_by_its_variable(
    monkeypatch: pytest.MonkeyPatch, http: HttpClient
) -> None:
    fake_entry_points(monkeypatch, ("guangzhou", f"{__name__}:make_fake"))
    environ = {"TONGBAN_ADAPTERS__GUANGZHOU__URL": "gz.example"}
    with pytest.raises(ConfigError, match="TONGBAN_ADAPTERS__GUANGZHOU__URL"):
        open_adapters(load_settings(environ=environ), http)


def test_an_adapters_key_that_is_no_table_fails_loading() -> None:
    """``adapters.timout = 5`` is neither a known setting nor a region's table."""
    with pytest.raises(ConfigError, match="unknown setting 'timout'"):
        adapters_settings(timout=5)


def test_a_table_for_an_installed_region_left_out_of_regions_is_kept(
    monkeypatch: pytest.MonkeyPatch, http: HttpClient
) -> None:
    """Narrowing ``adapters.regions`` does not force deleting the other regions' tables."""
    fake_entry_points(
        monkeypatch, ("guangzhou", f"{__name__}:make_fake"), ("foshan", f"{__name__}:make_fake")
    )
    settings = adapters_settings(regions=("guangzhou",), foshan={"url": "http://fs"})
    assert set(open_adapters(settings, http)) == {"guangzhou"}
