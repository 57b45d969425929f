"""When to try a delivery again, and when to give up.

One `RetryPolicy` per region decides the durable schedule across attempts: full-jitter
exponential backoff (AWS Architecture Blog, "Exponential Backoff and Jitter"), capped,
never sooner than a region's ``Retry-After``, within a budget of attempts and of
age. Government back offices are down for hours, not seconds, so the defaults span
days. The schedule is persisted by the outbox (``next_attempt_at``) and survives
restarts; short in-call retries (`RelayWorker`) are a separate, small layer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.wording import counted


@dataclass(frozen=True)
class RetryDecision:
    """Either retry at `retry_at`, or give up for `give_up_reason`."""

    retry_at: datetime | None
    give_up_reason: str | None = None

    @property
    def gives_up(self) -> bool:
        return self.retry_at is None


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff and budget for one region's deliveries."""

    base_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=1)
    max_attempts: int = 100
    max_age: timedelta = timedelta(days=3)

    def __post_init__(self) -> None:
        if self.base_delay <= timedelta(0) or self.max_delay < self.base_delay:
            raise ValueError("need 0 < base_delay <= max_delay")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def backoff(self, attempt: int, rng: random.Random | None = None) -> timedelta:
        """The wait after failed attempt number `attempt` (1-based): uniform in [0, cap]."""
        exponent = min(attempt - 1, 62)  # 2**62 seconds already exceeds any cap
        ceiling = min(self.max_delay.total_seconds(), self.base_delay.total_seconds() * 2**exponent)
        return timedelta(seconds=(rng or _random).uniform(0, ceiling))

    def after_failure(
        self,
        *,
        attempts: int,
        first_queued_at: datetime,
        now: datetime,
        retry_after: timedelta | None = None,
        rng: random.Random | None = None,
    ) -> RetryDecision:
        """Decide what follows a transient failure of attempt number `attempts`."""
        if attempts >= self.max_attempts:
            return RetryDecision(None, f"gave up after {counted(attempts, 'attempt')}")
        wait = self.backoff(attempts, rng)
        if retry_after is not None:
            wait = max(wait, retry_after)
        retry_at = now + wait
        deadline = first_queued_at + self.max_age
        if retry_at > deadline:
            return RetryDecision(None, f"gave up: still failing {self.max_age} after queueing")
        return RetryDecision(retry_at)


_random = random.SystemRandom()
