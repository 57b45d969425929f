"""The Zhangjiagang adapter: 国密 JSON, SM2-signed, SM4-encrypted under SM2 envelopes.

Contract: contracts/regions/zhangjiagang.md (MODELLED). Each request is sealed
under a fresh SM4 session key, sent in an SM2 envelope to the region's public key,
and signed with the gateway's SM2 key; the region's answers (under the same session
key) and pushed results (under a key enveloped to us) must carry the region's SM2
signature. ``retCode`` ``000000`` is success; ``3xxxxx`` codes and HTTP 5xx are
`RegionUnavailable`, other codes `RegionRejected`.

Without the gateway's SM2 key (``tongban keys generate --alg sm2`` and the key
passphrase) the adapter still starts, but every delivery is `RegionUnavailable`:
deliveries wait in the outbox until the key exists, and none is lost.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

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
    json_reply,
    require_case_no,
)
from adapters.http import retry_after
from adapters.json_fields import material, status_event, submission
from adapters.zhangjiagang import protocol
from adapters.zhangjiagang.settings import ZhangjiagangSettings
from gateway.envelope import (
    Envelope,
    RatingBody,
    RegionAck,
    StatusEvent,
    SubmissionBody,
    SupplementBody,
    WithdrawalBody,
)
from gateway.errors import (
    CallbackRejected,
    RegionRejected,
    RegionUnavailable,
)
from gateway.security.sm2 import SM2PrivateKey

log = structlog.get_logger(__name__)


class ZhangjiagangAdapter(AdapterBase):
    """Zhangjiagang's 国密 API (push region)."""

    def __init__(self, config: AdapterConfig, http: HttpClient) -> None:
        # A bad key fails start-up (the settings model loads it), not the first delivery.
        settings = config.settings_as(ZhangjiagangSettings)
        super().__init__(config, http, settings)
        self._app_id = settings.app_id
        self._region_key = settings.region_public_key()
        self._key = config.sm2_key
        if self._key is None:
            log.warning(
                "adapter.zhangjiagang.no_sm2_key",
                hint="`tongban keys generate --alg sm2` and set the key passphrase; "
                "deliveries wait until then",
            )

    def _signing_key(self) -> SM2PrivateKey:
        if self._key is None:
            raise RegionUnavailable(
                self.region, "the gateway has no SM2 key (tongban keys generate --alg sm2)"
            )
        return self._key

    async def submit(self, envelope: Envelope) -> RegionAck:
        body = envelope.body
        assert isinstance(body, SubmissionBody)  # noqa: S101 - the relay routes by kind
        return await self._call(
            envelope,
            {
                "bizSerialNo": envelope.idempotency_key,
                **submission(envelope, body),
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
        return {"url": self.base_url, "can_sign": self._key is not None}

    async def parse_callback(self, request: web.Request) -> list[StatusEvent]:
        """Check the pushed wrapper's SM2 signature and freshness, open it, map the status."""
        try:
            wrapper = callback_json(self.region, await request.read())
            if not isinstance(wrapper, dict):
                raise ValueError("the body is not a JSON object")
            if self._key is None:  # cannot open the envelope: refuse, the region retries
                raise ValueError("the gateway has no SM2 key to open the envelope")
            opened = await asyncio.to_thread(  # SM2: about 2 ms of C, off the event loop
                functools.partial(
                    protocol.open_sealed,
                    self._app_id,
                    wrapper,
                    sender=self._region_key,
                    recipient=self._key,
                )
            )
            data = opened.data
        except protocol.ProtocolError as exc:
            reason = {"100001": "signature", "100003": "stale"}.get(exc.code, "malformed")
            raise CallbackRejected(self.region, reason, str(exc)) from exc
        except (ValueError, AttributeError) as exc:
            raise CallbackRejected(self.region, "malformed", str(exc)) from exc
        try:
            return [status_event(self.region, data, data["status"], protocol.STATUS_CODES)]
        except (ValueError, KeyError, TypeError) as exc:
            raise CallbackRejected(self.region, "malformed", str(exc)) from exc

    def callback_reply(self, error: Exception | None = None) -> web.Response:
        if error is None:
            return json_reply({"retCode": protocol.OK, "retMsg": "成功"})
        return json_reply({"retCode": "100001", "retMsg": str(error)}, status=401)

    async def _call(
        self, envelope: Envelope, content: dict[str, Any], *, followup: bool = False
    ) -> RegionAck:
        if followup:
            content = {
                "bizSerialNo": envelope.idempotency_key,
                "caseNo": require_case_no(self.region, envelope),
                **content,
            }
        wrapper, session_key = await asyncio.to_thread(  # SM2 sign + envelope: ~2 ms of C
            functools.partial(
                protocol.seal,
                self._app_id,
                self._signing_key(),
                content,
                recipient=self._region_key,
            )
        )
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
            opened = await asyncio.to_thread(
                functools.partial(
                    protocol.open_sealed,
                    self._app_id,
                    answer,
                    sender=self._region_key,
                    session_key=session_key,
                    check_time=False,
                )
            )
            data = opened.data
            case_no = str(data["caseNo"])
        except (protocol.ProtocolError, KeyError, TypeError) as exc:
            # Cannot trust the answer; the same bizSerialNo makes a retry safe.
            raise RegionUnavailable(self.region, f"answer failed verification: {exc}") from exc
        return RegionAck(region_case_no=case_no, duplicate=bool(data.get("duplicate", False)))


def create(config: AdapterConfig, http: HttpClient) -> ZhangjiagangAdapter:
    """Entry point ``zhangjiagang`` of group ``tongban.adapters``."""
    return ZhangjiagangAdapter(config, http)
