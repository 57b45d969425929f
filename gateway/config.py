"""The gateway's settings: one immutable object, read once at the edge.

Sources, highest priority first: command-line overrides, ``TONGBAN_*`` environment
variables (nested keys joined by ``__``, e.g. ``TONGBAN_SERVER__PORT=9000``), the TOML
file given with ``--config``, the defaults below. `load_settings` is the only reader of
the environment; everything else receives a `Settings`.

Parsed by hand rather than with pydantic-settings: that library reads ``os.environ``
itself, while we want the environment passed in (testable, read once at the edge).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gateway.errors import ConfigError

ENV_PREFIX = "TONGBAN_"
ENV_NESTED_DELIMITER = "__"


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ServerSettings(_Section):
    """The HTTP listener."""

    host: str = Field("127.0.0.1", description="Address to listen on.")
    port: int = Field(8080, ge=0, le=65535, description="TCP port; 0 picks a free one.")
    shutdown_timeout: float = Field(
        10.0,
        gt=0,
        le=120,
        description="Seconds to let in-flight requests finish after SIGTERM/SIGINT.",
    )
    max_body_bytes: int = Field(
        1_048_576, gt=0, description="Largest request body accepted, in bytes (JSON routes)."
    )


class StoreSettings(_Section):
    """Where the gateway keeps its state."""

    url: str | None = Field(
        None,
        description=(
            "sqlite:///PATH (embedded, the default: <data_dir>/tongban.db) or "
            "postgresql://USER@HOST:PORT/DB."
        ),
    )
    sqlite_synchronous: Literal["full", "normal"] = Field(
        "full",
        description=(
            "SQLite fsync policy. 'full' survives power loss; 'normal' survives a process "
            "crash only, and is faster."
        ),
    )
    busy_timeout_ms: int = Field(
        5000, ge=0, description="How long a write waits for a lock before failing, in ms."
    )

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return url


class LogSettings(_Section):
    """Structured logging."""

    format: Literal["json", "console"] = Field(
        "json", description="'json' lines for production, 'console' for people."
    )
    level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Lowest level written."
    )


class AuditSettings(_Section):
    """The audit log's signed checkpoints."""

    checkpoint_every_entries: int = Field(
        1000, ge=1, description="Sign a checkpoint once this many entries were appended..."
    )
    checkpoint_interval_seconds: float = Field(
        60.0, gt=0, description="...or this many seconds passed, whichever comes first."
    )
    signing_key_file: Path | None = Field(
        None,
        description=(
            "Ed25519 private key (PKCS#8 PEM) that signs checkpoints; created if missing. "
            "Unset means <data_dir>/keys/audit-checkpoint.pem."
        ),
    )


class Settings(_Section):
    """Every setting of the gateway. Immutable; build it with `load_settings`."""

    data_dir: Path = Field(
        Path("var"), description="Directory for the embedded database, keys and attachments."
    )
    server: ServerSettings = ServerSettings()
    store: StoreSettings = StoreSettings()
    log: LogSettings = LogSettings()
    audit: AuditSettings = AuditSettings()

    @property
    def store_url(self) -> str:
        """The store URL, defaulting to an SQLite file in the data directory."""
        return self.store.url or f"sqlite:///{self.data_dir / 'tongban.db'}"


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
    source = "defaults"
    if path is not None:
        source = str(path)
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(source, [("(file)", exc.strerror or str(exc))]) from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(source, [("(syntax)", str(exc))]) from exc
    env_values = environment_values(os.environ if environ is None else environ)
    if env_values:
        source += " + TONGBAN_* environment"
    values = _deep_merge(_deep_merge(values, env_values), overrides or {})
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(source, _describe(exc)) from exc


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


def _describe(error: ValidationError) -> list[tuple[str, str]]:
    problems = []
    for item in error.errors():
        loc = [str(part) for part in item["loc"]]
        key = ".".join(loc) or "(root)"
        env_name = ENV_PREFIX + ENV_NESTED_DELIMITER.join(loc).upper()
        problems.append((key, f"{item['msg']} (env: {env_name})"))
    return problems


def _deep_merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
