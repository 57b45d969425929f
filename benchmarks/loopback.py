"""What the benchmark scripts share: a free TCP port on loopback.

The scripts run as ``python benchmarks/<name>.py``, so this directory is on the path
and ``from loopback import free_port`` finds this module (tests/ has its own helpers;
benchmarks do not import tests).
"""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on at the moment of asking."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
