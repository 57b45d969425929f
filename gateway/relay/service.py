"""The relay inside the gateway process: worker, region lanes, polling, readiness.

`relay_context` is a `cleanup_ctx`: it builds one lane per adapter's region, and
one per partner with a webhook ``callback_url`` (``partner:<id>``), from
`Settings.relay`, starts the worker and the pollers as tasks, reports each
region's breaker in ``/readyz``, and on shutdown lets in-flight calls finish for
the grace period before releasing what is left (nothing is lost: released
claims are due again at once, for this or another gateway process).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from aiohttp import web

from adapters.base import PollAdapter
from gateway.app_keys import (
    ADAPTERS,
    CATALOG,
    GATEWAY_KEYS,
    HTTP_CLIENT,
    METRICS,
    READINESS_CHECKS,
    RELAY,
    STORE,
    ReadinessCheck,
)
from gateway.catalog.catalog import Catalog
from gateway.config import RegionRelaySettings, Settings
from gateway.errors import KeyStoreError
from gateway.relay.breaker import CircuitBreaker
from gateway.relay.calendar import BusinessCalendar, WeeklyWindow
from gateway.relay.deliveries import EnvelopeOpener
from gateway.relay.policy import RetryPolicy
from gateway.relay.polling import poll_forever
from gateway.relay.seam import DeliveryListener, ResultSink
from gateway.relay.webhooks import PartnerWebhookClient, webhook_clients
from gateway.relay.worker import Destination, DestinationLane, RelayWorker

log = structlog.get_logger(__name__)

DEFAULT_TIMEZONE = ZoneInfo("Asia/Shanghai")


def instance_name() -> str:
    """This process's name in leases and attempt records: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def build_lane(settings: RegionRelaySettings, timezone: ZoneInfo) -> DestinationLane:
    """A region's lane from its settings."""
    windows = tuple(
        WeeklyWindow(frozenset(window.days), window.start, window.end) for window in settings.closed
    )
    return DestinationLane(
        policy=RetryPolicy(
            base_delay=timedelta(seconds=settings.retry_base_seconds),
            max_delay=timedelta(seconds=settings.retry_max_seconds),
            max_attempts=settings.retry_max_attempts,
            max_age=timedelta(hours=settings.retry_max_age_hours),
        ),
        calendar=BusinessCalendar(timezone, windows),
        concurrency=settings.concurrency,
        breaker=CircuitBreaker(
            failure_threshold=settings.breaker_failures,
            reset_after=settings.breaker_reset_seconds,
        ),
    )


def build_lanes(
    settings: Settings, regions: list[str], catalog: Catalog
) -> dict[str, DestinationLane]:
    lanes = {}
    for region in regions:
        known = catalog.region(region)
        timezone = ZoneInfo(known.timezone) if known else DEFAULT_TIMEZONE
        lanes[region] = build_lane(settings.relay.for_region(region), timezone)
    return lanes


@dataclass(frozen=True)
class RelayWiring:
    """What the rest of the gateway hands the relay (`gateway.app` builds it at start-up).

    `listener` is told of outcomes and replays, `results` takes polled regions'
    status events, `opener` reads a claimed delivery's sealed envelope.
    """

    listener: DeliveryListener
    results: ResultSink
    opener: EnvelopeOpener


def relay_context(
    settings: Settings, wiring: Callable[[web.Application], RelayWiring]
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A `cleanup_ctx` running the relay worker and pollers for this app.

    `wiring` is called once the app's earlier contexts (store, applications) are open.
    """

    async def context(app: web.Application) -> AsyncIterator[None]:
        store, adapters, seam = app[STORE], app[ADAPTERS], wiring(app)

        clients: dict[str, Destination] = {region: adapters[region] for region in adapters}
        lanes = build_lanes(settings, list(clients), app[CATALOG])
        webhooks = _webhook_clients(app, settings)
        clients.update(webhooks)
        lanes.update(
            {key: build_lane(settings.relay.for_region(key), DEFAULT_TIMEZONE) for key in webhooks}
        )
        worker = RelayWorker(
            store,
            clients,
            lanes,
            seam.listener,
            opener=seam.opener,
            instance=instance_name(),
            lease=timedelta(seconds=settings.relay.lease_seconds),
            poll_interval=settings.relay.poll_interval,
            in_call_attempts=settings.relay.in_call_attempts,
            on_attempt=app[METRICS].attempt if METRICS in app else None,
        )
        app[RELAY] = worker
        app[READINESS_CHECKS]["relay"] = _readiness(worker)
        pollers = {r: a for r, a in adapters.items() if isinstance(a, PollAdapter)}
        intervals = {r: settings.relay.for_region(r).poll_seconds for r in pollers}
        tasks = []
        if settings.relay.enabled:
            tasks.append(asyncio.create_task(worker.run(), name="relay-worker"))
            tasks.append(asyncio.create_task(poll_forever(pollers, intervals, seam.results)))
        try:
            yield
        finally:
            if settings.relay.enabled:
                await worker.stop(settings.relay.shutdown_grace_seconds)
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    return context


def _webhook_clients(app: web.Application, settings: Settings) -> dict[str, PartnerWebhookClient]:
    """A webhook client per partner with a callback URL, if the gateway can sign.

    A gateway that cannot sign (no key ring or no passphrase) sends no webhooks:
    the notices wait in the outbox (no lane claims them) until it can.
    """
    partners = settings.security.partners
    if not any(partner.callback_url for partner in partners.values()):
        return {}
    keys = app[GATEWAY_KEYS]
    try:
        keys.request_signer()
    except KeyStoreError as exc:
        log.warning("relay.webhooks_unsigned", error=str(exc), hint="notices wait in the outbox")
        return {}

    def signer(method: str, url: str, headers: Mapping[str, str], body: bytes) -> dict[str, str]:
        # The active key at each call: a key rotated in by SIGHUP signs the next webhook.
        return keys.request_signer()(method, url, headers, body)

    return webhook_clients(partners, app[HTTP_CLIENT], signer)


def _readiness(worker: RelayWorker) -> ReadinessCheck:
    async def check() -> dict[str, Any]:
        # An open breaker does not make the gateway unready: deliveries wait in the
        # outbox. It is shown so ops see which region is down.
        return {
            "breakers": {
                region: {
                    "state": lane.breaker.state.value,
                    "consecutive_failures": lane.breaker.consecutive_failures,
                    "in_flight": lane.in_flight,
                }
                for region, lane in worker.lanes.items()
            }
        }

    return check
