"""Every typed key of the application's state (`web.AppKey`), in one place.

They live apart from `gateway.app` and from the modules that fill them, so any
package can read app state without importing the factory, the routes or
another package's internals. The value types are imported for type checking
only: this module must stay importable from everywhere without import cycles.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from gateway.adapters_registry import AdapterRegistry
    from gateway.api.openapi import OpenApiDocument
    from gateway.applications.records import Deps
    from gateway.audit.service import AuditService
    from gateway.catalog.catalog import Catalog
    from gateway.config import Settings
    from gateway.federation.keys import PeerKeys
    from gateway.federation.witness import Witness
    from gateway.holidays.runtime import CalendarState
    from gateway.http.client import AiohttpClient
    from gateway.observability.metrics import GatewayMetrics
    from gateway.observability.store_metrics import ScrapeCache
    from gateway.relay.worker import RelayWorker
    from gateway.security.auth import PartnerAuthenticator
    from gateway.security.jwks import GatewayKeys
    from gateway.store import Store

ReadinessCheck = Callable[[], Awaitable[dict[str, Any]]]
"""Returns details to show in ``/readyz``; raises `TongbanError` (or times out) when not ready."""

ReadSettings = Callable[[], "Settings"]
"""Reads the settings afresh (the CLI's: the same file and environment)."""

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
STORE: web.AppKey[Store] = web.AppKey("store")
INSTALLATION_ID: web.AppKey[str] = web.AppKey("installation_id")
BODY_TIMEOUT: web.AppKey[float] = web.AppKey("body_timeout")
READINESS_CHECKS: web.AppKey[dict[str, ReadinessCheck]] = web.AppKey("readiness_checks")

CATALOG: web.AppKey[Catalog] = web.AppKey("catalog")
CALENDAR: web.AppKey[CalendarState] = web.AppKey("calendar")
APPLICATIONS: web.AppKey[Deps] = web.AppKey("applications")
AUDIT: web.AppKey[AuditService] = web.AppKey("audit")

ADAPTERS: web.AppKey[AdapterRegistry] = web.AppKey("adapters")
HTTP_CLIENT: web.AppKey[AiohttpClient] = web.AppKey("outbound_http")
RELAY: web.AppKey[RelayWorker] = web.AppKey("relay")

GATEWAY_KEYS: web.AppKey[GatewayKeys] = web.AppKey("gateway_keys")
AUTHENTICATOR: web.AppKey[PartnerAuthenticator] = web.AppKey("partner_authenticator")
RELOAD_SETTINGS: web.AppKey[ReadSettings] = web.AppKey("reload_settings")
"""How SIGHUP's key reload (`gateway.security.reload`) re-reads the settings."""

METRICS: web.AppKey[GatewayMetrics] = web.AppKey("metrics")
METRICS_CACHE: web.AppKey[ScrapeCache] = web.AppKey("metrics_cache")
OPENAPI: web.AppKey[OpenApiDocument] = web.AppKey("openapi")

PEER_KEYS: web.AppKey[PeerKeys] = web.AppKey("peer_keys")
WITNESS: web.AppKey[Witness] = web.AppKey("witness")

__all__ = [
    "ADAPTERS",
    "APPLICATIONS",
    "AUDIT",
    "AUTHENTICATOR",
    "BODY_TIMEOUT",
    "CALENDAR",
    "CATALOG",
    "GATEWAY_KEYS",
    "HTTP_CLIENT",
    "INSTALLATION_ID",
    "METRICS",
    "METRICS_CACHE",
    "OPENAPI",
    "PEER_KEYS",
    "READINESS_CHECKS",
    "RELAY",
    "RELOAD_SETTINGS",
    "SETTINGS",
    "STORE",
    "WITNESS",
    "ReadSettings",
    "ReadinessCheck",
]
