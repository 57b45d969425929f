"""Partner webhooks, send side: one status notice, POSTed signed to the partner's callback URL.

`PartnerWebhookClient` is the relay's client for one partner's lane
(destination ``partner:<id>``): the worker gives it ``status_notice`` envelopes
and settles the outcome like any delivery (retries, breaker, dead letter). The
request is JSON (`notice_payload`: no personal data) with ``Idempotency-Key``
(the same on every retry: the partner drops repeats), ``X-Request-ID`` and
``traceparent``, signed with the gateway's key (RFC 9421, ``Content-Digest``
per RFC 9530), which the partner checks against our published JWKS.

The partner's answer: 2xx is delivered; 408, 425, 429, 5xx, a timeout or a
dropped connection is `RegionUnavailable` (retried, ``Retry-After`` honoured);
any other status is `RegionRejected` (dead letter at once: retrying the same
notice cannot help).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.base import HttpClient, SignRequest, envelope_headers, json_bytes
from gateway.config import PartnerSettings
from gateway.envelope import Envelope, RegionAck, StatusNoticeBody
from gateway.errors import RegionRejected, RegionUnavailable
from gateway.http.client import retry_after
from gateway.outbox import partner_destination

_TRANSIENT_4XX = frozenset({408, 425, 429})

NOTICE_TYPE = "application.status_changed"


def notice_payload(envelope: Envelope) -> dict[str, Any]:
    """The JSON a partner receives for one status notice."""
    body = envelope.body
    if not isinstance(body, StatusNoticeBody):
        raise TypeError(f"not a status notice: {envelope.kind}")
    return {
        "type": NOTICE_TYPE,
        "notice_id": envelope.idempotency_key,
        "item_code": envelope.item_code,
        **body.model_dump(mode="json", exclude={"kind"}),
    }


class PartnerWebhookClient:
    """Sends status notices to one partner's `callback_url` over the shared client."""

    def __init__(
        self, destination: str, callback_url: str, http: HttpClient, signer: SignRequest
    ) -> None:
        self.destination = destination
        self._url = callback_url
        self._http = http
        self._signer = signer

    async def notify(self, envelope: Envelope) -> RegionAck | None:
        raw = json_bytes(notice_payload(envelope))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": envelope.idempotency_key,
            **envelope_headers(envelope),
        }
        headers.update(self._signer("POST", self._url, headers, raw))
        response = await self._http.request(
            "POST", self._url, region=self.destination, content=raw, headers=headers
        )
        status = response.status
        if 200 <= status < 300:
            return None
        if status >= 500 or status in _TRANSIENT_4XX:
            raise RegionUnavailable(
                self.destination, f"HTTP {status}", retry_after=retry_after(response.headers)
            )
        raise RegionRejected(self.destination, str(status), f"HTTP {status}", category="webhook")


def webhook_clients(
    partners: Mapping[str, PartnerSettings], http: HttpClient, signer: SignRequest
) -> dict[str, PartnerWebhookClient]:
    """A client per partner with a ``callback_url``, keyed by its destination."""
    return {
        partner_destination(partner_id): PartnerWebhookClient(
            partner_destination(partner_id), partner.callback_url, http, signer
        )
        for partner_id, partner in partners.items()
        if partner.callback_url
    }
