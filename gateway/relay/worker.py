"""The relay worker: claims due deliveries and gets each to its region.

Per region it keeps a concurrency limit, a circuit breaker, a business calendar and
a retry policy. A region that is closed (maintenance, off-hours) or whose breaker
is open is simply not claimed from: its deliveries wait without burning attempts.
A call gets a few quick in-call retries (tenacity) for timeouts and dropped
connections; after that the durable schedule of the policy takes over, persisted
in the outbox. Every attempt is recorded, with the per-hop times of its last
in-call try (request sent, response received), and reported to an optional
`AttemptObserver` (the metrics). Each job runs with its delivery, application,
region, request id and trace id bound (`bind_trace`), so its log lines and audit
entries carry them. Outcomes reach the rest of the gateway
through a `DeliveryListener`, in the same transaction that settles the delivery.

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
from typing import Protocol

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
from gateway.jsonio import dumps
from gateway.observability.tracecontext import bind_trace
from gateway.relay import deliveries
from gateway.relay.breaker import BreakerState, CircuitBreaker
from gateway.relay.calendar import ALWAYS_OPEN, BusinessCalendar
from gateway.relay.deliveries import DeliveryRecord, DeliveryRef, EnvelopeOpener, Unreadable
from gateway.relay.group_commit import GroupCommitter
from gateway.relay.policy import RetryPolicy
from gateway.relay.reasons import exhausted_reason, rejected_reason, unsettled_reason
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


class DeliveryListener(Protocol):
    """Told of final outcomes, inside the transaction that records them."""

    async def delivered(
        self, conn: Connection, record: DeliveryRecord, ack: RegionAck | None
    ) -> None: ...

    async def dead_lettered(
        self, conn: Connection, record: DeliveryRef, reason_zh: str, detail: str
    ) -> None: ...


AttemptObserver = Callable[[str, str, str, float], None]
"""``(region, outcome, delivery state after it, duration_seconds)``: told of every
recorded attempt; must not block."""


@dataclass
class _Hops:
    """Per-hop times of one attempt's last in-call try, and how many tries it made."""

    calls: int = 0
    sent_at: datetime | None = None
    received_at: datetime | None = None


@dataclass
class RegionLane:
    """One region's limits and state inside the worker."""

    policy: RetryPolicy = field(default_factory=RetryPolicy)
    calendar: BusinessCalendar = ALWAYS_OPEN
    concurrency: int = 16
    breaker: CircuitBreaker = field(default_factory=CircuitBreaker)
    in_flight: int = 0


def utcnow() -> datetime:
    return datetime.now(UTC)


