"""Finding, validating and opening the region adapters (plugins, after pluggy).

Adapters are entry points of group ``tongban.adapters``: the entry point's name is
the region, its object a factory ``(AdapterConfig, HttpClient) -> Adapter``. At
start-up `discover` loads every one and refuses a broken one, a non-callable one,
or two for one region; `open_adapters` builds one adapter per region that
`AdaptersSettings.regions` requires (unset: every installed one), hands each its
``[adapters.REGION]`` table to validate with its own model, fails boot if any has no
adapter or a bad setting, and logs how many loaded. Sandboxes are found the same
way, in group ``tongban.sandboxes``.

The core never imports a region's module by name: only this module and entry points.
"""

from __future__ import annotations

import importlib.metadata as importlib_metadata
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import web

from adapters.base import ENTRY_POINT_GROUP, Adapter, AdapterConfig, HttpClient
from gateway.app_keys import (
    ADAPTERS,
    GATEWAY_KEYS,
    HTTP_CLIENT,
    READINESS_CHECKS,
    STORE,
    ReadinessCheck,
)
from gateway.config import AdaptersSettings, Settings
from gateway.errors import ConfigError, PluginError, RegionUnavailable
from gateway.federation.wiring import PEER_PLUGIN, peer_adapters
from gateway.http.client import AiohttpClient
from gateway.security.sm2 import SM2PrivateKey

SANDBOX_GROUP = "tongban.sandboxes"

log = structlog.get_logger("gateway.adapters")


@dataclass(frozen=True)
class Plugin:
    """One loaded entry point: its name (the region), where it points, who installed it."""

    name: str
    value: str
    distribution: str
    factory: Callable[..., Any]


def discover(group: str = ENTRY_POINT_GROUP) -> dict[str, Plugin]:
    """Load and validate every entry point of `group`, keyed by name (region).

    Raises `PluginError` naming the entry point and its distribution when one cannot
    be imported, is not callable, or claims a name another distribution already has.
    """
    found: dict[str, Plugin] = {}
    for entry_point in importlib_metadata.entry_points(group=group):
        dist = entry_point.dist
        origin = f"{dist.name} {dist.version}" if dist is not None else "(unknown distribution)"
        if entry_point.name in found:
            other = found[entry_point.name]
            raise PluginError(
                f"two {group} plugins claim {entry_point.name!r}: {other.value} from "
                f"{other.distribution} and {entry_point.value} from {origin}; uninstall one"
            )
        try:
            factory = entry_point.load()
        except Exception as exc:  # any import failure in third-party code
            raise PluginError(
                f"{group} plugin {entry_point.name!r} ({entry_point.value} from {origin}) "
                f"cannot be loaded: {type(exc).__name__}: {exc}"
            ) from exc
        if not callable(factory):
            raise PluginError(
                f"{group} plugin {entry_point.name!r} ({entry_point.value} from {origin}) "
                "is not callable"
            )
        found[entry_point.name] = Plugin(entry_point.name, entry_point.value, origin, factory)
    return found


class NoAdapterOpen(PluginError, KeyError):
    """No adapter is open for that region; a `KeyError` too, as the `Mapping` protocol
    needs (``get`` and ``in`` rely on it), so a lookup by an outsider's name is a miss."""

    def __str__(self) -> str:
        return str(self.args[0])  # not KeyError's quoted repr


