"""Settings: defaults, the TOML file, environment overrides and every kind of error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from adapters.base import AdapterSettings
from adapters.dongguan.settings import DongguanSettings
from adapters.peer.settings import PeerSettings
from adapters.shenzhen.settings import ShenzhenSettings
from adapters.zhangjiagang.settings import ZhangjiagangSettings
from gateway.config import Settings, load_settings
from gateway.errors import ConfigError
from gateway.resources import packaged_calendar_dir, packaged_catalog_dir

REGION_SETTINGS: dict[str, type[AdapterSettings]] = {
    "shenzhen": ShenzhenSettings,
    "dongguan": DongguanSettings,
    "zhangjiagang": ZhangjiagangSettings,
    "peer": PeerSettings,
}
REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tongban.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_file_or_environment() -> None:
    settings = load_settings(environ={})
    assert settings.server.port == 8080
    assert settings.log.format == "json"
    assert settings.store_url == "sqlite:///var/tongban.db"


def test_file_values_are_read(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nport = 9100\n[log]\nformat = "console"\n')
    settings = load_settings(path, environ={})
    assert settings.server.port == 9100
    assert settings.log.format == "console"


def test_environment_overrides_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nport = 9100\n")
    settings = load_settings(path, environ={"TONGBAN_SERVER__PORT": "9200", "HOME": "/x"})
    assert settings.server.port == 9200


def test_overrides_win_over_environment() -> None:
    settings = load_settings(
        environ={"TONGBAN_SERVER__PORT": "9200"}, overrides={"server": {"port": 9300}}
    )
    assert settings.server.port == 9300


def test_settings_are_immutable() -> None:
    settings = load_settings(environ={})
    with pytest.raises(ValueError, match="frozen"):
        settings.server.port = 1  # type: ignore[misc]


def test_unknown_key_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nprot = 9100\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    assert caught.value.problems[0][0] == "server.prot"
    assert "server.prot" in str(caught.value)
    assert str(path) in str(caught.value)


def test_bad_value_names_key_and_problem(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nport = 70000\n[log]\nlevel = "loud"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    keys = dict(caught.value.problems)
    assert set(keys) == {"server.port", "log.level"}
    assert "65535" in keys["server.port"]


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"TONGBAN_SERVER__PORT": "eighty"})
    assert "TONGBAN_SERVER__PORT" in str(caught.value)


def test_bad_file_value_names_the_file_and_line_not_a_variable(tmp_path: Path) -> None:
    path = write(tmp_path, '# ports\n\n[server]\nhost = "0.0.0.0"\nport = 70000\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={"TONGBAN_LOG__LEVEL": "info"})
    (problem,) = caught.value.problems
    assert problem[0] == "server.port"
    assert problem[1].endswith(f"(in {path}, line 5)")
    assert "TONGBAN_" not in problem[1]


def test_environment_value_over_a_file_value_names_the_variable(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nport = 9100\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={"TONGBAN_SERVER__PORT": "eighty"})
    (problem,) = caught.value.problems
    assert problem[1].endswith("(from the environment variable TONGBAN_SERVER__PORT)")
    assert str(path) not in problem[1]


def test_unknown_variable_is_named_as_written() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"Tongban_Server__Prot": "1"})
    assert caught.value.problems[0][1].endswith(
        "(from the environment variable Tongban_Server__Prot)"
    )


def test_lines_of_nested_tables_array_tables_and_dotted_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[relay.default]\n"
        "retry_base_seconds = 10\n"
        "[[relay.default.closed]]\n"
        'days = [1]\nstart = "01:00"\nend = "02:00"\n'
        "[[relay.default.closed]]\n"
        'days = [9]\nstart = "01:00"\nend = "02:00"\n'
        '[security.partners."p.1"]\n'
        'name = "x"\n'
        "keys = [{ public_key = 5 }]\n"
        "[store]\n"
        "pool_min_size = 20\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={"TONGBAN_STORE__POOL_MAX_SIZE": "5"})
    problems = dict(caught.value.problems)
    assert problems["relay.default.closed.1.days"].endswith(f"(in {path}, line 8)")
    assert problems["security.partners.p.1.keys.0.public_key"].endswith(f"(in {path}, line 13)")
    # A check over a whole section names every source that fed it.
    assert problems["store"].endswith(f"(set in {path}, line 14 and TONGBAN_STORE__POOL_MAX_SIZE)")


def test_bad_store_url_scheme(tmp_path: Path) -> None:
    path = write(tmp_path, '[store]\nurl = "mysql://x"\n')
    with pytest.raises(ConfigError, match=r"store\.url"):
        load_settings(path, environ={})


def test_toml_syntax_error(tmp_path: Path) -> None:
    path = write(tmp_path, "[server\nport = 1\n")
    with pytest.raises(ConfigError, match=r"\(syntax\)"):
        load_settings(path, environ={})


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No such file"):
        load_settings(tmp_path / "absent.toml", environ={})


def test_example_file_is_valid_and_holds_the_defaults() -> None:
    """The core's settings are the defaults; each region's table is its plugin's defaults."""
    example = load_settings(REPO / "deploy" / "tongban.example.toml", environ={})
    defaults = load_settings(environ={})
    tables = example.adapters.region_tables
    assert example.model_copy(update={"adapters": defaults.adapters}) == defaults
    assert example.adapters.model_dump(exclude=set(tables)) == defaults.adapters.model_dump()
    assert set(tables) == set(REGION_SETTINGS)
    for region, model in REGION_SETTINGS.items():
        assert model.model_validate(tables[region]) == model.model_validate({}), region


