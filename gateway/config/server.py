"""Settings of the HTTP surface: the listener, logging, metrics and the ops API."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from gateway.config.section import Section


class ServerSettings(Section):
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
    idle_timeout: float = Field(
        15.0,
        gt=0,
        description=(
            "Seconds a connection may stay without a complete request header, whether new, "
            "dripping its header or idle between requests; then it is closed."
        ),
    )
    body_timeout: float = Field(
        30.0, gt=0, description="Seconds a client has to send a request's whole body (else 408)."
    )
    event_loop: Literal["auto", "uvloop", "asyncio"] = Field(
        "auto",
        description=(
            "The event loop `tongban serve` runs on: 'uvloop' (libuv; the loop's own work "
            "in C, less CPU per request), 'asyncio' (the standard library's), or 'auto' "
            "(uvloop where it is installed, else asyncio)."
        ),
    )
    max_connections_per_ip: int = Field(
        0,
        ge=0,
        description=(
            "Open connections one client address may hold; 0 = no cap (behind a reverse "
            "proxy every client has the proxy's address: cap there, see deploy/)."
        ),
    )


class LogSettings(Section):
    """Structured logging."""

    format: Literal["json", "console"] = Field(
        "json", description="'json' lines for production, 'console' for people."
    )
    level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Lowest level written."
    )


class MetricsSettings(Section):
    """``GET /metrics`` (Prometheus exposition)."""

    enabled: bool = Field(True, description="Serve GET /metrics (counts only, no personal data).")
    store_cache_seconds: float = Field(
        10.0,
        ge=0,
        le=300,
        description="How long the store-derived gauges (queue depth, audit lag, overdue) "
        "are reused between scrapes before the store is asked again.",
    )


class OpsSettings(Section):
    """The ops REST API (``/v1/ops/...``): deliveries and dead-letter replay."""

    token: SecretStr | None = Field(
        None,
        description=(
            "Bearer token ops present (Authorization: Bearer ...). Unset: the ops API is off "
            "and only the CLI (`tongban deliveries`) can replay."
        ),
    )
