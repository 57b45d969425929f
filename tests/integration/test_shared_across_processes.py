"""What several gateway processes on one PostgreSQL database must share, shared.

Each test opens two separate stores (two pools, as two gateway processes would
have): the partner rate limit is one bucket between them (a partner gets its burst
once, not once per process), and a nonce one has seen the other refuses.
"""

from __future__ import annotations

import asyncio

import pytest
from support.clocks import SecondsClock
from support.fixture_types import StoreFactory

from gateway.security.nonces import NonceStore
from gateway.security.ratelimit import SharedRateLimiter, limiter_for
from gateway.store import bundled_migrations, migrate

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("store_url", ["postgres"], indirect=True),
]


async def two_processes(
    store_factory: StoreFactory,
) -> tuple[SharedRateLimiter, SharedRateLimiter, SecondsClock]:
    first, second = await store_factory(), await store_factory()
    await migrate(first, bundled_migrations("postgres"))
    clock = SecondsClock(now=1_800_000_000.0)
    return SharedRateLimiter(first, clock), SharedRateLimiter(second, clock), clock


async def test_two_processes_share_one_bucket(store_factory: StoreFactory) -> None:
    a, b, clock = await two_processes(store_factory)
    answers = [await limiter.acquire("sz", 6, 3) for limiter in (a, b, a, b, a, b)]
    assert answers[:3] == [None, None, None]  # the burst, once between both
    assert answers[3:] == [pytest.approx(10.0)] * 3  # 6 a minute: a token every 10 s
    clock.now += 10
    assert await b.acquire("sz", 6, 3) is None
    assert await a.acquire("sz", 6, 3) == pytest.approx(10.0)
    assert await a.acquire("other", 6, 3) is None  # each partner its own bucket


async def test_concurrent_requests_from_both_get_exactly_the_burst(
    store_factory: StoreFactory,
) -> None:
    a, b, _ = await two_processes(store_factory)
    answers = await asyncio.gather(*(limiter.acquire("sz", 1, 10) for limiter in [a, b] * 20))
    assert sum(answer is None for answer in answers) == 10


async def test_a_clock_behind_never_refills_faster(store_factory: StoreFactory) -> None:
    a, b, clock = await two_processes(store_factory)
    for _ in range(2):
        assert await a.acquire("sz", 6, 2) is None
    clock.now -= 30  # the other host's clock is behind: no time has passed for the bucket
    assert await b.acquire("sz", 6, 2) == pytest.approx(10.0)


async def test_the_store_decides_where_buckets_live(store_factory: StoreFactory) -> None:
    store = await store_factory()
    assert isinstance(limiter_for(store), SharedRateLimiter)


async def test_a_nonce_seen_by_one_process_is_a_replay_for_the_other(
    store_factory: StoreFactory,
) -> None:
    first, second = await store_factory(), await store_factory()
    await migrate(first, bundled_migrations("postgres"))
    clock = SecondsClock()
    expires = int(clock.now) + 300
    one, other = NonceStore(first, clock), NonceStore(second, clock)
    assert await one.remember("sz", "n-1", expires) is True
    assert await other.remember("sz", "n-1", expires) is False
    assert await other.remember("dg", "n-1", expires) is True  # per partner