def test_example_file_lists_every_setting() -> None:
    text = (REPO / "deploy" / "tongban.example.toml").read_text(encoding="utf-8")
    listed = set(re.findall(r"^#? ?(\w+) = ", text, flags=re.MULTILINE))
    listed |= set(re.findall(r"^\[\w+\.(\w+)\]", text, flags=re.MULTILINE))  # sub-tables
    expected = set()
    for name, field in Settings.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
            expected |= set(annotation.model_fields)
        else:
            expected.add(name)
    for model in REGION_SETTINGS.values():  # each region's table, as its plugin defines it
        expected |= set(model.model_fields)
    assert expected <= listed, f"not in the example file: {expected - listed}"


def test_the_catalogue_defaults_to_the_packaged_sample() -> None:
    """Unset, catalog.directory is the catalogue shipped in the package, wherever the
    process runs; in a checkout's editable install that is the repository's catalogs/."""
    catalog = load_settings(environ={}).catalog
    assert catalog.directory is None
    assert catalog.location == packaged_catalog_dir() == REPO / "catalogs"
    assert (catalog.location / "regions.toml").is_file()


def test_an_operators_catalogue_directory_wins() -> None:
    catalog = load_settings(environ={"TONGBAN_CATALOG__DIRECTORY": "/srv/catalogs"}).catalog
    assert catalog.location == Path("/srv/catalogs")


def test_the_calendar_defaults_to_the_packaged_one() -> None:
    calendar = load_settings(environ={}).calendar
    assert calendar.directory is None
    assert calendar.location == packaged_calendar_dir() == REPO / "catalogs" / "calendar"
    assert sorted(calendar.location.glob("CN-*.toml"))


def test_a_regions_settings_come_from_its_table_or_its_variables(tmp_path: Path) -> None:
    """``[adapters.shenzhen]`` and ``TONGBAN_ADAPTERS__SHENZHEN__*`` fill one table."""
    path = tmp_path / "tongban.toml"
    path.write_text('[adapters.shenzhen]\napp_id = "ours"\n', encoding="utf-8")
    environ = {"TONGBAN_ADAPTERS__SHENZHEN__URL": "https://sz.example"}
    adapters = load_settings(path, environ=environ).adapters
    assert adapters.region_table("shenzhen") == {"app_id": "ours", "url": "https://sz.example"}
    assert adapters.region_table("dongguan") == {}
