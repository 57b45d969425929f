"""The peer adapter: another Tongban gateway, over its partner REST API (federation).

Contract: contracts/regions/peer.md. We are a partner of the peer, exactly as any
partner is: a submission becomes an ``ApplicationRequest`` to ``POST
/v1/applications``; the files it names are uploaded to ``POST /v1/attachments``
first, only those the peer reports missing (its 422 names each one); follow-ups go
to ``/v1/applications/{id}/supplements|withdrawal|rating``. Every request carries the
envelope's ``Idempotency-Key`` and is signed with this gateway's key (RFC 9421, the
`AdapterConfig.signer` the federation wiring gives); the peer's signed receipt comes
back in the `RegionAck`, checked against the peer's published keys. The peer's
status notices arrive at our callback, signed with its key, and are checked by
`AdapterConfig.verifier` against its JWKS.

Without a signer or verifier (a peer region configured under ``adapters`` only,
for the sandbox) requests go unsigned and notices are refused: nothing unverified
changes an application.
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
    HttpResponse,
    callback_json,
    envelope_headers,
    json_bytes,
    json_object,
    json_reply,
    require_case_no,
)
from adapters.http import retry_after
from adapters.peer.requests import application_request, followup_request, missing_attachments
from adapters.peer.settings import PeerSettings
from gateway.envelope import Envelope, RegionAck, Status, StatusEvent, SubmissionBody
from gateway.errors import (
    AdapterError,
    CallbackRejected,
    RegionRejected,
    RegionUnavailable,
    SignatureError,
)
from gateway.security.receipts import verify_receipt

log = structlog.get_logger("adapters.peer")

FOLLOWUP_PATHS = {"supplement": "supplements", "withdrawal": "withdrawal", "rating": "rating"}
# Statuses that a retry may get past: timeouts, too early, rate limits.
_TRANSIENT_4XX = frozenset({408, 425, 429})


class PeerAdapter(AdapterBase):
    """Another Tongban gateway (push region)."""

    def __init__(self, config: AdapterConfig, http: HttpClient) -> None:
        super().__init__(config, http, config.settings_as(PeerSettings))
        self._peer_jwks: dict[str, Any] | None = None
        if config.signer is None:
            log.warning("adapter.peer.unsigned", region=config.region)

    async def submit(self, envelope: Envelope) -> RegionAck:
        body = envelope.body
        if not isinstance(body, SubmissionBody):
            raise RegionRejected(self.region, "not_a_submission", f"{envelope.kind} to submit")
        content = application_request(self.region, envelope, body)
        response = await self._post_with_files(envelope, "/v1/applications", content)
        answer = self._accepted(response)
        case_no = answer.get("id")
        if not isinstance(case_no, str) or not case_no:
            raise RegionUnavailable(self.region, "answer without an application id")
        receipt = answer.get("receipt")
        if isinstance(receipt, dict) and self._config.signer is not None:
            await self._check_receipt(receipt, case_no)
        return RegionAck(
            region_case_no=case_no,
            duplicate=response.headers.get("Idempotent-Replayed") == "true",
            receipt=receipt if isinstance(receipt, dict) else None,
        )

    async def send_supplement(self, envelope: Envelope) -> RegionAck:
        return await self._followup(envelope)

    async def withdraw(self, envelope: Envelope) -> RegionAck:
        return await self._followup(envelope)

    async def send_rating(self, envelope: Envelope) -> RegionAck:
        return await self._followup(envelope)

    async def health(self) -> dict[str, Any]:
        response = await self._http.request(
            "GET", self._url("/healthz"), region=self.region, timeout=self._config.health_timeout
        )
        if response.status != 200:
            raise RegionUnavailable(self.region, f"/healthz answered HTTP {response.status}")
        return {"url": self.base_url}

    async def parse_callback(self, request: web.Request) -> list[StatusEvent]:
        """A status notice from the peer (``application.status_changed``, one per request)."""
        raw = await request.read()
        verifier = self._config.verifier
        if verifier is None:
            raise CallbackRejected(self.region, "signature", "no key to verify this peer with")
        if not await verifier(request, raw):
            raise CallbackRejected(self.region, "signature", "message signature invalid")
        try:
            data = callback_json(self.region, raw)
            return [
                StatusEvent(
                    event_id=str(data["notice_id"]),
                    region=self.region,
                    region_case_no=str(data["application_id"]),
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
        return json_reply(
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
        case_no = require_case_no(self.region, envelope)
        path = f"/v1/applications/{quote(case_no, safe='')}/{FOLLOWUP_PATHS[envelope.kind]}"
        response = await self._post_with_files(envelope, path, followup_request(envelope))
        self._accepted(response)
        return RegionAck(
            region_case_no=case_no,
            duplicate=response.headers.get("Idempotent-Replayed") == "true",
        )

    async def _check_receipt(self, receipt: dict[str, Any], case_no: str) -> None:
        """Verify the peer's receipt with its published keys (fetched again once for a
        key it rotated in). A receipt that does not verify is kept all the same (the
        peer has the application) and logged as an error: the proof is the peer's to fix.
        """
        for fresh in (False, True):
            try:
                if fresh or self._peer_jwks is None:
                    response = await self._http.request(
                        "GET", self._url("/.well-known/tongban/keys"), region=self.region
                    )
                    self._peer_jwks = json_object(self.region, response.body)
                verify_receipt(receipt, self._peer_jwks)
            except AdapterError as exc:
                log.error("adapter.peer.receipt_unchecked", region=self.region, error=str(exc))
                return
            except SignatureError as exc:
                if exc.check == "key_unknown" and not fresh:
                    continue
                log.error(
                    "adapter.peer.receipt_unverified",
                    region=self.region,
                    case_no=case_no,
                    check=exc.check,
                )
                return
            return

    async def _post_with_files(
        self, envelope: Envelope, path: str, content: dict[str, Any]
    ) -> HttpResponse:
        """POST `content`; if the peer names files it lacks, upload those, POST again.

        Only the missing files travel; the second POST has the same Idempotency-Key
        (a 422 is not kept under it).
        """
        response = await self._post(envelope, path, content)
        missing = missing_attachments(response, content)
        if not missing:
            return response
        for digest in missing:
            await self._upload(envelope, digest)
        return await self._post(envelope, path, content)

    async def _upload(self, envelope: Envelope, digest: str) -> None:
        source = self._config.attachments
        found = await source(digest) if source is not None else None
        if found is None:
            raise RegionRejected(self.region, "attachment_lost", f"file {digest} is not stored")
        data, media_type = found
        response = await self._signed_post(
            "/v1/attachments",
            data,
            {
                "Content-Type": media_type,
                "Idempotency-Key": f"attachment:{digest}",
                **envelope_headers(envelope),
            },
        )
        answer = self._accepted(response)
        stored = answer.get("digest")
        if stored != digest:
            raise RegionRejected(
                self.region, "attachment_digest", f"the peer stored {digest} as {stored}"
            )
        log.info("adapter.peer.file_uploaded", region=self.region, digest=digest)

    async def _post(self, envelope: Envelope, path: str, content: dict[str, Any]) -> HttpResponse:
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": envelope.idempotency_key,
            **envelope_headers(envelope),
        }
        return await self._signed_post(path, json_bytes(content), headers)

    async def _signed_post(self, path: str, raw: bytes, headers: dict[str, str]) -> HttpResponse:
        url = self._url(path)
        if self._config.signer is not None:
            headers.update(self._config.signer("POST", url, headers, raw))
        return await self._http.request(
            "POST", url, region=self.region, content=raw, headers=headers
        )

    def _accepted(self, response: HttpResponse) -> dict[str, Any]:
        """The 2xx answer's JSON; `RegionUnavailable` or `RegionRejected` otherwise."""
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
            errors = answer.get("errors")
            if isinstance(errors, list) and errors:
                detail += " " + "; ".join(
                    f"{e.get('field')}: {e.get('code') or e.get('message')}"
                    for e in errors
                    if isinstance(e, dict)
                )
            if response.status == 401:
                # Most often configuration: the peer does not (yet) know us as a peer.
                detail += (
                    f" [the peer at {self.base_url} refused our signature "
                    f"(check {answer.get('check')}): on its side, is this gateway configured "
                    "under [federation.peers], with a JWKS URL that reaches us?]"
                )
            raise RegionRejected(self.region, code, detail.strip())
        return answer


def create(config: AdapterConfig, http: HttpClient) -> PeerAdapter:
    """Entry point ``peer`` of group ``tongban.adapters``."""
    return PeerAdapter(config, http)


__all__ = ["PeerAdapter", "create"]
