"""The aiohttp application factory.

`create_app(settings)` wires everything from one `Settings`: typed app state
(`web.AppKey`), resources opened and closed by `cleanup_ctx`, middleware, routes.
Nothing here reads the environment or a global.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import structlog
from aiohttp import web

from gateway import __version__
from gateway.adapters_registry import adapters_context
from gateway.api import applications as applications_api
from gateway.api import audit as audit_api
from gateway.api import callbacks as callbacks_api
from gateway.api import catalog as catalog_api
from gateway.api import health
from gateway.api import openapi as openapi_api
from gateway.api import ops as ops_api
from gateway.api import trace as trace_api
from gateway.api.metrics import setup_metrics
from gateway.app_keys import (
    APPLICATIONS,
    AUDIT,
    BODY_TIMEOUT,
    CATALOG,
    GATEWAY_KEYS,
    INSTALLATION_ID,
    READINESS_CHECKS,
    SETTINGS,
    STORE,
)
from gateway.applications.attachments import AttachmentStore
from gateway.applications.journal import Journal
from gateway.applications.notices import PartnerNotices
from gateway.applications.records import Deps
from gateway.applications.region_events import RegionResults
from gateway.applications.relay_outcomes import ApplicationOutcomes
from gateway.audit import running_audit
from gateway.catalog.loader import load_catalog
from gateway.config import Settings
from gateway.console import setup_console
from gateway.envelope import Envelope
from gateway.federation.service import setup_federation
from gateway.holidays.runtime import calendar_context, recompute_context
from gateway.observability import body_in_time, problem_errors, request_context
from gateway.observability.metrics import GatewayMetrics, http_metrics
from gateway.outbox import open_envelope
from gateway.relay.service import RelayWiring, relay_context
from gateway.retention.job import retention_context
from gateway.security.wiring import pii_cipher, setup_security
from gateway.store import Row, Store, open_store

__all__ = ["CATALOG", "INSTALLATION_ID", "SETTINGS", "STORE", "create_app"]

log = structlog.get_logger(__name__)


def create_app(settings: Settings) -> web.Application:
    """Build the gateway application for `settings`; resources open on start-up."""
    app = web.Application(
        middlewares=[request_context, http_metrics, problem_errors, body_in_time],
        client_max_size=settings.server.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[BODY_TIMEOUT] = settings.server.body_timeout
    app[READINESS_CHECKS] = {}
    if settings.metrics.enabled:
        setup_metrics(app, GatewayMetrics())  # before the relay, which reports to it
    app.cleanup_ctx.append(_catalog_context)
    app.cleanup_ctx.append(calendar_context)
    app.cleanup_ctx.append(_store_context)
    app.cleanup_ctx.append(_audit_context)
    app.cleanup_ctx.append(_applications_context)
    app.cleanup_ctx.append(recompute_context)
    app.cleanup_ctx.append(adapters_context(settings))
    app.cleanup_ctx.append(relay_context(settings, _relay_wiring))
    app.cleanup_ctx.append(retention_context)  # personal data past retention (issue 18)
    app.router.add_routes(health.routes)
    setup_security(app, settings, STORE)
    setup_federation(app)  # after the partner authenticator
    app.router.add_routes(catalog_api.routes)
    app.router.add_routes(applications_api.routes)
    app.router.add_routes(audit_api.routes)
    app.router.add_routes(callbacks_api.routes)
    app.router.add_routes(ops_api.routes)
    app.router.add_routes(trace_api.routes)
    app.cleanup_ctx.append(openapi_api.openapi_context)
    app.router.add_routes(openapi_api.routes)
    setup_console(app)
    return app


async def _catalog_context(app: web.Application) -> AsyncIterator[None]:
    # Loaded before anything else opens: a broken catalogue fails boot, not a request.
    settings = app[SETTINGS].catalog
    directory = settings.location
    catalog = await asyncio.to_thread(load_catalog, directory)
    app[CATALOG] = catalog
    log.info(
        "catalog.loaded",
        directory=str(directory),
        source="packaged" if settings.directory is None else "catalog.directory",
        items=len(catalog.items),
        per_region={key: len(catalog.in_region(key)) for key in catalog.regions},
    )
    yield


async def _store_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    store = await open_store(settings)
    try:
        app[STORE] = store
        app[INSTALLATION_ID] = await _installation_id(store)

        async def store_ready() -> dict[str, Any]:
            await store.ping()
            return {"backend": store.backend}

        app[READINESS_CHECKS]["store"] = store_ready
        log.info(
            "gateway.started",
            version=__version__,
            store=store.backend,
            installation_id=app[INSTALLATION_ID],
        )
        yield
    finally:
        await store.aclose()
        log.info("gateway.stopped")


async def _applications_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    cipher = await asyncio.to_thread(pii_cipher, settings)
    keys = app[GATEWAY_KEYS]
    # Receipts and attestations are signed when the gateway key is unlocked.
    can_sign = keys.ring is not None and keys.private_key is not None
    app[APPLICATIONS] = Deps(
        store=app[STORE],
        catalog=app[CATALOG],
        cipher=cipher,
        attachments=AttachmentStore(
            settings.data_dir / "attachments",
            max_bytes=settings.attachments.max_bytes,
            media_types=settings.attachments.media_types,
        ),
        settings=settings.applications,
        journal=Journal(
            app[AUDIT].log, cipher, PartnerNotices.from_settings(settings.security, cipher)
        ),
        signer=keys.sign_receipt if can_sign else None,
    )
    log.info(
        "applications.ready",
        pii_key_id=cipher.active_key_id,
        configured_keys=bool(settings.pii.keys),
        signs_receipts=can_sign,
    )
    yield


def _relay_wiring(app: web.Application) -> RelayWiring:
    """The relay's seam to the applications: its listener, result sink and envelope opener."""
    deps = app[APPLICATIONS]

    def opener(row: Row) -> Envelope:
        return open_envelope(row, deps.cipher)

    return RelayWiring(
        listener=ApplicationOutcomes(deps.journal),
        results=RegionResults(deps.store, deps.journal),
        opener=opener,
    )


async def _audit_context(app: web.Application) -> AsyncIterator[None]:
    """The audit log and its checkpoint sealer (after the store, closed before it)."""
    async with running_audit(app[STORE], app[SETTINGS], app[INSTALLATION_ID]) as service:
        app[AUDIT] = service
        yield


async def _installation_id(store: Store) -> str:
    """This installation's id, made on first start and kept in the store."""
    async with store.transaction() as conn:
        await conn.execute(
            "INSERT INTO meta (key, value) VALUES ('installation_id', :id), "
            "('created_at', :now) ON CONFLICT (key) DO NOTHING",
            {"id": uuid.uuid4().hex, "now": datetime.now(UTC).isoformat()},
        )
        row = await conn.fetch_one("SELECT value FROM meta WHERE key = 'installation_id'")
    assert row is not None  # noqa: S101 - inserted just above in the same transaction
    return str(row["value"])
