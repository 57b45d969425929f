"""The relay worker against a real store and a scripted region: retries, breaker,
calendar, ordering, leases, dead letters, replay and shutdown."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from support.at_rest import TEST_PASSPHRASE
from support.clocks import DateTimeClock
from support.outbox import insert_received_application, relay_envelope

from gateway.envelope import (
    Envelope,
    RegionAck,
    Status,
    StatusNoticeBody,
)
from gateway.errors import RegionRejected, RegionUnavailable
from gateway.outbox import enqueue, open_envelope
from gateway.relay import deliveries
from gateway.relay.breaker import CircuitBreaker
from gateway.relay.calendar import BusinessCalendar, WeeklyWindow
from gateway.relay.policy import RetryPolicy
from gateway.relay.testing import RecordingListener, ScriptedRegion
from gateway.relay.worker import DestinationLane, RelayWorker
from gateway.security.pii import PiiCipher, load_keys
from gateway.store import Row, SQLiteStore, bundled_migrations, migrate

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)  # a Friday, 18:00 in Shanghai


def envelope(application_id: str, kind: str = "submission") -> Envelope:
    return relay_envelope(application_id, kind, created_at=T0)


@dataclass
class Harness:
    """A migrated store, a PII cipher, a clock, a scripted region and a listener."""

    store: SQLiteStore
    cipher: PiiCipher
    clock: DateTimeClock = field(default_factory=lambda: DateTimeClock(T0))
    listener: RecordingListener = field(default_factory=RecordingListener)

    def open(self, row: Row) -> Envelope:
        return open_envelope(row, self.cipher)

    async def queue(self, env: Envelope, destination: str | None = None) -> str:
        """Enqueue `env` (adding its application row for a submission) at the clock's time."""
        async with self.store.transaction() as conn:
            if env.kind == "submission":
                await insert_received_application(conn, env, self.clock())
            delivery_id = await enqueue(conn, env, cipher=self.cipher, destination=destination)
            # enqueue stamps wall-clock times; these tests run on their own clock.
            await conn.execute(
                "UPDATE deliveries SET created_at = :t, next_attempt_at = :t, queued_at = :t"
                " WHERE id = :id",
                {"id": delivery_id, "t": deliveries.to_db(self.clock())},
            )
        return delivery_id

    def worker(
        self, region: ScriptedRegion, *, lane: DestinationLane | None = None, instance: str = "gw-a"
    ) -> RelayWorker:
        return RelayWorker(
            self.store,
            {"shenzhen": region},
            {"shenzhen": lane or DestinationLane()},
            self.listener,
            opener=self.open,
            instance=instance,
            in_call_attempts=1,
            clock=self.clock,
        )

    async def state(self, delivery_id: str) -> deliveries.DeliveryRecord:
        async with self.store.transaction() as conn:
            record = await deliveries.get(conn, delivery_id, self.open)
        assert record is not None
        return record

    async def attempts(self, delivery_id: str) -> list[Row]:
        async with self.store.transaction() as conn:
            return await conn.fetch_all(
                "SELECT attempt, outcome, error_class, region_code FROM delivery_attempts"
                " WHERE delivery_id = :id ORDER BY attempt",
                {"id": delivery_id},
            )


@pytest.fixture(scope="module")
def cipher(tmp_path_factory: pytest.TempPathFactory) -> PiiCipher:
    return PiiCipher(load_keys({}, None, None, tmp_path_factory.mktemp("pii"), TEST_PASSPHRASE))


@pytest.fixture
async def h(tmp_path: Path, cipher: PiiCipher) -> AsyncIterator[Harness]:
    store = await SQLiteStore.open(tmp_path / "relay.db")
    try:
        await migrate(store, bundled_migrations("sqlite"))
        yield Harness(store, cipher)
    finally:
        await store.aclose()


async def round_trip(worker: RelayWorker) -> int:
    started = await worker.claim_round()
    await worker.drain()
    return started


async def test_delivers_once_and_records_the_case_number(h: Harness) -> None:
    region = ScriptedRegion("shenzhen")
    delivery_id = await h.queue(envelope("app-1"))
    assert await round_trip(h.worker(region)) == 1
    record = await h.state(delivery_id)
    assert record.state == "delivered"
    assert record.region_case_no == "SHENZHEN-000001"
    assert h.listener.delivered_ids == [delivery_id]
    assert await h.attempts(delivery_id) == [
        {"attempt": 1, "outcome": "delivered", "error_class": None, "region_code": None}
    ]
    assert await round_trip(h.worker(region)) == 0


