"""Per-partner rate limiting: a token bucket for each partner.

A bucket holds up to ``burst`` tokens and refills at ``per_minute / 60`` a second;
each request takes one, and a refused request takes nothing (so a client that
waits the returned time succeeds).

Where the buckets live depends on the store:

- `RateLimiter` (embedded SQLite: one process) keeps them in memory: a restart that
  refills them is harmless, and a write per request would be wasted.
- `SharedRateLimiter` (PostgreSQL: possibly several processes, `serve --workers N`
  or several hosts) keeps them in ``partner_rate_buckets``, so a partner gets its
  limit once, not once per process. One upsert per request, on the partner's row:
  requests of one partner serialise on it for the length of that statement (not of
  the request), which matters only far above any configured limit. Processes on
  several hosts share the bucket through their wall clocks; a skewed clock can
  only make refills slower (time never runs backwards in a bucket), never faster.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from gateway.store import Store


class PartnerLimiter(Protocol):
    """What `PartnerAuthenticator` asks of a rate limiter."""

    async def acquire(self, key: str, per_minute: int, burst: int) -> float | None:
        """Take one token for `key`: None if allowed, else seconds until one is free."""
        ...


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets keyed by partner id, in this process. `clock`: monotonic seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    async def acquire(self, key: str, per_minute: int, burst: int) -> float | None:
        """Take one token for `key`: None if allowed, else seconds until one is free."""
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


# The refill, the take and the answer in one statement: the row lock of the upsert
# makes each request see the one before it, from whichever process it came.
_TAKE = """
INSERT INTO partner_rate_buckets AS b (partner_id, tokens, updated_at, granted)
VALUES (:key, CAST(:burst AS double precision) - 1, :now, TRUE)
ON CONFLICT (partner_id) DO UPDATE SET
    tokens = LEAST(:burst, b.tokens + GREATEST(0, :now - b.updated_at) * :rate)
        - CASE WHEN LEAST(:burst, b.tokens + GREATEST(0, :now - b.updated_at) * :rate) >= 1
          THEN 1 ELSE 0 END,
    updated_at = GREATEST(b.updated_at, :now),
    granted = LEAST(:burst, b.tokens + GREATEST(0, :now - b.updated_at) * :rate) >= 1
RETURNING tokens, granted
"""


class SharedRateLimiter:
    """Token buckets in the PostgreSQL store, shared by every process on it.

    `clock` is wall-clock Unix seconds (shared across processes, unlike a
    monotonic clock). Raises `StoreError` if the store fails.
    """

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    async def acquire(self, key: str, per_minute: int, burst: int) -> float | None:
        """Take one token for `key`: None if allowed, else seconds until one is free."""
        rate = per_minute / 60.0
        async with self._store.transaction() as conn:
            row = await conn.fetch_one(
                _TAKE, {"key": key, "burst": float(burst), "rate": rate, "now": self._clock()}
            )
        assert row is not None  # noqa: S101 - an upsert with RETURNING always returns its row
        if row["granted"]:
            return None
        return (1.0 - float(row["tokens"])) / rate


def limiter_for(store: Store) -> PartnerLimiter:
    """The store's buckets on PostgreSQL (several processes), memory on SQLite (one)."""
    return SharedRateLimiter(store) if store.backend == "postgres" else RateLimiter()


def retry_after_header(wait: float) -> str:
    """``Retry-After`` delay-seconds: whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(wait)))
