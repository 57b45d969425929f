"""Finding, validating and opening the region adapters (plugins, after pluggy).

Adapters are entry points of group ``tongban.adapters``: the entry point's name is
the region, its object a factory ``(AdapterConfig, HttpClient) -> Adapter``. At
start-up `discover` loads every one and refuses a broken one, a non-callable one,
or two for one region; `open_adapters` builds one adapter per region that
`AdaptersSettings.regions` requires, fails boot if any has none, and logs how many
loaded. Sandboxes are found the same way, in group ``tongban.sandboxes``.

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
from adapters.http import AiohttpClient
from gateway.api import health
from gateway.app_keys import STORE
from gateway.config import AdaptersSettings, Settings
from gateway.errors import PluginError, RegionUnavailable
from gateway.federation.wiring import PEER_PLUGIN, peer_adapters
from gateway.security.jwks import GATEWAY_KEYS
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
    settings: AdaptersSettings, region: str, *, sm2_key: SM2PrivateKey | None = None
) -> AdapterConfig:
    """The `AdapterConfig` of `region`: its URL, credentials, timeouts and callback URL."""
    values = settings.for_region(region)
    base_url = values.pop("base_url", "")
    if not base_url:
        raise PluginError(f"region {region!r} has no base_url (adapters.plugins.{region})")
    return AdapterConfig(
        region=region,
        base_url=base_url,
        timeout=settings.timeout,
        health_timeout=settings.health_timeout,
        callback_url=f"{settings.callback_base_url.rstrip('/')}/v1/regions/{region}/callbacks",
        credentials=values,
        sm2_key=sm2_key,
    )


def open_adapters(
    settings: AdaptersSettings,
    http: HttpClient,
    plugins: Mapping[str, Plugin] | None = None,
    *,
    sm2_key: SM2PrivateKey | None = None,
) -> AdapterRegistry:
    """One adapter per required region; `PluginError` if a region has none or a factory fails."""
    plugins = discover() if plugins is None else plugins
    missing = [region for region in settings.regions if region not in plugins]
    if missing:
        installed = ", ".join(sorted(plugins)) or "none"
        raise PluginError(
            f"no adapter installed for region(s) {', '.join(missing)} "
            f"(installed: {installed}); install one or remove it from adapters.regions"
        )
    adapters: dict[str, Adapter] = {}
    for region in settings.regions:
        plugin = plugins[region]
        try:
            adapter = plugin.factory(adapter_config(settings, region, sm2_key=sm2_key), http)
        except PluginError:
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


ADAPTERS = web.AppKey("adapters", AdapterRegistry)
HTTP_CLIENT = web.AppKey("outbound_http", AiohttpClient)


def readiness_check(adapter: Adapter) -> health.ReadinessCheck:
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
            registry = open_adapters(settings.adapters, http, sm2_key=sm2_key)
            if settings.federation.peers:
                registry = _with_peers(app, settings, registry, http)
        except BaseException:
            await http.aclose()
            raise
        app[HTTP_CLIENT] = http
        app[ADAPTERS] = registry
        for region, adapter in registry.items():
            app[health.READINESS_CHECKS][f"adapter:{region}"] = readiness_check(adapter)
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
    "ADAPTERS",
    "HTTP_CLIENT",
    "SANDBOX_GROUP",
    "AdapterRegistry",
    "Plugin",
    "adapter_config",
    "adapters_context",
    "discover",
    "open_adapters",
    "readiness_check",
]