async def test_transient_failure_is_retried_later_not_now(h: Harness) -> None:
    region = ScriptedRegion("shenzhen", [RegionUnavailable("shenzhen", "503")])
    delivery_id = await h.queue(envelope("app-1"))
    worker = h.worker(region)
    await round_trip(worker)
    record = await h.state(delivery_id)
    assert record.state == "pending"
    assert record.next_attempt_at is not None
    assert record.next_attempt_at > h.clock()
    assert await round_trip(worker) == 0  # not due yet
    h.clock.now = record.next_attempt_at
    await round_trip(worker)
    assert (await h.state(delivery_id)).state == "delivered"
    assert [a["outcome"] for a in await h.attempts(delivery_id)] == [
        "unavailable",
        "delivered",
    ]


async def test_retry_after_from_the_region_is_a_floor(h: Harness) -> None:
    busy = RegionUnavailable("shenzhen", "busy", retry_after=600)
    region = ScriptedRegion("shenzhen", [busy])
    delivery_id = await h.queue(envelope("app-1"))
    await round_trip(h.worker(region))
    record = await h.state(delivery_id)
    assert record.next_attempt_at is not None
    assert record.next_attempt_at >= h.clock() + timedelta(seconds=600)


async def test_permanent_rejection_dead_letters_at_once(h: Harness) -> None:
    refusal = RegionRejected("shenzhen", "E2001", "身份证号码格式错误")
    region = ScriptedRegion("shenzhen", [refusal])
    delivery_id = await h.queue(envelope("app-1"))
    await round_trip(h.worker(region))
    record = await h.state(delivery_id)
    assert record.state == "failed"
    assert record.dead_reason_zh == "对方系统拒收（身份证号码格式错误）"
    assert len(region.calls) == 1
    assert h.listener.dead == [(delivery_id, record.dead_reason_zh, h.listener.dead[0][2])]
    assert "E2001" in h.listener.dead[0][2]


async def test_spent_budget_dead_letters_with_a_clerk_reason(h: Harness) -> None:
    down = [RegionUnavailable("shenzhen", "connection refused") for _ in range(3)]
    region = ScriptedRegion("shenzhen", list(down))
    lane = DestinationLane(
        policy=RetryPolicy(base_delay=timedelta(seconds=1), max_attempts=3),
        breaker=CircuitBreaker(failure_threshold=100),
    )
    delivery_id = await h.queue(envelope("app-1"))
    worker = h.worker(region, lane=lane)
    for _ in range(3):
        await round_trip(worker)
        h.clock.advance(hours=1)
    record = await h.state(delivery_id)
    assert record.state == "failed"
    assert record.dead_reason_zh == "对方系统维护或暂不可用，多次重试未成功"
    assert len(region.calls) == 3


async def test_open_breaker_holds_the_region_without_spending_attempts(h: Harness) -> None:
    region = ScriptedRegion("shenzhen", [RegionUnavailable("shenzhen", "down")] * 2)
    breaker = CircuitBreaker(
        failure_threshold=2, reset_after=60, clock=lambda: h.clock().timestamp()
    )
    lane = DestinationLane(breaker=breaker, policy=RetryPolicy(base_delay=timedelta(seconds=1)))
    first = await h.queue(envelope("app-1"))
    second = await h.queue(envelope("app-2"))
    worker = h.worker(region, lane=lane)
    await round_trip(worker)  # both fail: breaker opens
    h.clock.advance(seconds=5)  # both due again, but the breaker is open
    assert await round_trip(worker) == 0
    assert len(region.calls) == 2
    h.clock.advance(seconds=60)  # half-open: one probe, which succeeds and closes it
    assert await round_trip(worker) == 1
    await round_trip(worker)
    assert {(await h.state(i)).state for i in (first, second)} == {"delivered"}


async def test_maintenance_window_holds_deliveries(h: Harness) -> None:
    region = ScriptedRegion("shenzhen")
    friday_evening = WeeklyWindow(frozenset({4}), time(17, 0), time(20, 0))
    lane = DestinationLane(calendar=BusinessCalendar(ZoneInfo("Asia/Shanghai"), (friday_evening,)))
    delivery_id = await h.queue(envelope("app-1"))
    worker = h.worker(region, lane=lane)
    assert await round_trip(worker) == 0
    assert (await h.state(delivery_id)).attempts == 0
    h.clock.advance(hours=2)  # 20:00 in Shanghai: open again
    assert await round_trip(worker) == 1


async def test_supplement_waits_for_its_submission_and_names_the_case(h: Harness) -> None:
    region = ScriptedRegion("shenzhen", [RegionUnavailable("shenzhen", "down")])
    submission = await h.queue(envelope("app-1"))
    h.clock.advance(seconds=1)
    supplement = await h.queue(envelope("app-1", "supplement"))
    worker = h.worker(region)
    await round_trip(worker)  # submission fails; supplement must not overtake it
    assert region.kinds() == ["submission"]
    assert (await h.state(supplement)).attempts == 0
    h.clock.advance(hours=2)
    await round_trip(worker)
    await round_trip(worker)
    assert region.kinds() == ["submission", "submission", "supplement"]
    assert region.calls[-1].region_case_no == (await h.state(submission)).region_case_no


