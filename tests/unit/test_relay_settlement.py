"""`classify`: what one attempt's outcome means for its delivery (pure, no store)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.envelope import Envelope, WithdrawalBody
from gateway.errors import RegionRejected, RegionUnavailable
from gateway.relay import deliveries
from gateway.relay.deliveries import DeliveryRecord
from gateway.relay.policy import RetryPolicy
from gateway.relay.settlement import Settlement, classify

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
ENVELOPE = Envelope(
    envelope_id="e1",
    idempotency_key="k1",
    application_id="a1",
    request_id="r1",
    item_code="SZ-0001",
    receiving_region="dongguan",
    competent_region="shenzhen",
    created_at=NOW,
    body=WithdrawalBody(reason="申请人撤回"),
)
POLICY = RetryPolicy(base_delay=timedelta(seconds=30), max_attempts=3, max_age=timedelta(days=1))


def record(*, attempts: int = 0, queued_at: datetime = NOW) -> DeliveryRecord:
    return DeliveryRecord(
        id="d1",
        application_id="a1",
        kind="submission",
        destination="shenzhen",
        idempotency_key="k1",
        envelope=ENVELOPE,
        state=deliveries.IN_FLIGHT,
        attempts=attempts,
        attempt_budget_base=0,
        queued_at=queued_at,
        next_attempt_at=None,
        region_case_no=None,
        last_error=None,
        dead_reason_zh=None,
    )


def test_an_answer_is_delivered() -> None:
    assert classify(record(), POLICY, None, NOW) == Settlement(deliveries.DELIVERED, "delivered")


def test_a_refusal_is_a_dead_letter_at_once_with_its_reason() -> None:
    settlement = classify(record(), POLICY, RegionRejected("shenzhen", "E1", "材料不全"), NOW)
    assert (settlement.state, settlement.outcome) == (deliveries.FAILED, "rejected")
    assert settlement.dead is not None
    assert settlement.next_attempt_at is None
    assert settlement.log_event == "relay.rejected"


def test_a_busy_region_is_tried_again_when_it_asks() -> None:
    busy = RegionUnavailable("shenzhen", "busy", retry_after=120)
    settlement = classify(record(), POLICY, busy, NOW)
    assert (settlement.state, settlement.outcome) == (deliveries.PENDING, "unavailable")
    assert settlement.next_attempt_at == NOW + timedelta(seconds=120)
    assert settlement.dead is None
    assert settlement.log_event == "relay.failed_attempt"


def test_our_own_error_is_retried_as_an_error() -> None:
    settlement = classify(record(), POLICY, ValueError("bug"), NOW)
    assert (settlement.state, settlement.outcome) == (deliveries.PENDING, "error")
    assert settlement.next_attempt_at is not None
    assert NOW <= settlement.next_attempt_at <= NOW + POLICY.base_delay


def test_the_last_attempt_of_the_budget_gives_up() -> None:
    busy = RegionUnavailable("shenzhen", "busy")
    settlement = classify(record(attempts=2), POLICY, busy, NOW)
    assert (settlement.state, settlement.outcome) == (deliveries.FAILED, "unavailable")
    assert settlement.dead is not None
    assert settlement.log_event == "relay.dead_lettered"
