"""What tests that run real servers on loopback share: free ports and a fast relay."""

from __future__ import annotations

import socket
from collections.abc import Mapping


def adapter_urls(urls: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """``adapters`` settings that point each region at its sandbox: ``{region: {"url": u}}``."""
    return {region: {"url": url} for region, url in urls.items()}


# Relay timings for tests: retries, breakers and polls in tens of milliseconds.
FAST_RELAY = {
    "poll_interval": 0.05,
    "in_call_attempts": 1,
    "shutdown_grace_seconds": 1.0,
    "default": {
        "retry_base_seconds": 0.05,
        "retry_max_seconds": 0.2,
        "breaker_failures": 3,
        "breaker_reset_seconds": 0.2,
        "poll_seconds": 0.1,
    },
}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
