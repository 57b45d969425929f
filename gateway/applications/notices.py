"""Partner webhooks, write side: every status change queued for the partner that submitted.

`transitions.transition` is the one place an application's status changes; it
hands each change to `PartnerNotices.queue` on its own transaction, so the notice
is in the outbox exactly when the change commits, never without it. A notice goes
only to a partner (``submitted_by`` is ``partner:<id>``) that has a
``callback_url``; staff and other callers get none. It travels through the relay
like any delivery, to the destination ``partner:<id>`` (its own lane, breaker and
retries), in order per application, under the idempotency key
``<application id>:notice:<audit seq>``: the same on every retry, so the partner
can drop repeats.

Only transitions queue notices: other history events (an ignored region event, a
failed notice itself) do not, so a dead webhook cannot feed itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import structlog

from gateway.config import SecuritySettings
from gateway.envelope import Status, StatusNoticeBody
from gateway.outbox import enqueue, new_envelope, partner_destination
from gateway.security.pii import PiiCipher
from gateway.store import Connection, Row

PARTNER_PREFIX = "partner:"
NOTICE_KIND = "status_notice"

log = structlog.get_logger(__name__)


class PartnerNotices:
    """Queues status notices for the partners in `partners` (ids with a callback URL)."""

    def __init__(self, partners: Iterable[str], cipher: PiiCipher) -> None:
        self._partners = frozenset(partners)
        self._cipher = cipher

    @classmethod
    def from_settings(cls, security: SecuritySettings, cipher: PiiCipher) -> PartnerNotices:
        """For every configured partner with a ``callback_url``."""
        return cls((pid for pid, p in security.partners.items() if p.callback_url), cipher)

    @property
    def partners(self) -> frozenset[str]:
        return self._partners

    def recipient(self, application: Mapping[str, Any]) -> str | None:
        """The partner id to notify about `application`, or None."""
        submitted_by = str(application.get("submitted_by") or "")
        if not submitted_by.startswith(PARTNER_PREFIX):
            return None
        partner_id = submitted_by[len(PARTNER_PREFIX) :]
        return partner_id if partner_id in self._partners else None

    async def queue(
        self,
        conn: Connection,
        application: Row,
        *,
        previous: Status | None,
        status: Status,
        occurred_at: datetime,
        event_seq: int,
    ) -> str | None:
        """Queue the notice of one change on `conn`; return the delivery id, or None."""
        partner_id = self.recipient(application)
        if partner_id is None:
            return None
        body = StatusNoticeBody(
            application_id=str(application["id"]),
            status=status,
            previous_status=previous,
            occurred_at=occurred_at,
            region_case_no=application.get("region_case_no"),
            event_seq=event_seq,
        )
        request_id = structlog.contextvars.get_contextvars().get("request_id")
        envelope = new_envelope(
            application,
            body,
            request_id=str(request_id or application["request_id"]),
            idempotency_key=f"{application['id']}:notice:{event_seq}",
        )
        delivery_id = await enqueue(
            conn, envelope, cipher=self._cipher, destination=partner_destination(partner_id)
        )
        log.info("application.notice_queued", partner=partner_id, status=status.value)
        return delivery_id