class RelayWorker:
    """Delivers the outbox. Start with `run()` as a task; stop with `stop()`."""

    def __init__(
        self,
        store: Store,
        adapters: Mapping[str, Destination],
        lanes: Mapping[str, RegionLane],
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
        # Outcomes are written in shared transactions: one commit per batch, not per delivery.
        self._commits = GroupCommitter(store)

    @property
    def lanes(self) -> Mapping[str, RegionLane]:
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
        for region, lane in self._lanes.items():
            room = lane.concurrency - lane.in_flight
            if room <= 0 or lane.calendar.hold_until(now) is not None:
                continue
            state = lane.breaker.state
            if state is BreakerState.OPEN:
                continue
            if state is BreakerState.HALF_OPEN:
                room = 1
            try:
                claimed = await self._claim(region, now, room)
            except StoreUnavailable as exc:  # retried at the next poll
                log.warning("relay.claim_failed", region=region, error=str(exc))
                continue
            except Exception:
                # One region's claim failing must not hold back the others.
                log.exception("relay.claim_failed", region=region)
                continue
            for record in claimed:
                lane.in_flight += 1
                task = asyncio.create_task(self._deliver(record, lane))
                self._tasks[task] = record
                task.add_done_callback(self._done)
                started += 1
        return started

    async def _claim(self, region: str, now: datetime, room: int) -> list[DeliveryRecord]:
        unreadable: list[Unreadable] = []
        async with self._store.transaction() as conn:
            claimed = await deliveries.claim(
                conn,
                backend=self._store.backend,
                region=region,
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
        await self._commits.aclose()
        log.info("relay.stopped", instance=self._instance)

    def _done(self, task: asyncio.Task[None]) -> None:
        record = self._tasks.pop(task, None)
        if record is not None:
            self._lanes[record.region].in_flight -= 1
        if not task.cancelled() and (error := task.exception()) is not None:
            # `_deliver` catches everything; this is the last line of defence.
            log.error("relay.task_crashed", exc_info=error)
        self._wake.set()

    async def _deliver(self, record: DeliveryRecord, lane: RegionLane) -> None:
        with bind_trace(
            record.envelope.trace_id,
            delivery_id=record.id,
            application_id=record.application_id,
            region=record.region,
            request_id=record.envelope.request_id,
        ):
            try:
                await self._deliver_once(record, lane)
            except Exception:
                # Nothing one delivery does may stop the relay. Unsettled, the claim
                # lapses with its lease and the delivery is tried again then.
                log.exception("relay.delivery_crashed")

    async def _deliver_once(self, record: DeliveryRecord, lane: RegionLane) -> None:
        adapter = self._adapters.get(record.region)
        envelope = await self._with_case_no(record)
        if not lane.breaker.try_acquire():
            await self._reschedule_untried(record, lane)
            return
        started_at, started = self._clock(), time.perf_counter()
        ack: RegionAck | None = None
        error: Exception | None = None
        hops = _Hops()
        try:
            if adapter is None:
                raise RegionRejected(record.region, "no-adapter", "未配置对方系统接口")
            ack = await self._send(adapter, envelope, hops)
        except asyncio.CancelledError:
            lane.breaker.release()
            raise
        except Exception as exc:
            error = exc
        ended_at = self._clock()
        duration_ms = (time.perf_counter() - started) * 1000
        if error is None or isinstance(error, RegionRejected):
            lane.breaker.record_success()  # the region answered: it is up
        else:
            lane.breaker.record_failure()
        await self._settle(record, lane, ack, error, hops, started_at, ended_at, duration_ms)

    async def _with_case_no(self, record: DeliveryRecord) -> Envelope:
        """Follow-ups name the case the region opened for the submission."""
        envelope = record.envelope
        if envelope.kind in ("submission", "status_notice") or envelope.region_case_no is not None:
            return envelope
        async with self._store.transaction() as conn:
            case_no = await deliveries.submission_case_no(conn, record.application_id)
        return envelope.model_copy(update={"region_case_no": case_no})

    async def _send(
        self, adapter: Destination, envelope: Envelope, hops: _Hops
    ) -> RegionAck | None:
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

    async def _reschedule_untried(self, record: DeliveryRecord, lane: RegionLane) -> None:
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
        self,
        record: DeliveryRecord,
        lane: RegionLane,
        ack: RegionAck | None,
        error: Exception | None,
        hops: _Hops,
        started_at: datetime,
        ended_at: datetime,
        duration_ms: float,
    ) -> None:
        now = ended_at
        dead: tuple[str, str] | None = None
        next_at: datetime | None = None
        if error is None:
            state, outcome = deliveries.DELIVERED, "delivered"
        elif isinstance(error, RegionRejected):
            state, outcome = deliveries.FAILED, "rejected"
            dead = rejected_reason(error)
        else:
            retry_after = getattr(error, "retry_after", None)
            decision = lane.policy.after_failure(
                attempts=record.budget_attempts + 1,
                first_queued_at=record.queued_at,
                now=now,
                retry_after=timedelta(seconds=retry_after) if retry_after else None,
            )
            outcome = "unavailable" if isinstance(error, RegionUnavailable) else "error"
            if decision.gives_up:
                state = deliveries.FAILED
                dead = exhausted_reason(error, decision.give_up_reason or "gave up")
            else:
                state, next_at = deliveries.PENDING, decision.retry_at

        async def settle_row(
            conn: Connection, to_state: str, why_dead: tuple[str, str] | None
        ) -> bool:
            ours = await deliveries.settle(
                conn,
                record,
                owner=self._instance,
                now=now,
                state=to_state,
                next_attempt_at=next_at,
                region_case_no=ack.region_case_no if ack else None,
                hand_over_receipt=dumps(ack.receipt) if ack and ack.receipt else None,
                last_error=None if error is None else f"{type(error).__name__}: {error}",
                dead_reason_zh=why_dead[0] if why_dead else None,
                dead_detail=why_dead[1] if why_dead else None,
            )
            if ours:
                await deliveries.record_attempt(
                    conn,
                    delivery_id=record.id,
                    attempt=record.attempts + 1,
                    instance=self._instance,
                    started_at=deliveries.to_db(started_at),
                    ended_at=deliveries.to_db(ended_at),
                    duration_ms=round(duration_ms, 3),
                    outcome=outcome,
                    error_class=None if error is None else type(error).__name__,
                    region_code=getattr(error, "code", None),
                    http_status=getattr(error, "http_status", None),
                    detail=None if error is None else str(error)[:500],
                    request_sent_at=deliveries.to_db(hops.sent_at) if hops.sent_at else None,
                    response_received_at=(
                        deliveries.to_db(hops.received_at) if hops.received_at else None
                    ),
                    calls=hops.calls,
                )
            return ours

        async def write(conn: Connection) -> bool:
            if not await settle_row(conn, state, dead):
                return False
            if state == deliveries.DELIVERED:
                await self._listener.delivered(conn, record, ack)
            elif dead is not None:
                await self._listener.dead_lettered(conn, record, dead[0], dead[1])
            return True

        try:
            ours = await self._store_retrying(lambda: self._commits.run(write))
        except Exception as exc:
            # The outcome is known and the region has answered: it is not called again.
            # The delivery becomes a dead letter keeping the answer, for ops to resolve.
            log.exception(
                "relay.settle_failed", outcome=outcome, error=f"{type(exc).__name__}: {exc}"
            )
            state, next_at = deliveries.FAILED, None
            dead = unsettled_reason(exc, ack=ack, region_error=error)
            ours = await self._dead_letter_unsettled(record, dead, settle_row)
        if not ours:
            log.warning("relay.lease_lost", outcome=outcome)
            return
        if self._on_attempt is not None:
            self._on_attempt(record.region, outcome, state, duration_ms / 1000)
        event = {"delivered": "relay.delivered", "rejected": "relay.rejected"}.get(
            outcome, "relay.failed_attempt"
        )
        if state == deliveries.FAILED and outcome != "rejected":
            event = "relay.dead_lettered"
        log.info(
            event,
            attempt=record.attempts + 1,
            duration_ms=round(duration_ms, 1),
            next_attempt_at=next_at.isoformat() if next_at else None,
            error=None if error is None else type(error).__name__,
        )

    async def _dead_letter_unsettled(
        self,
        record: DeliveryRecord,
        dead: tuple[str, str],
        settle_row: Callable[[Connection, str, tuple[str, str] | None], Awaitable[bool]],
    ) -> bool:
        """Make a delivery whose outcome could not be recorded a dead letter, on its own.

        Its application is told as well if that works; if even that fails, the
        delivery is still dead-lettered without it (and logged), so it is never resent.
        """

        async def with_listener() -> bool:
            async with self._store.transaction() as conn:
                if not await settle_row(conn, deliveries.FAILED, dead):
                    return False
                await self._listener.dead_lettered(conn, record, dead[0], dead[1])
                return True

        async def alone() -> bool:
            async with self._store.transaction() as conn:
                return await settle_row(conn, deliveries.FAILED, dead)

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
