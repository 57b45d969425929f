"""Reading the settings, once, at the edge.

Sources, highest priority first: command-line overrides, ``TONGBAN_*`` environment
variables (nested keys joined by ``__``, e.g. ``TONGBAN_SERVER__PORT=9000`` or
``TONGBAN_ADAPTERS__REGION__URL``), the TOML file given with ``--config``, the
defaults. `load_settings` is the only reader of the environment; everything else
receives a `Settings`.

Parsed by hand rather than with pydantic-settings: that library reads ``os.environ``
itself, while we want the environment passed in (testable, read once at the edge).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gateway.config.origins import Origins
from gateway.config.settings import Settings
from gateway.errors import ConfigError

ENV_PREFIX = "TONGBAN_"
ENV_NESTED_DELIMITER = "__"


def load_settings(
    path: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Read the TOML file at `path` (optional), then apply the environment and `overrides`.

    Priority, highest first: `overrides` (nested dicts from the command line),
    ``TONGBAN_*`` variables in `environ` (default: the process environment), the
    file, the defaults. Raises `ConfigError` naming every invalid key.
    """
    values: dict[str, Any] = {}
    text = ""
    source = "defaults"
    if path is not None:
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
            values = tomllib.loads(text)
        except OSError as exc:
            raise ConfigError(source, [("(file)", exc.strerror or str(exc))]) from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(source, [("(syntax)", str(exc))]) from exc
    environ = os.environ if environ is None else environ
    env_values = environment_values(environ)
    if env_values:
        source += " + TONGBAN_* environment"
    origins = Origins(
        file=path,
        file_text=text,
        file_values=values,
        variables=_variable_names(environ),
        overrides=overrides,
    )
    values = _deep_merge(_deep_merge(values, env_values), overrides or {})
    try:
        settings = Settings.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(source, _describe(exc, origins)) from exc
    # Kept so a plugin validating its own table at start-up can name file and line.
    settings._origins = origins
    return settings


def environment_values(environ: Mapping[str, str]) -> dict[str, Any]:
    """Nest ``TONGBAN_SERVER__PORT=9000`` into ``{"server": {"port": "9000"}}``.

    Values stay strings; validation converts them ("9000" to 9000) and refuses junk.
    """
    nested: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.upper().startswith(ENV_PREFIX):
            continue
        path = name[len(ENV_PREFIX) :].lower().split(ENV_NESTED_DELIMITER)
        node = nested
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError("environment", [(name, "conflicts with a shorter variable")])
            node = child
        node[path[-1]] = value
    return nested


def _variable_names(environ: Mapping[str, str]) -> dict[tuple[str, ...], str]:
    """Each ``TONGBAN_*`` variable by the setting path it sets, as `environment_values` nests it."""
    return {
        tuple(name[len(ENV_PREFIX) :].lower().split(ENV_NESTED_DELIMITER)): name
        for name in environ
        if name.upper().startswith(ENV_PREFIX)
    }


def _describe(error: ValidationError, origins: Origins) -> list[tuple[str, str]]:
    """One ``(dotted key, message)`` per error, the message saying where the value was set."""
    problems = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(root)"
        where = origins.of(item["loc"])
        problems.append((key, f"{item['msg']} ({where})" if where else item["msg"]))
    return problems


def _deep_merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
