"""The peer adapter: another Tongban gateway, over our own partner REST API.

Contract: contracts/regions/peer.md. Federation of equals: we submit to the peer's
``POST /v1/applications`` exactly as any partner would, and the peer pushes status
webhooks to our callback. Request signing (RFC 9421) is the ``signer`` seam of
`AdapterConfig`, filled by the security layer; without it requests go unsigned and
webhooks are accepted unverified, each logged as such. No signing is faked here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

import structlog
from aiohttp import web

from adapters.base import (
    AdapterBase,
    AdapterConfig,
    HttpClient,
    callback_json,
    envelope_headers,
    json_bytes,
    json_object,
    require_case_no,
)
from adapters.http import retry_after
from gateway.applications.status import Status
from gateway.envelope import Envelope, RegionAck, StatusEvent
from gateway.errors import CallbackRejected, RegionRejected, RegionUnavailable
from gateway.http.responses import json_response

log = structlog.get_logger("adapters.peer")

FOLLOWUP_PATHS = {"supplement": "supplements", "withdrawal": "withdrawal", "rating": "rating"}
# Statuses that a retry may get past: timeouts, too early, rate limits.
_TRANSIENT_4XX = frozenset({408, 425, 429})


class PeerAdapter(AdapterBase):
    """Another Tongban gateway (push region)."""

    def __init__(self, config: AdapterConfig, http: HttpClient) -> None:
        super().__init__(config, http)
        if config.signer is None:
            log.warning("adapter.peer.unsigned", region=config.region)

    async def submit(self, envelope: Envelope) -> RegionAck:
        return await self._post(envelope, "/v1/applications", envelope.model_dump(mode="json"))

    async def send_supplement(self, envelope: Envelope) -> RegionAck:
        return await self._followup(envelope)

    async def withdraw(self, envelope: Envelope) -> RegionAck:
        return await self._followup(envelope)

    async def send_rating(self, envelope: Envelope) -> RegionAck:
        return await self._followup(envelope)

    async def health(self) -> dict[str, Any]:
        response = await self._http.request(
            "GET", self._url("/readyz"), region=self.region, timeout=self._config.health_timeout
        )
        if response.status != 200:
            raise RegionUnavailable(self.region, f"/readyz answered HTTP {response.status}")
        return {"url": self._config.base_url}

    async def parse_callback(self, request: web.Request) -> list[StatusEvent]:
        """A status webhook from the peer (one event per request)."""
        raw = await request.read()
        verifier = self._config.verifier
        if verifier is not None:
            if not await verifier(request, raw):
                raise CallbackRejected(self.region, "signature", "message signature invalid")
        else:
            log.warning("adapter.peer.callback_unverified", region=self.region)
        try:
            data = callback_json(self.region, raw)
            return [
                StatusEvent(
                    event_id=str(data["event_id"]),
                    region=self.region,
                    region_case_no=str(data["application_id"]),
                    application_id=data.get("partner_reference"),
                    status=Status(data["status"]),
                    occurred_at=datetime.fromisoformat(data["occurred_at"]),
                    region_code=data["status"],
                    message=data.get("message"),
                    missing_materials=tuple(data.get("missing_materials") or ()),
                    supplement_deadline=data.get("supplement_deadline"),
                    certificate_no=data.get("certificate_no"),
                    mail_tracking_no=data.get("mail_tracking_no"),
                )
            ]
        except (ValueError, KeyError, TypeError) as exc:
            raise CallbackRejected(self.region, "malformed", str(exc)) from exc

    def callback_reply(self, error: Exception | None = None) -> web.Response:
        if error is None:
            return web.Response(status=204)
        return json_response(
            {
                "type": "about:blank",
                "title": "Callback refused",
                "status": 401,
                "detail": str(error),
            },
            status=401,
            content_type="application/problem+json",
        )

    async def _followup(self, envelope: Envelope) -> RegionAck:
        case_no = quote(require_case_no(self.region, envelope), safe="")
        path = f"/v1/applications/{case_no}/{FOLLOWUP_PATHS[envelope.kind]}"
        content = envelope.body.model_dump(mode="json", exclude={"kind"})
        return await self._post(envelope, path, content)

    async def _post(self, envelope: Envelope, path: str, content: dict[str, Any]) -> RegionAck:
        raw = json_bytes(content)
        url = self._url(path)
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": envelope.idempotency_key,
            **envelope_headers(envelope),
        }
        if self._config.signer is not None:
            headers.update(await self._config.signer("POST", url, headers, raw))
        response = await self._http.request(
            "POST", url, region=self.region, content=raw, headers=headers
        )
        if response.status >= 500 or response.status in _TRANSIENT_4XX:
            raise RegionUnavailable(
                self.region, f"HTTP {response.status}", retry_after=retry_after(response.headers)
            )
        answer = json_object(self.region, response.body)
        if response.status >= 400:
            problem_type = str(answer.get("type", ""))
            code = problem_type.rstrip("/").rsplit("/", 1)[-1] or str(response.status)
            if code == "about:blank":
                code = str(response.status)
            detail = str(answer.get("detail") or answer.get("title") or "")
            raise RegionRejected(self.region, code, detail)
        case_no = answer.get("id") or envelope.region_case_no
        if not case_no:
            raise RegionUnavailable(self.region, "answer without an application id")
        return RegionAck(
            region_case_no=str(case_no),
            duplicate=response.headers.get("Idempotent-Replayed") == "true",
        )


def create(config: AdapterConfig, http: HttpClient) -> PeerAdapter:
    """Entry point ``peer`` of group ``tongban.adapters``."""
    return PeerAdapter(config, http)
