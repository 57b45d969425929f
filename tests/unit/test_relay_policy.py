"""The retry policy: full-jitter backoff, Retry-After, attempt and age budgets."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.relay.policy import RetryPolicy

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
POLICY = RetryPolicy(
    base_delay=timedelta(seconds=10),
    max_delay=timedelta(minutes=10),
    max_attempts=8,
    max_age=timedelta(hours=2),
)


@given(attempt=st.integers(min_value=1, max_value=500), seed=st.integers())
def test_backoff_stays_within_the_exponential_cap(attempt: int, seed: int) -> None:
    wait = POLICY.backoff(attempt, random.Random(seed))
    cap = min(600.0, 10.0 * 2 ** (attempt - 1))
    assert timedelta(0) <= wait <= timedelta(seconds=cap)


def test_backoff_is_jittered_not_fixed() -> None:
    rng = random.Random(7)
    waits = {POLICY.backoff(5, rng) for _ in range(20)}
    assert len(waits) == 20


def test_retry_after_is_honoured_as_a_minimum() -> None:
    decision = POLICY.after_failure(
        attempts=1,
        first_queued_at=T0,
        now=T0,
        retry_after=timedelta(minutes=5),
        rng=random.Random(1),
    )
    assert decision.retry_at is not None
    assert decision.retry_at >= T0 + timedelta(minutes=5)


def test_gives_up_when_attempts_are_spent() -> None:
    decision = POLICY.after_failure(attempts=8, first_queued_at=T0, now=T0)
    assert decision.gives_up
    assert decision.give_up_reason == "gave up after 8 attempts"


def test_gives_up_when_the_next_try_would_be_too_old() -> None:
    decision = POLICY.after_failure(
        attempts=2,
        first_queued_at=T0,
        now=T0 + timedelta(hours=2) - timedelta(seconds=1),
        retry_after=timedelta(minutes=1),
    )
    assert decision.gives_up
    assert "after queueing" in (decision.give_up_reason or "")


def test_retries_within_budget() -> None:
    decision = POLICY.after_failure(attempts=3, first_queued_at=T0, now=T0 + timedelta(minutes=1))
    assert not decision.gives_up


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"base_delay": timedelta(0)}, "base_delay"),
        ({"base_delay": timedelta(hours=2), "max_delay": timedelta(hours=1)}, "base_delay"),
        ({"max_attempts": 0}, "max_attempts"),
    ],
)
def test_nonsense_policies_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
