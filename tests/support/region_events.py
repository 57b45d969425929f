"""A region's status event applied to an application as if Shenzhen had pushed it, for
tests of what happens after the region answers (without running the relay)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gateway.app_keys import APPLICATIONS, STORE
from gateway.applications.region_events import apply_status_event
from gateway.envelope import Status, StatusEvent
from support.partner_signing import SignedClient


def shenzhen_case_no(application_id: str) -> str:
    """The case number these events give the application at Shenzhen."""
    return f"SZ-{application_id[-6:]}"


async def region_says(
    client: SignedClient,
    application_id: str,
    status: Status,
    event_id: str,
    *,
    occurred_at: datetime | None = None,
    **extra: Any,
) -> None:
    """Apply Shenzhen's event `event_id` moving the application to `status`, in the
    gateway's own store; `extra` are further `StatusEvent` fields."""
    event = StatusEvent(
        event_id=event_id,
        region="shenzhen",
        region_case_no=shenzhen_case_no(application_id),
        application_id=application_id,
        status=status,
        occurred_at=occurred_at or datetime.now(UTC),
        **extra,
    )
    async with client.app[STORE].transaction() as conn:
        await apply_status_event(conn, event, journal=client.app[APPLICATIONS].journal)
