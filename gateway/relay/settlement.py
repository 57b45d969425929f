"""Settling one attempt: what its outcome means (`classify`, pure) and writing it down.

`classify` turns the region's answer (or the error instead of one) into the
delivery's next state: delivered; a dead letter at once for a refusal
(`RegionRejected`); otherwise due again when the lane's `RetryPolicy` says, or a
dead letter when the policy gives up. `write_settlement` records that and the
attempt row on the caller's transaction; the worker tells its listener after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.envelope import RegionAck
from gateway.errors import RegionRejected, RegionUnavailable
from gateway.jsonio import dumps
from gateway.relay import deliveries
from gateway.relay.deliveries import DeliveryRecord
from gateway.relay.policy import RetryPolicy
from gateway.relay.reasons import exhausted_reason, rejected_reason
from gateway.store import Connection


@dataclass
class Hops:
    """Per-hop times of one attempt's last in-call try, and how many tries it made."""

    calls: int = 0
    sent_at: datetime | None = None
    received_at: datetime | None = None


@dataclass(frozen=True)
class Attempt:
    """What one attempt brought back, and when."""

    ack: RegionAck | None
    error: Exception | None
    hops: Hops
    started_at: datetime
    ended_at: datetime
    duration_ms: float


@dataclass(frozen=True)
class Settlement:
    """The delivery's state after an attempt.

    `outcome` is the attempt's (``delivered``, ``rejected``, ``unavailable``,
    ``error``); `dead` is the dead letter's (Chinese reason, detail) when `state`
    is failed.
    """

    state: str
    outcome: str
    next_attempt_at: datetime | None = None
    dead: tuple[str, str] | None = None

    @property
    def log_event(self) -> str:
        """The event name of the attempt's log line."""
        if self.state == deliveries.FAILED and self.outcome != "rejected":
            return "relay.dead_lettered"
        return {"delivered": "relay.delivered", "rejected": "relay.rejected"}.get(
            self.outcome, "relay.failed_attempt"
        )


def classify(
    record: DeliveryRecord, policy: RetryPolicy, error: Exception | None, now: datetime
) -> Settlement:
    """What an attempt of `record` that ended at `now` with `error` (None: delivered) means."""
    if error is None:
        return Settlement(deliveries.DELIVERED, "delivered")
    if isinstance(error, RegionRejected):
        return Settlement(deliveries.FAILED, "rejected", dead=rejected_reason(error))
    retry_after = getattr(error, "retry_after", None)
    decision = policy.after_failure(
        attempts=record.budget_attempts + 1,
        first_queued_at=record.queued_at,
        now=now,
        retry_after=timedelta(seconds=retry_after) if retry_after else None,
    )
    outcome = "unavailable" if isinstance(error, RegionUnavailable) else "error"
    if decision.gives_up:
        dead = exhausted_reason(error, decision.give_up_reason or "gave up")
        return Settlement(deliveries.FAILED, outcome, dead=dead)
    return Settlement(deliveries.PENDING, outcome, next_attempt_at=decision.retry_at)


async def write_settlement(
    conn: Connection,
    record: DeliveryRecord,
    settlement: Settlement,
    attempt: Attempt,
    *,
    instance: str,
) -> bool:
    """Settle `record` as `settlement` and record `attempt`; False if the claim is no
    longer ours (its lease lapsed and another instance took it): nothing is written."""
    error, hops, dead = attempt.error, attempt.hops, settlement.dead
    ours = await deliveries.settle(
        conn,
        record,
        owner=instance,
        now=attempt.ended_at,
        state=settlement.state,
        next_attempt_at=settlement.next_attempt_at,
        region_case_no=attempt.ack.region_case_no if attempt.ack else None,
        hand_over_receipt=(
            dumps(attempt.ack.receipt) if attempt.ack and attempt.ack.receipt else None
        ),
        last_error=None if error is None else f"{type(error).__name__}: {error}",
        dead_reason_zh=dead[0] if dead else None,
        dead_detail=dead[1] if dead else None,
    )
    if not ours:
        return False
    await deliveries.record_attempt(
        conn,
        delivery_id=record.id,
        attempt=record.attempts + 1,
        instance=instance,
        started_at=deliveries.to_db(attempt.started_at),
        ended_at=deliveries.to_db(attempt.ended_at),
        duration_ms=round(attempt.duration_ms, 3),
        outcome=settlement.outcome,
        error_class=None if error is None else type(error).__name__,
        region_code=getattr(error, "code", None),
        http_status=getattr(error, "http_status", None),
        detail=None if error is None else str(error)[:500],
        request_sent_at=deliveries.to_db(hops.sent_at) if hops.sent_at else None,
        response_received_at=deliveries.to_db(hops.received_at) if hops.received_at else None,
        calls=hops.calls,
    )
    return True
