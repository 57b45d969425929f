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

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

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


_DEMO = "demo value: works with `tongban sandbox`; change it in production"


class AdaptersSettings(_Section):
    """Region adapters: where each region is, its credentials, and outbound HTTP limits.

    The defaults match the sandboxes' defaults (`tongban sandbox REGION`), so the demo
    works without a file. Third-party adapters take theirs from ``plugins``.
    """

    regions: tuple[str, ...] = Field(
        ("shenzhen", "dongguan", "zhangjiagang", "peer"),
        description="Regions that must have exactly one adapter; start-up fails otherwise.",
    )
    callback_base_url: str = Field(
        "http://127.0.0.1:8080",
        description="Our public base URL; push regions call BASE/v1/regions/REGION/callbacks.",
    )
    timeout: float = Field(10.0, gt=0, le=300, description="Seconds for one outbound request.")
    connect_timeout: float = Field(3.0, gt=0, le=60, description="Seconds to open a connection.")
    health_timeout: float = Field(
        1.5, gt=0, le=10, description="Seconds a region's health probe may take (/readyz)."
    )
    pool_size: int = Field(100, ge=1, description="Most open connections, over all regions.")
    shenzhen_url: str = Field("http://127.0.0.1:8101", description="Shenzhen open platform.")
    shenzhen_app_id: str = Field("tongban-demo", description="Our appId at the Shenzhen platform.")
    shenzhen_app_secret: SecretStr = Field(
        SecretStr("demo-shenzhen-secret"), description=f"HMAC-SHA256 key; {_DEMO}."
    )
    dongguan_url: str = Field("http://127.0.0.1:8102", description="Dongguan SOAP service.")
    dongguan_username: str = Field("tongban", description="WS-Security UsernameToken user.")
    dongguan_password: SecretStr = Field(
        SecretStr("demo-dongguan-password"), description=f"UsernameToken password; {_DEMO}."
    )
    zhangjiagang_url: str = Field("http://127.0.0.1:8103", description="Zhangjiagang 国密 API.")
    zhangjiagang_app_id: str = Field("tongban-demo", description="Our appId at Zhangjiagang.")
    zhangjiagang_sm4_key: SecretStr = Field(
        SecretStr("0123456789abcdeffedcba9876543210"),
        description=f"SM4 key, 32 hex digits; {_DEMO}.",
    )
    zhangjiagang_mac_key: SecretStr = Field(
        SecretStr("00112233445566778899aabbccddeeff"),
        description=f"HMAC-SM3 key, hex; {_DEMO}.",
    )
    peer_url: str = Field("http://127.0.0.1:8104", description="The peer Tongban gateway.")
    plugins: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Third-party adapters' settings by region: base_url plus their own keys.",
    )

    def for_region(self, region: str) -> dict[str, str]:
        """The settings of `region` as flat strings: ``base_url`` plus its credentials."""
        secrets = {
            "shenzhen": {
                "base_url": self.shenzhen_url,
                "app_id": self.shenzhen_app_id,
                "app_secret": self.shenzhen_app_secret.get_secret_value(),
            },
            "dongguan": {
                "base_url": self.dongguan_url,
                "username": self.dongguan_username,
                "password": self.dongguan_password.get_secret_value(),
            },
            "zhangjiagang": {
                "base_url": self.zhangjiagang_url,
                "app_id": self.zhangjiagang_app_id,
                "sm4_key": self.zhangjiagang_sm4_key.get_secret_value(),
                "mac_key": self.zhangjiagang_mac_key.get_secret_value(),
            },
            "peer": {"base_url": self.peer_url},
        }
        return dict(self.plugins.get(region) or secrets.get(region) or {})


class Settings(_Section):
    """Every setting of the gateway. Immutable; build it with `load_settings`."""

    data_dir: Path = Field(
        Path("var"), description="Directory for the embedded database, keys and attachments."
    )
    server: ServerSettings = ServerSettings()
    store: StoreSettings = StoreSettings()
    log: LogSettings = LogSettings()
    adapters: AdaptersSettings = AdaptersSettings()

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
