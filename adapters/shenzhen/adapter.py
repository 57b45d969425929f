"""The Shenzhen adapter: JSON open platform, HMAC-SHA256 signed, results pushed to us.

Contract: contracts/regions/shenzhen.md (MODELLED). Every call is a signed POST whose
answer is HTTP 200 with a business ``code``; ``0000`` is success, codes in
`protocol.TRANSIENT` and HTTP 5xx are `RegionUnavailable`, the rest `RegionRejected`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from adapters.base import (
    AdapterBase,
    AdapterConfig,
    HttpClient,
    callback_json,
    envelope_headers,
    json_bytes,
    json_object,
    json_reply,
    require_case_no,
)
from adapters.http import retry_after
from adapters.json_fields import material, status_event, submission
from adapters.shenzhen import protocol
from adapters.shenzhen.settings import ShenzhenSettings
from gateway.envelope import (
    Envelope,
    RatingBody,
    RegionAck,
    StatusEvent,
    SubmissionBody,
    SupplementBody,
    WithdrawalBody,
)
from gateway.errors import CallbackRejected, RegionRejected, RegionUnavailable


class ShenzhenAdapter(AdapterBase):
    """Shenzhen's open platform (push region)."""

    def __init__(self, config: AdapterConfig, http: HttpClient) -> None:
        settings = config.settings_as(ShenzhenSettings)
        super().__init__(config, http, settings)
        self._app_id = settings.app_id
        self._secret = settings.app_secret.get_secret_value()

    async def submit(self, envelope: Envelope) -> RegionAck:
        body = envelope.body
        assert isinstance(body, SubmissionBody)  # noqa: S101 - the relay routes by kind
        content = {
            "outBizNo": envelope.idempotency_key,
            **submission(envelope, body),
            "notifyUrl": self._config.callback_url,
        }
        return await self._call(envelope, content)

    async def send_supplement(self, envelope: Envelope) -> RegionAck:
        body = envelope.body
        assert isinstance(body, SupplementBody)  # noqa: S101 - the relay routes by kind
        content = {
            "outBizNo": envelope.idempotency_key,
            "caseNo": require_case_no(self.region, envelope),
            "materials": [material(m) for m in body.materials],
        }
        return await self._call(envelope, content)

    async def withdraw(self, envelope: Envelope) -> RegionAck:
        body = envelope.body
        assert isinstance(body, WithdrawalBody)  # noqa: S101 - the relay routes by kind
        content = {
            "outBizNo": envelope.idempotency_key,
            "caseNo": require_case_no(self.region, envelope),
            "reason": body.reason,
        }
        return await self._call(envelope, content)

    async def send_rating(self, envelope: Envelope) -> RegionAck:
        body = envelope.body
        assert isinstance(body, RatingBody)  # noqa: S101 - the relay routes by kind
        content = {
            "outBizNo": envelope.idempotency_key,
            "caseNo": require_case_no(self.region, envelope),
            "level": body.level,
            "indicators": body.indicators,
            "comment": body.comment,
        }
        return await self._call(envelope, content)

    async def health(self) -> dict[str, Any]:
        response = await self._http.request(
            "GET",
            self._url(protocol.PING_PATH),
            region=self.region,
            timeout=self._config.health_timeout,
        )
        if response.status != 200:
            raise RegionUnavailable(self.region, f"ping answered HTTP {response.status}")
        return {"url": self.base_url}

    async def parse_callback(self, request: web.Request) -> list[StatusEvent]:
        """Verify the pushed result's sign (same scheme as our requests) and map it."""
        raw = await request.read()
        reason = protocol.verify(self._app_id, self._secret, request.query, raw)
        if reason is not None:
            raise CallbackRejected(self.region, "signature", protocol.ERRORS[reason])
        try:
            data = callback_json(self.region, raw)
            return [status_event(self.region, data, data["statusCode"], protocol.STATUS_CODES)]
        except (ValueError, KeyError, TypeError) as exc:
            raise CallbackRejected(self.region, "malformed", str(exc)) from exc

    def callback_reply(self, error: Exception | None = None) -> web.Response:
        if error is None:
            return json_reply({"code": protocol.OK, "msg": "success"})
        return json_reply({"code": "1001", "msg": str(error)}, status=401)

    async def _call(self, envelope: Envelope, content: dict[str, Any]) -> RegionAck:
        raw = json_bytes(content)
        params = protocol.signed_params(self._app_id, self._secret, raw)
        url = f"{self._url(protocol.PATHS[envelope.kind])}?{urlencode(params)}"
        headers = {"Content-Type": "application/json; charset=utf-8", **envelope_headers(envelope)}
        response = await self._http.request(
            "POST", url, region=self.region, content=raw, headers=headers
        )
        if response.status >= 500 or response.status == 429:
            raise RegionUnavailable(
                self.region, f"HTTP {response.status}", retry_after=retry_after(response.headers)
            )
        answer = json_object(self.region, response.body)
        code = str(answer.get("code", ""))
        message = str(answer.get("msg", ""))
        if code == protocol.OK:
            data = answer.get("data") or {}
            case_no = data.get("caseNo") or envelope.region_case_no
            if not case_no:
                raise RegionUnavailable(self.region, "success without caseNo")
            return RegionAck(
                region_case_no=str(case_no),
                received_at=data.get("acceptTime"),
                duplicate=bool(data.get("duplicate", False)),
            )
        if code in protocol.TRANSIENT:
            wait = answer.get("retryAfter")
            raise RegionUnavailable(
                self.region,
                f"[{code}] {message}",
                retry_after=float(wait) if isinstance(wait, int | float) else None,
            )
        category = protocol.REJECTION_CATEGORIES.get(code)
        raise RegionRejected(
            self.region, code or f"HTTP{response.status}", message, category=category
        )


def create(config: AdapterConfig, http: HttpClient) -> ShenzhenAdapter:
    """Entry point ``shenzhen`` of group ``tongban.adapters``."""
    return ShenzhenAdapter(config, http)
