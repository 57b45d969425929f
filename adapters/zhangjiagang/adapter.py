"""The Zhangjiagang adapter: 国密 JSON (SM4-encrypted data, HMAC-SM3), results pushed.

Contract: contracts/regions/zhangjiagang.md (MODELLED). ``retCode`` ``000000`` is
success and its answer must carry a valid MAC; ``3xxxxx`` codes and HTTP 5xx are
`RegionUnavailable`, other codes `RegionRejected`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

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
from adapters.json_fields import material, party
from adapters.zhangjiagang import protocol
from gateway.api.responses import json_response
from gateway.envelope import (
    Envelope,
    RatingBody,
    RegionAck,
    StatusEvent,
    SubmissionBody,
    SupplementBody,
    WithdrawalBody,
)
from gateway.errors import CallbackRejected, PluginError, RegionRejected, RegionUnavailable


class ZhangjiagangAdapter(AdapterBase):
    """Zhangjiagang's 国密 API (push region)."""

    def __init__(self, config: AdapterConfig, http: HttpClient) -> None:
        super().__init__(config, http)
        self._app_id = config.credential("app_id")
        self._sm4_key = config.credential("sm4_key")
        self._mac_key = config.credential("mac_key")
        try:  # a bad key fails start-up, not the first delivery
            protocol.seal(self._app_id, self._sm4_key, self._mac_key, {})
        except ValueError as exc:
            raise PluginError(f"adapter 'zhangjiagang': bad sm4_key or mac_key: {exc}") from exc

    async def submit(self, envelope: Envelope) -> RegionAck:
        body = envelope.body
        assert isinstance(body, SubmissionBody)  # noqa: S101 - the relay routes by kind
        return await self._call(
            envelope,
            {
                "bizSerialNo": envelope.idempotency_key,
                "applyNo": envelope.application_id,
                "itemCode": envelope.item_code,
                "taskCode": envelope.task_code,
                "receiveRegion": envelope.receiving_region,
                "handleMode": body.handling_mode,
                "channel": body.channel,
                "applicant": party(body.applicant),
                "agent": party(body.agent) if body.agent else None,
                "materials": [material(m) for m in body.materials],
                "form": body.form,
                "delivery": body.delivery.model_dump(),
                "supplementDeadline": body.supplement_deadline,
            },
        )

    async def send_supplement(self, envelope: Envelope) -> RegionAck:
        body = envelope.body
        assert isinstance(body, SupplementBody)  # noqa: S101 - the relay routes by kind
        return await self._call(
            envelope, {"materials": [material(m) for m in body.materials]}, followup=True
        )

    async def withdraw(self, envelope: Envelope) -> RegionAck:
        body = envelope.body
        assert isinstance(body, WithdrawalBody)  # noqa: S101 - the relay routes by kind
        return await self._call(envelope, {"reason": body.reason}, followup=True)

    async def send_rating(self, envelope: Envelope) -> RegionAck:
        body = envelope.body
        assert isinstance(body, RatingBody)  # noqa: S101 - the relay routes by kind
        content = {"level": body.level, "indicators": body.indicators, "comment": body.comment}
        return await self._call(envelope, content, followup=True)

    async def health(self) -> dict[str, Any]:
        response = await self._http.request(
            "GET",
            self._url(protocol.HEARTBEAT_PATH),
            region=self.region,
            timeout=self._config.health_timeout,
        )
        if response.status != 200:
            raise RegionUnavailable(self.region, f"heartbeat answered HTTP {response.status}")
        return {"url": self._config.base_url}

    async def parse_callback(self, request: web.Request) -> list[StatusEvent]:
        """Check the pushed wrapper's MAC and freshness, decrypt it, map the status."""
        try:
            wrapper = callback_json(self.region, await request.read())
            data = protocol.open_sealed(self._app_id, self._sm4_key, self._mac_key, wrapper)
        except protocol.ProtocolError as exc:
            reason = {"100001": "signature", "100003": "stale"}.get(exc.code, "malformed")
            raise CallbackRejected(self.region, reason, str(exc)) from exc
        except (ValueError, AttributeError) as exc:
            raise CallbackRejected(self.region, "malformed", str(exc)) from exc
        try:
            return [
                StatusEvent(
                    event_id=str(data["eventId"]),
                    region=self.region,
                    region_case_no=str(data["caseNo"]),
                    application_id=data.get("applyNo"),
                    status=protocol.STATUS_CODES[data["status"]],
                    occurred_at=datetime.fromisoformat(data["statusTime"]),
                    region_code=data["status"],
                    message=data.get("opinion"),
                    missing_materials=tuple(data.get("missingMaterials") or ()),
                    certificate_no=data.get("certNo"),
                )
            ]
        except (ValueError, KeyError, TypeError) as exc:
            raise CallbackRejected(self.region, "malformed", str(exc)) from exc

    def callback_reply(self, error: Exception | None = None) -> web.Response:
        if error is None:
            return json_response({"retCode": protocol.OK, "retMsg": "成功"})
        return json_response({"retCode": "100001", "retMsg": str(error)}, status=401)

    async def _call(
        self, envelope: Envelope, content: dict[str, Any], *, followup: bool = False
    ) -> RegionAck:
        if followup:
            content = {
                "bizSerialNo": envelope.idempotency_key,
                "caseNo": require_case_no(self.region, envelope),
                **content,
            }
        wrapper = protocol.seal(self._app_id, self._sm4_key, self._mac_key, content)
        headers = {"Content-Type": "application/json; charset=utf-8", **envelope_headers(envelope)}
        response = await self._http.request(
            "POST",
            self._url(protocol.PATHS[envelope.kind]),
            region=self.region,
            content=json_bytes(wrapper),
            headers=headers,
        )
        if response.status >= 500 or response.status == 429:
            raise RegionUnavailable(
                self.region, f"HTTP {response.status}", retry_after=retry_after(response.headers)
            )
        answer = json_object(self.region, response.body)
        code = str(answer.get("retCode", ""))
        message = str(answer.get("retMsg", ""))
        if code in protocol.TRANSIENT:
            raise RegionUnavailable(self.region, f"[{code}] {message}")
        if code != protocol.OK:
            raise RegionRejected(self.region, code or f"HTTP{response.status}", message)
        try:
            # Answers are checked for integrity, not freshness: they come on our own request.
            data = protocol.open_sealed(
                self._app_id, self._sm4_key, self._mac_key, answer, check_time=False
            )
            case_no = str(data["caseNo"])
        except (protocol.ProtocolError, KeyError, TypeError) as exc:
            # Cannot trust the answer; the same bizSerialNo makes a retry safe.
            raise RegionUnavailable(self.region, f"answer failed verification: {exc}") from exc
        return RegionAck(region_case_no=case_no, duplicate=bool(data.get("duplicate", False)))


def create(config: AdapterConfig, http: HttpClient) -> ZhangjiagangAdapter:
    """Entry point ``zhangjiagang`` of group ``tongban.adapters``."""
    return ZhangjiagangAdapter(config, http)
