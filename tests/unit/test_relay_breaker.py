"""The circuit breaker: opens on consecutive failures, probes once, closes on success."""

from __future__ import annotations

from support.clocks import SecondsClock

from gateway.relay.breaker import BreakerState, CircuitBreaker


def opened(clock: SecondsClock) -> CircuitBreaker:
    breaker = CircuitBreaker(failure_threshold=3, reset_after=30, clock=clock)
    for _ in range(3):
        assert breaker.try_acquire()
        breaker.record_failure()
    return breaker


def test_closed_breaker_lets_calls_through() -> None:
    breaker = CircuitBreaker(clock=SecondsClock())
    assert breaker.state is BreakerState.CLOSED
    assert breaker.try_acquire()


def test_opens_after_threshold_consecutive_failures() -> None:
    clock = SecondsClock()
    breaker = opened(clock)
    assert breaker.state is BreakerState.OPEN
    assert not breaker.try_acquire()
    assert breaker.seconds_until_probe() == 30


def test_a_success_resets_the_failure_count() -> None:
    breaker = CircuitBreaker(failure_threshold=3, clock=SecondsClock())
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED


def test_half_open_allows_exactly_one_probe() -> None:
    clock = SecondsClock()
    breaker = opened(clock)
    clock.now += 30
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.try_acquire()
    assert not breaker.try_acquire()


def test_successful_probe_closes() -> None:
    clock = SecondsClock()
    breaker = opened(clock)
    clock.now += 30
    assert breaker.try_acquire()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.try_acquire()


def test_failed_probe_opens_again_for_a_full_period() -> None:
    clock = SecondsClock()
    breaker = opened(clock)
    clock.now += 30
    assert breaker.try_acquire()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    clock.now += 29
    assert not breaker.try_acquire()


def test_released_probe_can_be_retried() -> None:
    clock = SecondsClock()
    breaker = opened(clock)
    clock.now += 30
    assert breaker.try_acquire()
    breaker.release()
    assert breaker.try_acquire()
