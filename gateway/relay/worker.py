"""The relay worker: claims due deliveries and gets each to its region.

Per region it keeps a concurrency limit, a circuit breaker, a business calendar and
a retry policy. A region that is closed (maintenance, off-hours) or whose breaker
is open is simply not claimed from: its deliveries wait without burning attempts.
A call gets a few quick in-call retries (tenacity) for timeouts and dropped
connections; after that the durable schedule of the policy takes over, persisted
in the outbox. Every attempt is recorded, with the per-hop times of its last
in-call try (request sent, response received), and reported to an optional
`AttemptObserver` (the metrics). Each job runs with its delivery, application,
region, request id and trace id bound (`bind_trace_in_task`), so its log lines and audit
entries carry them. Outcomes reach the rest of the gateway
through a `DeliveryListener` (`gateway.relay.seam`), in the same transaction that
settles the delivery.

Once a region has answered, it is not called again for that attempt: recording the
outcome is retried while the store is unavailable, and any other failure to record
it makes the delivery a dead letter (in a transaction of its own) that keeps the
region's answer. No exception from one delivery, or one region's claim, stops the
worker; each is logged with its traceback.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import structlog
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from gateway.envelope import Envelope, RegionAck
from gateway.errors import (
    AdapterError,
    RegionRejected,
    RegionUnavailable,
    RegionUnreachable,
    StoreUnavailable,
)
from gateway.observability.tracecontext import bind_trace_in_task
from gateway.relay import deliveries
from gateway.relay.breaker import BreakerState, CircuitBreaker
from gateway.relay.calendar import ALWAYS_OPEN, BusinessCalendar
from gateway.relay.deliveries import DeliveryRecord, EnvelopeOpener, Unreadable
from gateway.relay.policy import RetryPolicy
from gateway.relay.reasons import unsettled_reason
from gateway.relay.seam import DeliveryListener
from gateway.relay.settlement import Attempt, Hops, Settlement, classify, write_settlement
from gateway.store import Connection, Store

log = structlog.get_logger(__name__)


class RegionClient(Protocol):
    """What the relay needs of an adapter: one coroutine per kind of envelope."""

    async def submit(self, envelope: Envelope) -> RegionAck: ...

    async def send_supplement(self, envelope: Envelope) -> RegionAck | None: ...

    async def withdraw(self, envelope: Envelope) -> RegionAck | None: ...

    async def send_rating(self, envelope: Envelope) -> RegionAck | None: ...


class NoticeClient(Protocol):
    """What the relay needs of a partner webhook sender (`gateway.relay.webhooks`)."""

    async def notify(self, envelope: Envelope) -> RegionAck | None: ...


Destination = RegionClient | NoticeClient
"""A region's adapter or a partner's webhook sender: the client of one lane."""

# The client method for each kind of envelope; a client lacking it cannot take that kind.
_SENDERS = {
    "submission": "submit",
    "supplement": "send_supplement",
    "withdrawal": "withdraw",
    "rating": "send_rating",
    "status_notice": "notify",
}


AttemptObserver = Callable[[str, str, str, float], None]
"""``(destination, outcome, delivery state after it, duration_seconds)``: told of every
recorded attempt; must not block."""


@dataclass
class DestinationLane:
    """One destination's limits and state inside the worker (a region, or a partner's
    webhook lane ``partner:<id>``)."""

    policy: RetryPolicy = field(default_factory=RetryPolicy)
    calendar: BusinessCalendar = ALWAYS_OPEN
    concurrency: int = 16
    breaker: CircuitBreaker = field(default_factory=CircuitBreaker)
    in_flight: int = 0

    @property
    def claim_batch(self) -> int:
        """The least room worth a claim while deliveries are in flight (a quarter of
        `concurrency`); with none in flight, any room is."""
        return max(1, self.concurrency // 4)


def utcnow() -> datetime:
    return datetime.now(UTC)


class RelayWorker:
    """Delivers the outbox. Start with `run()` as a task; stop with `stop()`."""

    def __init__(
        self,
        store: Store,
        adapters: Mapping[str, Destination],
        lanes: Mapping[str, DestinationLane],
        listener: DeliveryListener,
        *,
        opener: EnvelopeOpener,
        instance: str,
        lease: timedelta = timedelta(minutes=2),
        poll_interval: float = 1.0,
        in_call_attempts: int = 2,
        clock: Callable[[], datetime] = utcnow,
        on_attempt: AttemptObserver | None = None,
    ) -> None:
        self._store = store
        self._adapters = adapters
        self._lanes = lanes
        self._listener = listener
        self._opener = opener
        self._instance = instance
        self._lease = lease
        self._poll_interval = poll_interval
        self._in_call_attempts = in_call_attempts
        self._clock = clock
        self._on_attempt = on_attempt
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: dict[asyncio.Task[None], DeliveryRecord] = {}
        # Delivery tasks holding a place in their lane's `concurrency`: from the claim
        # until the region has answered (the outcome's COMMIT is no call to the region).
        # Per task, not per delivery: a claim that lapsed mid-call may be claimed again
        # (by this worker too) while the first call still runs; each holds a place.
        self._calling: set[asyncio.Task[None]] = set()

    @property
    def listener(self) -> DeliveryListener:
        return self._listener

    @property
    def lanes(self) -> Mapping[str, DestinationLane]:
        return self._lanes

    def wake(self) -> None:
        """Look for due deliveries now (after an enqueue) instead of at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """Claim and deliver until `stop()`."""
        log.info("relay.started", instance=self._instance, regions=sorted(self._lanes))
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                await self.claim_round()
            except Exception:
                # A store hiccup must not kill the worker; it retries at the next poll.
                log.exception("relay.claim_failed")
            try:
                async with asyncio.timeout(self._poll_interval):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def claim_round(self) -> int:
        """Claim what every open region has room for, and start delivering it."""
        now = self._clock()
        started = 0
        for destination, lane in self._lanes.items():
            room = lane.concurrency - lane.in_flight
            if room < lane.claim_batch and (room <= 0 or lane.in_flight > 0):
                # Claim in batches: one claim per finished delivery would run a claim
                # transaction per delivery. Deliveries still in flight wake us as they
                # finish, so the room fills up soon.
                continue
            if lane.calendar.hold_until(now) is not None:
                continue
            state = lane.breaker.state
            if state is BreakerState.OPEN:
                continue
            if state is BreakerState.HALF_OPEN:
                room = 1
            try:
                claimed = await self._claim(destination, now, room)
            except StoreUnavailable as exc:  # retried at the next poll
                log.warning("relay.claim_failed", region=destination, error=str(exc))
                continue
            except Exception:
                # One region's claim failing must not hold back the others.
                log.exception("relay.claim_failed", region=destination)
                continue
            for record in claimed:
                lane.in_flight += 1
                task = asyncio.create_task(self._deliver(record, lane))
                self._calling.add(task)
                self._tasks[task] = record
                task.add_done_callback(self._done)
                started += 1
        return started

    async def _claim(self, destination: str, now: datetime, room: int) -> list[DeliveryRecord]:
        unreadable: list[Unreadable] = []
        async with self._store.transaction() as conn:
            claimed = await deliveries.claim(
                conn,
                backend=self._store.backend,
                destination=destination,
                owner=self._instance,
                now=now,
                lease_until=now + self._lease,
                limit=room,
                opener=self._opener,
                unreadable=unreadable,
            )
        for dead in unreadable:  # already a dead letter; now its application is told
            try:
                async with self._store.transaction() as conn:
                    await self._listener.dead_lettered(conn, dead, dead.reason_zh, dead.detail)
            except Exception:
                log.exception("relay.dead_letter_unannounced", delivery_id=dead.id)
        return claimed

    async def drain(self) -> None:
        """Wait until every delivery started so far has settled (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Stop claiming; let in-flight calls finish for `grace_seconds`, then release the rest."""
        self._stopping.set()
        self._wake.set()
        pending = list(self._tasks)
        if pending:
            _, unfinished = await asyncio.wait(pending, timeout=grace_seconds)
            # Read the claims before cancelling: done-callbacks forget finished tasks.
            unsettled = [self._tasks[t].id for t in unfinished if t in self._tasks]
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
            if unsettled:
                async with self._store.transaction() as conn:
                    await deliveries.release(
                        conn, unsettled, owner=self._instance, now=self._clock()
                    )
                log.info("relay.released", count=len(unsettled))
        log.info("relay.stopped", instance=self._instance)

    def _done(self, task: asyncio.Task[None]) -> None:
        record = self._tasks.pop(task, None)
        if record is not None:
            self._free_place(task, record)
        if not task.cancelled() and (error := task.exception()) is not None:
            # `_deliver` catches everything; this is the last line of defence.
            log.error("relay.task_crashed", exc_info=error)
        self._wake.set()  # its settlement may have made a follow-up claimable

    def _free_place(self, task: asyncio.Task[Any] | None, record: DeliveryRecord) -> None:
        """Give the place `task` holds in its lane back (once) and look for more work."""
        if task in self._calling:
            self._calling.discard(task)
            self._lanes[record.destination].in_flight -= 1
            self._wake.set()

    async def _deliver(self, record: DeliveryRecord, lane: DestinationLane) -> None:
        # A task of its own (claim_round), so its context is its own: nothing to restore.
        bind_trace_in_task(
            record.envelope.trace_id,
            delivery_id=record.id,
            application_id=record.application_id,
            region=record.destination,
            request_id=record.envelope.request_id,
        )
        try:
            await self._deliver_once(record, lane)
        except Exception:
            # Nothing one delivery does may stop the relay. Unsettled, the claim
            # lapses with its lease and the delivery is tried again then.
            log.exception("relay.delivery_crashed")

    async def _deliver_once(self, record: DeliveryRecord, lane: DestinationLane) -> None:
        adapter = self._adapters.get(record.destination)
        envelope = await self._with_case_no(record)
        if not lane.breaker.try_acquire():
            await self._reschedule_untried(record, lane)
            return
        started_at, started = self._clock(), time.perf_counter()
        ack: RegionAck | None = None
        error: Exception | None = None
        hops = Hops()
        try:
            if adapter is None:
                raise RegionRejected(record.destination, "no-adapter", "未配置对方系统接口")
            ack = await self._send(adapter, envelope, hops)
        except asyncio.CancelledError:
            lane.breaker.release()
            raise
        except Exception as exc:
            error = exc
        ended_at = self._clock()
        duration_ms = (time.perf_counter() - started) * 1000
        # The region has answered (or not): the call is over.
        self._free_place(asyncio.current_task(), record)
        if error is None or isinstance(error, RegionRejected):
            lane.breaker.record_success()  # the region answered: it is up
        else:
            lane.breaker.record_failure()
        attempt = Attempt(ack, error, hops, started_at, ended_at, duration_ms)
        await self._settle(record, lane, attempt)

    async def _with_case_no(self, record: DeliveryRecord) -> Envelope:
        """Follow-ups name the case the region opened for the submission."""
        envelope = record.envelope
        if envelope.kind in ("submission", "status_notice") or envelope.region_case_no is not None:
            return envelope
        async with self._store.read() as conn:
            case_no = await deliveries.submission_case_no(conn, record.application_id)
        return envelope.model_copy(update={"region_case_no": case_no})

    async def _send(self, adapter: Destination, envelope: Envelope, hops: Hops) -> RegionAck | None:
        send: Callable[[Envelope], Awaitable[RegionAck | None]] | None = getattr(
            adapter, _SENDERS.get(envelope.kind, ""), None
        )
        if send is None:
            region = envelope.competent_region
            raise RegionRejected(region, "no-handler", f"cannot deliver a {envelope.kind}")
        # Quick retries only for failures with no advice from the region (timeouts,
        # resets); a region that says "busy, retry after N s" is taken at its word.
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._in_call_attempts),
            wait=wait_exponential(multiplier=0.1, max=1.0),
            retry=retry_if_exception(
                lambda exc: isinstance(exc, RegionUnavailable) and exc.retry_after is None
            ),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                hops.calls += 1
                hops.sent_at, hops.received_at = self._clock(), None
                try:
                    answer = await send(envelope)
                except Exception as exc:
                    # A refusal or "busy" is an answer; a timeout or a dropped connection
                    # is not, nor is a failure of our own before or after the call.
                    if isinstance(exc, AdapterError) and not isinstance(exc, RegionUnreachable):
                        hops.received_at = self._clock()
                    raise
                hops.received_at = self._clock()
                return answer
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    async def _reschedule_untried(self, record: DeliveryRecord, lane: DestinationLane) -> None:
        now = self._clock()
        later = now + timedelta(seconds=lane.breaker.seconds_until_probe())
        async with self._store.transaction() as conn:
            await deliveries.settle(
                conn,
                record,
                owner=self._instance,
                now=now,
                state=deliveries.PENDING,
                next_attempt_at=later,
                count_attempt=False,
                last_error=record.last_error,
            )
        log.info("relay.held", reason="breaker_open", until=later.isoformat())

    async def _settle(
        self, record: DeliveryRecord, lane: DestinationLane, attempt: Attempt
    ) -> None:
        settlement = classify(record, lane.policy, attempt.error, attempt.ended_at)

        async def write(conn: Connection) -> bool:
            if not await write_settlement(
                conn, record, settlement, attempt, instance=self._instance
            ):
                return False
            if settlement.state == deliveries.DELIVERED:
                await self._listener.delivered(conn, record, attempt.ack)
            elif settlement.dead is not None:
                await self._listener.dead_lettered(conn, record, *settlement.dead)
            return True

        try:
            ours = await self._store_retrying(lambda: self._store.grouped(write))
        except Exception as exc:
            # The outcome is known and the region has answered: it is not called again.
            # The delivery becomes a dead letter keeping the answer, for ops to resolve.
            log.exception(
                "relay.settle_failed",
                outcome=settlement.outcome,
                error=f"{type(exc).__name__}: {exc}",
            )
            dead = unsettled_reason(exc, ack=attempt.ack, region_error=attempt.error)
            settlement = Settlement(deliveries.FAILED, settlement.outcome, dead=dead)
            ours = await self._dead_letter_unsettled(record, settlement, attempt)
        if not ours:
            log.warning("relay.lease_lost", outcome=settlement.outcome)
            return
        if self._on_attempt is not None:
            self._on_attempt(
                record.destination, settlement.outcome, settlement.state, attempt.duration_ms / 1000
            )
        next_at = settlement.next_attempt_at
        log.info(
            settlement.log_event,
            attempt=record.attempts + 1,
            duration_ms=round(attempt.duration_ms, 1),
            next_attempt_at=next_at.isoformat() if next_at else None,
            error=None if attempt.error is None else type(attempt.error).__name__,
        )

    async def _dead_letter_unsettled(
        self, record: DeliveryRecord, settlement: Settlement, attempt: Attempt
    ) -> bool:
        """Make a delivery whose outcome could not be recorded a dead letter, on its own.

        Its application is told as well if that works; if even that fails, the
        delivery is still dead-lettered without it (and logged), so it is never resent.
        """
        assert settlement.dead is not None  # noqa: S101 - built as a dead letter by the caller
        dead = settlement.dead

        async def with_listener() -> bool:
            async with self._store.transaction() as conn:
                if not await write_settlement(
                    conn, record, settlement, attempt, instance=self._instance
                ):
                    return False
                await self._listener.dead_lettered(conn, record, *dead)
                return True

        async def alone() -> bool:
            async with self._store.transaction() as conn:
                return await write_settlement(
                    conn, record, settlement, attempt, instance=self._instance
                )

        try:
            return await self._store_retrying(with_listener)
        except Exception:
            log.exception("relay.dead_letter_unannounced")
        return await self._store_retrying(alone)

    async def _store_retrying(self, work: Callable[[], Awaitable[bool]]) -> bool:
        """Run `work`, again after a pause for as long as the store is unavailable
        (busy, deadlock, connection lost); its own errors go to the caller."""
        pause = 0.05
        while True:
            try:
                return await work()
            except StoreUnavailable as exc:
                log.warning("relay.settle_retried", error=str(exc), pause_seconds=pause)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 5.0)