class AdapterRegistry(Mapping[str, Adapter]):
    """The open adapters, by region; `aclose` closes each of them."""

    def __init__(self, adapters: Mapping[str, Adapter], plugins: Mapping[str, Plugin]) -> None:
        self._adapters = dict(adapters)
        self.plugins = dict(plugins)

    def __getitem__(self, region: str) -> Adapter:
        try:
            return self._adapters[region]
        except KeyError:
            raise NoAdapterOpen(f"no adapter is open for region {region!r}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._adapters)

    def __len__(self) -> int:
        return len(self._adapters)

    async def aclose(self) -> None:
        for adapter in self._adapters.values():
            await adapter.aclose()


def adapter_config(
    settings: Settings, region: str, *, sm2_key: SM2PrivateKey | None = None
) -> AdapterConfig:
    """The `AdapterConfig` of `region`: its ``[adapters.REGION]`` table, timeouts and
    callback URL, and where each of its settings was written (for the plugin's errors)."""
    adapters = settings.adapters
    return AdapterConfig(
        region=region,
        settings=adapters.region_table(region),
        timeout=adapters.timeout,
        health_timeout=adapters.health_timeout,
        callback_url=f"{adapters.callback_base_url.rstrip('/')}/v1/regions/{region}/callbacks",
        sm2_key=sm2_key,
        origin_of=settings.origin_of,
    )


def required_regions(settings: AdaptersSettings, plugins: Mapping[str, Plugin]) -> list[str]:
    """The regions to open: ``adapters.regions`` if set, else every installed adapter.

    Raises `PluginError` when a required region has no adapter, or when a region's
    settings table names no installed adapter (a misspelt table would be ignored).
    """
    regions = list(settings.regions) if settings.regions is not None else sorted(plugins)
    missing = [region for region in regions if region not in plugins]
    if missing:
        installed = ", ".join(sorted(plugins)) or "none"
        raise PluginError(
            f"no adapter installed for region(s) {', '.join(missing)} "
            f"(installed: {installed}); install one or remove it from adapters.regions"
        )
    orphans = sorted(set(settings.region_tables) - set(plugins))
    if orphans:
        installed = ", ".join(sorted(plugins)) or "none"
        raise PluginError(
            f"settings for region(s) {', '.join(orphans)} ([adapters.REGION]) but no adapter "
            f"is installed for it (installed: {installed})"
        )
    return regions


def open_adapters(
    settings: Settings,
    http: HttpClient,
    plugins: Mapping[str, Plugin] | None = None,
    *,
    sm2_key: SM2PrivateKey | None = None,
) -> AdapterRegistry:
    """One adapter per required region, each validating its own settings.

    Raises `PluginError` if a region has none or a factory fails, and `ConfigError`
    (naming ``adapters.REGION.KEY`` and where it was set) for a bad setting.
    """
    plugins = discover() if plugins is None else plugins
    adapters: dict[str, Adapter] = {}
    for region in required_regions(settings.adapters, plugins):
        plugin = plugins[region]
        try:
            adapter = plugin.factory(adapter_config(settings, region, sm2_key=sm2_key), http)
        except (PluginError, ConfigError):
            raise
        except Exception as exc:  # third-party factories may fail in any way
            raise PluginError(
                f"adapter {region!r} from {plugin.distribution} failed to start: {exc}"
            ) from exc
        if not isinstance(adapter, Adapter) or adapter.region != region:
            raise PluginError(
                f"adapter factory {plugin.value} for {region!r} returned "
                f"{type(adapter).__name__} (region {getattr(adapter, 'region', None)!r}), "
                "not an Adapter for that region"
            )
        adapters[region] = adapter
    unused = sorted(set(plugins) - set(adapters))
    log.info("adapters.loaded", count=len(adapters), regions=sorted(adapters), unused=unused)
    return AdapterRegistry(adapters, plugins)


def readiness_check(adapter: Adapter) -> ReadinessCheck:
    """A /readyz check for `adapter`: shows whether its region answers.

    An unreachable region does not make the gateway unready: deliveries wait in the
    outbox until it is back, so the load balancer should keep sending us traffic.
    """

    async def check() -> dict[str, Any]:
        try:
            details = await adapter.health()
        except RegionUnavailable as exc:
            return {"region_reachable": False, "error": str(exc)}
        return {"region_reachable": True, **details}

    return check


def adapters_context(
    settings: Settings,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A `cleanup_ctx` that opens the shared client and the adapters, and closes both."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        http = AiohttpClient(
            timeout=settings.adapters.timeout,
            connect_timeout=settings.adapters.connect_timeout,
            pool_size=settings.adapters.pool_size,
        )
        try:
            keys = app.get(GATEWAY_KEYS)  # loaded first (gateway.security.wiring)
            sm2_key = keys.sm2_private_key if keys is not None else None
            registry = open_adapters(settings, http, sm2_key=sm2_key)
            if settings.federation.peers:
                registry = _with_peers(app, settings, registry, http)
        except BaseException:
            await http.aclose()
            raise
        app[HTTP_CLIENT] = http
        app[ADAPTERS] = registry
        for region, adapter in registry.items():
            app[READINESS_CHECKS][f"adapter:{region}"] = readiness_check(adapter)
        try:
            yield
        finally:
            await registry.aclose()
            await http.aclose()

    return context


def _with_peers(
    app: web.Application, settings: Settings, registry: AdapterRegistry, http: HttpClient
) -> AdapterRegistry:
    """`registry` plus a `peer` adapter for each region routed to a peer gateway."""
    plugins = registry.plugins or discover()
    if PEER_PLUGIN not in plugins:
        raise PluginError("federation.peers is set but no 'peer' adapter is installed")
    peers = peer_adapters(app, settings, app[STORE], http, plugins[PEER_PLUGIN].factory)
    return AdapterRegistry({**registry, **peers}, plugins)


__all__ = [
    "SANDBOX_GROUP",
    "AdapterRegistry",
    "Plugin",
    "adapter_config",
    "adapters_context",
    "discover",
    "open_adapters",
    "readiness_check",
    "required_regions",
]
