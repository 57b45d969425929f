"""Prometheus metrics: the instruments, one registry per app, and the HTTP middleware.

Each app owns a `GatewayMetrics` with its own `CollectorRegistry` (never the
process-global one), so tests and several apps in one process never collide.
Counters and histograms move as things happen (requests, intake, delivery
attempts); gauges about the store (queue depth, oldest due delivery, dead
letters, audit size and checkpoint lag, overdue cases) are set from a
`StoreSnapshot` taken when Prometheus scrapes (`gateway.observability.store_metrics`), and the
breaker gauges from the relay's lanes at the same moment.

Metric names are stable: ``deploy/grafana/tongban.json`` reads them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from gateway.app_keys import METRICS
from gateway.observability.middleware import client_went_away

__all__ = [
    "CONTENT_TYPE_LATEST",
    "GatewayMetrics",
    "StoreSnapshot",
    "http_metrics",
    "route_of",
]

BREAKER_STATES = ("closed", "half_open", "open")
QUEUE_STATES = ("pending", "in_flight", "failed")
CALENDAR_STATUSES = ("exact", "provisional", "missing")
UNMATCHED_ROUTE = "unmatched"

# Region calls take milliseconds to tens of seconds (a SOAP region under load).
_ATTEMPT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class StoreSnapshot:
    """What the store says at one moment, for the scrape-time gauges."""

    queued: Mapping[tuple[str, str], int] = field(default_factory=dict)
    """Deliveries per (region, state) for the states in `QUEUE_STATES`."""
    oldest_due_age: Mapping[str, float] = field(default_factory=dict)
    """Seconds since the oldest due, still pending delivery became due, per region."""
    audit_entries: int = 0
    checkpointed_entries: int = 0
    overdue: Mapping[str, int] = field(default_factory=dict)
    """Running applications past their due date, per competent region."""


class GatewayMetrics:
    """Every metric the gateway exports, registered in its own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.calendar_year = Gauge(
            "tongban_calendar_year_status",
            "1 for each year's holiday schedule status (exact, provisional, missing): every "
            "loaded year, this year and the next.",
            ["year", "status"],
            registry=r,
        )
        self.http_requests = Counter(
            "tongban_http_requests",
            "HTTP requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "tongban_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ["route"],
            buckets=_HTTP_BUCKETS,
            registry=r,
        )
        self.intake = Counter(
            "tongban_intake",
            "Applications taken in (new cases, not replays or duplicates).",
            ["channel", "region"],
            registry=r,
        )
        self.attempts = Counter(
            "tongban_delivery_attempts",
            "Delivery attempts to regions, by outcome (delivered, rejected, unavailable, error).",
            ["region", "outcome"],
            registry=r,
        )
        self.deliveries = Counter(
            "tongban_deliveries",
            "Deliveries settled for good: delivered or dead_lettered.",
            ["region", "outcome"],
            registry=r,
        )
        self.attempt_duration = Histogram(
            "tongban_delivery_attempt_duration_seconds",
            "Duration of one delivery attempt (the adapter call with its in-call retries).",
            ["region"],
            buckets=_ATTEMPT_BUCKETS,
            registry=r,
        )
        self.queued = Gauge(
            "tongban_deliveries_queued",
            "Deliveries not yet delivered, by region and state (failed = dead letters).",
            ["region", "state"],
            registry=r,
        )
        self.oldest_due_age = Gauge(
            "tongban_delivery_oldest_due_age_seconds",
            "How long the oldest due, still pending delivery has waited past its due time.",
            ["region"],
            registry=r,
        )
        self.dead_letters = Gauge(
            "tongban_dead_letters",
            "Deliveries given up on (relay_failed), waiting for ops to replay them.",
            ["region"],
            registry=r,
        )
        self.breaker = Gauge(
            "tongban_relay_breaker_state",
            "Each region's circuit breaker: 1 for its current state, 0 for the others.",
            ["region", "state"],
            registry=r,
        )
        self.audit_entries = Gauge("tongban_audit_entries", "Entries in the audit log.", registry=r)
        self.checkpoint_lag = Gauge(
            "tongban_audit_checkpoint_lag_entries",
            "Audit entries not yet covered by a signed checkpoint.",
            registry=r,
        )
        self.overdue = Gauge(
            "tongban_applications_overdue",
            "Running applications past their promised (else legal) due date.",
            ["region"],
            registry=r,
        )

    def attempt(self, region: str, outcome: str, state: str, seconds: float) -> None:
        """Record one delivery attempt; `state` is the delivery's state after it."""
        self.attempts.labels(region, outcome).inc()
        self.attempt_duration.labels(region).observe(seconds)
        if state == "delivered":
            self.deliveries.labels(region, "delivered").inc()
        elif state == "failed":
            self.deliveries.labels(region, "dead_lettered").inc()

    def taken_in(self, channel: str, region: str) -> None:
        """Count one new application."""
        self.intake.labels(channel, region).inc()

    def apply(self, snapshot: StoreSnapshot, regions: Iterable[str]) -> None:
        """Set the store gauges from `snapshot`; every known region shows, zeros included."""
        known = set(regions) | {region for region, _ in snapshot.queued} | set(snapshot.overdue)
        for gauge in (self.queued, self.oldest_due_age, self.dead_letters, self.overdue):
            gauge.clear()
        for region in sorted(known):
            for state in QUEUE_STATES:
                self.queued.labels(region, state).set(snapshot.queued.get((region, state), 0))
            self.dead_letters.labels(region).set(snapshot.queued.get((region, "failed"), 0))
            self.oldest_due_age.labels(region).set(snapshot.oldest_due_age.get(region, 0.0))
            self.overdue.labels(region).set(snapshot.overdue.get(region, 0))
        self.audit_entries.set(snapshot.audit_entries)
        self.checkpoint_lag.set(max(0, snapshot.audit_entries - snapshot.checkpointed_entries))

    def breakers(self, states: Mapping[str, str]) -> None:
        """Set the breaker gauges from each region's current state."""
        self.breaker.clear()
        for region, current in states.items():
            for state in BREAKER_STATES:
                self.breaker.labels(region, state).set(1 if state == current else 0)

    def calendar_years(self, statuses: Mapping[int, str]) -> None:
        """Set the calendar gauges: one series per year and status, 1 for the year's status."""
        self.calendar_year.clear()
        for year, current in statuses.items():
            for status in CALENDAR_STATUSES:
                self.calendar_year.labels(str(year), status).set(1 if status == current else 0)

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)


def route_of(request: web.Request) -> str:
    """The matched route's path template (``/v1/applications/{id}``), never the raw path,
    so ids do not become label values; ``unmatched`` when no route matched."""
    resource = request.match_info.route.resource
    return UNMATCHED_ROUTE if resource is None else resource.canonical


@web.middleware
async def http_metrics(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count each answered request by route template and status, and time it.

    Sits inside `request_context` and outside `problem_errors`, so it sees the
    status the client gets.
    """
    metrics = request.app.get(METRICS)
    if metrics is None:
        return await handler(request)
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:  # redirects, which `problem_errors` lets through
        status = exc.status
        raise
    except (asyncio.CancelledError, Exception) as exc:
        if client_went_away(request, exc):
            status = 499  # as nginx counts it: the client closed the connection
        raise
    finally:
        route = route_of(request)
        metrics.http_requests.labels(request.method, route, str(status)).inc()
        metrics.http_duration.labels(route).observe(time.perf_counter() - started)
