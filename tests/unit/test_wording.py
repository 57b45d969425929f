"""Counts in English text read as people write them: 1 problem, 2 problems."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.errors import CatalogError, CatalogProblem
from gateway.relay.policy import RetryPolicy
from gateway.wording import counted


def test_counted_is_singular_for_one_only() -> None:
    assert counted(1, "problem") == "1 problem"
    assert counted(0, "problem") == "0 problems"
    assert counted(2, "entry", "entries") == "2 entries"
    assert counted(1000, "entry", "entries") == "1,000 entries"


def test_one_catalogue_problem_is_not_problems() -> None:
    error = CatalogError([CatalogProblem("shenzhen.yaml", "bad", line=3)])
    assert str(error).startswith("invalid catalogue (1 problem):")


def test_giving_up_after_one_attempt_is_not_attempts() -> None:
    now = datetime.now(UTC)
    decision = RetryPolicy(max_attempts=1).after_failure(attempts=1, first_queued_at=now, now=now)
    assert decision.give_up_reason == "gave up after 1 attempt"
