"""Per-partner rate limiting: a token bucket for each partner, in this process.

A bucket holds up to ``burst`` tokens and refills at ``per_minute / 60`` a second;
each request takes one. Kept in memory on purpose: the limit protects this
process and the regions behind it, a restart that refills the buckets is harmless,
and a shared counter in the database would cost a write per request. With N
gateway processes behind a balancer a partner gets at most N times its limit;
size ``rate_limit_per_minute`` accordingly.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets keyed by partner id. `clock` is monotonic seconds (injectable)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def acquire(self, key: str, per_minute: int, burst: int) -> float | None:
        """Take one token for `key`: None if allowed, else seconds until one is free.

        A refused request takes nothing, so a client that waits the returned time
        succeeds.
        """
        now = self._clock()
        rate = per_minute / 60.0
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(tokens=float(burst), updated=now)
        bucket.tokens = min(float(burst), bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return (1.0 - bucket.tokens) / rate


def retry_after_header(wait: float) -> str:
    """``Retry-After`` delay-seconds: whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(wait)))