async def test_expired_lease_is_taken_over_and_the_old_owner_cannot_settle(h: Harness) -> None:
    region = ScriptedRegion("shenzhen")
    delivery_id = await h.queue(envelope("app-1"))
    async with h.store.transaction() as conn:  # gw-a claims, then "crashes"
        (stale,) = await deliveries.claim(
            conn,
            backend="sqlite",
            destination="shenzhen",
            owner="gw-a",
            now=h.clock(),
            lease_until=h.clock() + timedelta(minutes=2),
            limit=10,
            opener=h.open,
        )
    worker_b = h.worker(region, instance="gw-b")
    assert await round_trip(worker_b) == 0  # lease still valid
    h.clock.advance(minutes=3)
    assert await round_trip(worker_b) == 1
    assert (await h.state(delivery_id)).state == "delivered"
    async with h.store.transaction() as conn:
        assert not await deliveries.settle(
            conn, stale, owner="gw-a", now=h.clock(), state="pending"
        )


async def test_replay_of_a_dead_letter_delivers_once(h: Harness) -> None:
    region = ScriptedRegion("shenzhen", [RegionRejected("shenzhen", "E9", "签名错误")])
    delivery_id = await h.queue(envelope("app-1"))
    worker = h.worker(region)
    await round_trip(worker)
    async with h.store.transaction() as conn:
        assert await deliveries.replay(conn, delivery_id, now=h.clock())
        assert not await deliveries.replay(conn, delivery_id, now=h.clock())
    await round_trip(worker)
    record = await h.state(delivery_id)
    assert record.state == "delivered"
    assert len(region.cases) == 1
    assert {call.idempotency_key for call in region.calls} == {record.idempotency_key}


async def test_stop_releases_calls_still_in_flight(h: Harness) -> None:
    region = ScriptedRegion("shenzhen", delay=5.0)
    delivery_id = await h.queue(envelope("app-1"))
    worker = h.worker(region)
    assert await worker.claim_round() == 1
    await worker.stop(grace_seconds=0.05)
    record = await h.state(delivery_id)
    assert record.state == "pending"
    assert record.attempts == 0
    assert await h.attempts(delivery_id) == []


@dataclass
class ScriptedPartner:
    """A partner webhook endpoint for the worker: answers `script`, then takes everything."""

    script: list[Exception | None] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)

    async def notify(self, envelope: Envelope) -> RegionAck | None:
        outcome = self.script.pop(0) if self.script else None
        if outcome is not None:
            raise outcome
        assert isinstance(envelope.body, StatusNoticeBody)
        self.seen.append(envelope.body.status.value)
        return None


def notice(application_id: str, status: Status, seq: int) -> Envelope:
    body = StatusNoticeBody(
        application_id=application_id, status=status, occurred_at=T0, event_seq=seq
    )
    return envelope(application_id).model_copy(
        update={
            "envelope_id": uuid.uuid4().hex,
            "idempotency_key": f"{application_id}:notice:{seq}",
            "body": body,
        }
    )


async def test_order_is_per_destination_a_dead_webhook_holds_back_only_its_notices(
    h: Harness,
) -> None:
    region = ScriptedRegion("shenzhen")
    down = RegionUnavailable("partner:p", "HTTP 503")
    partner = ScriptedPartner([down, down])
    submission = await h.queue(envelope("app-1"))
    h.clock.advance(seconds=1)
    forwarded = await h.queue(notice("app-1", Status.FORWARDED, 1), "partner:p")
    h.clock.advance(seconds=1)
    supplement = await h.queue(envelope("app-1", "supplement"))
    h.clock.advance(seconds=1)
    accepted = await h.queue(notice("app-1", Status.ACCEPTED, 2), "partner:p")
    policy = RetryPolicy(base_delay=timedelta(seconds=1))
    worker = RelayWorker(
        h.store,
        {"shenzhen": region, "partner:p": partner},
        {"shenzhen": DestinationLane(), "partner:p": DestinationLane(policy=policy)},
        h.listener,
        opener=h.open,
        instance="gw-a",
        in_call_attempts=1,
        clock=h.clock,
    )
    await round_trip(worker)  # submission delivered; the first notice fails
    await round_trip(worker)  # the supplement goes although the partner is down
    assert region.kinds() == ["submission", "supplement"]
    assert (await h.state(supplement)).state == "delivered"
    assert (await h.state(forwarded)).state == "pending"
    assert (await h.state(accepted)).attempts == 0  # waits behind the earlier notice
    h.clock.advance(hours=1)
    await round_trip(worker)  # fails again
    assert (await h.state(accepted)).attempts == 0
    h.clock.advance(hours=1)
    await round_trip(worker)
    await round_trip(worker)
    assert partner.seen == ["forwarded", "accepted"]
    assert {(await h.state(i)).state for i in (submission, forwarded, accepted)} == {"delivered"}
